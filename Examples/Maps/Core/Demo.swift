import ArgumentParser
import Foundation
import Pix2Pix

/// `maps` / `maps demo`: the whole pipeline in one command on built-in synthetic data.
public struct Demo: ParsableCommand {
    public static let configuration = CommandConfiguration(
        abstract:
            "The whole pipeline on synthetic data: synthesize, train a small pix2pix, evaluate, report (default).",
        discussion: """
            Trains a smaller configuration than the paper's so it finishes in minutes on 2 cores: \
            128×128 images, U-Net depth 7 (unet_128) with 32 base filters, a 3-layer (70×70) \
            PatchGAN with 32 filters, λ = 100, Adam 2e-4/0.5, batch 1.
            """)

    @Option(name: .shortAndLong, help: "Folder for the dataset and the run.")
    var output: String = "maps-demo"
    @Option(name: .shortAndLong, help: "Use this dataset instead of synthesizing one.")
    var data: String?
    @Option(help: "Training steps.")
    var steps: Int = 1500
    @Option(
        name: .customLong("image-size"),
        help: "Training image side, a multiple of 128 (default: \(Self.defaults.imageSize)).")
    var imageSize: Int?
    @Option(help: "Training pairs to synthesize.")
    var count: Int = 100
    @Option(help: "Random seed for weights, dropout and shuffling (default: \(Self.defaults.seed)).")
    var seed: UInt64?
    @Option(help: "Matrix products (as `maps train --precision`; default: fp32).")
    var precision: PrecisionOption?

    /// The demo's run, smaller than the paper's (see the discussion above).
    private static let defaults = RunOptions(
        data: "", imageSize: 128, depth: 7, ngf: 32, ndf: 32, discriminatorLayers: 3, epochs: 1000)

    public init() {}

    public func validate() throws {
        guard steps > 0 else { throw ValidationError("--steps must be positive, not \(steps)") }
        if let imageSize, imageSize <= 0 || imageSize % Self.defaults.sizeMultiple != 0 {
            throw ValidationError(
                "--image-size \(imageSize) must be a positive multiple of \(Self.defaults.sizeMultiple) (the demo's U-Net of depth \(Self.defaults.depth))"
            )
        }
    }

    public func run() throws {
        if let ranks = ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"].flatMap(Int.init), ranks > 1 {
            throw MapsError(
                "maps demo runs in one process (every rank would write the same dataset); under mpirun use maps train")
        }
        let root = URL(fileURLWithPath: output)
        let start = Date()
        let run = RunDirectory(url: root.appendingPathComponent("run"))
        // Rerunning continues the run: with its own options, --steps and --precision changed,
        // --data, --image-size and --seed refused if they differ.
        let given = ExplicitRunOptions(
            data: data, imageSize: imageSize, seed: seed, steps: steps, precision: precision)
        let resuming = FileManager.default.fileExists(atPath: run.checkpoint.path)
        // Before the dataset is written: a run that cannot fit leaves nothing behind.
        let memory =
            resuming ? nil : try checkTrainingMemory(given.newRun(defaults: Self.defaults), command: "maps demo")
        let dataPath: String
        if let data {
            dataPath = data
        } else {
            let folder = root.appendingPathComponent("data")
            if FileManager.default.fileExists(atPath: folder.appendingPathComponent("train").path) {
                say("using the synthetic dataset already in \(folder.path)")
            } else {
                try synthesizeDataset(at: folder, train: count, validation: 12, seed: 1, tileSize: 600)
            }
            dataPath = folder.path
        }
        if resuming {
            try train(run: run, resuming: given)
        } else {
            var options = given.newRun(defaults: Self.defaults)
            options.data = dataPath
            options.sampleEvery = Swift.max(steps / 10, 1)
            options.checkpointEvery = Swift.max(steps / 5, 1)
            try train(run: run, options: options, memoryChecked: memory)
        }
        let report = try evaluate(run: run, data: dataPath, limit: nil, mode: .paper)
        say("\n" + report.table)
        say(
            String(
                format: "\ndemo finished in %@. Open %@", ProgressBar.duration(Date().timeIntervalSince(start)),
                run.report.path))
    }
}
