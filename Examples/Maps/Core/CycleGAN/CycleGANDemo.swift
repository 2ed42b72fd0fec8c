import ArgumentParser
import Foundation

/// `maps cyclegan` / `maps cyclegan demo`: the CycleGAN pipeline on built-in synthetic data.
public struct CycleGANDemo: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract:
            "Synthesize, split into unpaired domains, train a small CycleGAN, evaluate both ways, report (default).",
        discussion: """
            Smaller than junyanz's so it finishes in minutes on 2 cores: 64×64 tiles, resnet_9blocks \
            with 32 base filters, 70×70-style PatchGANs with 32, the recipe otherwise his (LSGAN, \
            cycle 10, identity 0.5, pools of 50, Adam 2e-4/0.5), \(Self.defaults.epochs) epochs at \
            the full rate then \(Self.defaults.decayEpochs) decaying. Rerunning continues the run.
            """)

    @Option(name: .shortAndLong, help: "Folder for the datasets and the run.")
    var output: String = "maps-cyclegan-demo"
    @Option(
        name: .shortAndLong,
        help: "Use this unpaired dataset (trainA/, trainB/, testA/, testB/) instead of synthesizing one.")
    var data: String?
    @Option(help: "Stop after this many steps (default: all epochs).")
    var steps: Int?
    @Option(help: "Training pairs to synthesize (half give trainA's tiles, half trainB's).")
    var count: Int = 100
    @Option(name: .customLong("test-count"), help: "Aligned test pairs to synthesize.")
    var testCount: Int = 24
    @Option(help: "Random seed for weights, shuffling, jitter and pools (default: \(Self.defaults.seed)).")
    var seed: UInt64?
    @Option(help: "Background threads loading batches (default 1).")
    var workers = 1

    /// The demo's run (see the discussion above).
    static let defaults = CycleGANRunOptions(
        data: "", imageSize: 64, ngf: 32, ndf: 32, epochs: 10, decayEpochs: 10, sampleEvery: 100, checkpointEvery: 250)

    public init() {}

    public func validate() throws {
        if let steps, steps <= 0 { throw ValidationError("--steps must be positive, not \(steps)") }
        guard count >= 2, testCount >= 1 else { throw ValidationError("--count must be ≥ 2 and --test-count ≥ 1") }
    }

    public func run() throws {
        let root = URL(fileURLWithPath: output)
        let start = Date()
        let run = CycleGANRunDirectory(url: root.appendingPathComponent("run"))
        let dataPath: String
        if let data {
            dataPath = data
        } else {
            let unpaired = root.appendingPathComponent("unpaired")
            if FileManager.default.fileExists(atPath: unpaired.appendingPathComponent("trainB").path) {
                say("using the unpaired dataset already in \(unpaired.path)")
            } else {
                let paired = root.appendingPathComponent("paired")
                if !FileManager.default.fileExists(atPath: paired.appendingPathComponent("train").path) {
                    try synthesizeDataset(at: paired, train: count, validation: testCount, seed: 1, tileSize: 600)
                }
                try splitUnpaired(from: paired, to: unpaired, imageSize: Self.defaults.imageSize)
            }
            dataPath = unpaired.path
        }
        if FileManager.default.fileExists(atPath: run.checkpoint.path) {
            let saved = try run.loadOptions()
            var given = saved
            given.data = dataPath
            if let seed { given.seed = seed }
            if let steps { given.steps = steps }
            let (options, changes) = try resumedOptions(saved, given: given, file: run.options)
            try trainCycleGAN(run: run, options: options, resumingWith: changes, workers: workers)
        } else {
            var options = Self.defaults
            options.data = dataPath
            if let seed { options.seed = seed }
            options.steps = steps
            try trainCycleGAN(run: run, options: options, workers: workers)
        }
        let evaluation = try evaluateCycleGAN(run: run, data: nil, limit: nil)
        say("\n" + evaluation.table)
        say(
            String(
                format: "\ndemo finished in %@. Open %@", ProgressBar.duration(Date().timeIntervalSince(start)),
                run.report.path))
    }
}
