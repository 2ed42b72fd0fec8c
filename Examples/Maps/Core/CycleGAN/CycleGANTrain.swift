import ArgumentParser
import CycleGAN
import DeepLearning
import Foundation
import Imaging
import Pix2Pix
import TensorBoard

/// `maps cyclegan train`: trains CycleGAN and keeps RUN_DIR up to date (checkpoints, samples,
/// losses, report, TensorBoard log).
public struct CycleGANTrain: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "train",
        abstract:
            "Train CycleGAN on an unpaired dataset (trainA/, trainB/); writes checkpoints, samples and index.html.",
        discussion: """
            junyanz's recipe: ResNet generators G_A: A → B and G_B: B → A (instance norm, no \
            dropout), 70×70 PatchGANs D_A and D_B, LSGAN, cycle loss λ_A = λ_B = 10, identity 0.5, \
            image pools of 50, Adam 2e-4/0.5 (one over both generators, one over both \
            discriminators), the rate constant for --epochs then decaying linearly to 0 over \
            --decay-epochs. One process: the data-parallel path (mpirun) is pix2pix's only.
            """)

    @Option(name: .shortAndLong, help: "Unpaired dataset folder (trainA/, trainB/; testA/, testB/ for the metrics).")
    var data: String?
    @Option(name: .shortAndLong, help: "Run folder to write (or to continue with --resume).")
    var output: String
    @Flag(
        help:
            "Continue the run in --output from its last checkpoint with its own options; of those given, --epochs, --decay-epochs, --steps, --sample-every and --checkpoint-every change, the others must equal the run's."
    )
    var resume = false
    @Option(
        name: .customLong("from-pytorch"),
        help:
            "Start from a junyanz run folder's latest_net_G_A.pth and latest_net_G_B.pth (and latest_net_D_A/D_B.pth when present); the architecture is read from the files."
    )
    var fromPyTorch: String?
    @Option(help: "Epochs at the full learning rate (default: \(Self.defaults.epochs), junyanz's n_epochs).")
    var epochs: Int?
    @Option(
        name: .customLong("decay-epochs"),
        help: "Further epochs decaying the rate linearly to 0 (default: \(Self.defaults.decayEpochs), n_epochs_decay).")
    var decayEpochs: Int?
    @Option(help: "Stop after this many steps in total (default: all epochs).")
    var steps: Int?
    @Option(name: .customLong("image-size"), help: "Side of the training crops (default: \(Self.defaults.imageSize)).")
    var imageSize: Int?
    @Flag(
        name: .customLong("no-jitter"),
        help: "Resize to --image-size instead of junyanz's resize to 286/256 of it, random crop and random mirror.")
    var noJitter = false
    @Flag(
        name: .customLong("serial-batches"),
        help: "Take B image i mod |B| with A image i, in order, instead of a random B and a shuffled epoch.")
    var serialBatches = false
    @Option(help: "Random seed for weights, shuffling, jitter and the pools (default: \(Self.defaults.seed)).")
    var seed: UInt64?
    @Option(
        help:
            "Residual blocks of the ResNet generators (default: \(Self.defaults.blocks) = resnet_9blocks; 6 = resnet_6blocks)."
    )
    var blocks: Int?
    @Option(help: "Generator base filters (default: \(Self.defaults.ngf)).")
    var ngf: Int?
    @Option(help: "Discriminator base filters (default: \(Self.defaults.ndf)).")
    var ndf: Int?
    @Option(
        name: .customLong("disc-layers"),
        help: "Stride-2 layers of the PatchGANs (default: \(Self.defaults.discriminatorLayers) = 70×70).")
    var discriminatorLayers: Int?
    @Option(name: .customLong("lambda-a"), help: "Weight of the A → B → A cycle (default: 10).")
    var lambdaA: Float?
    @Option(name: .customLong("lambda-b"), help: "Weight of the B → A → B cycle (default: 10).")
    var lambdaB: Float?
    @Option(help: "Identity loss weight relative to the cycle weights (default: 0.5; 0 turns it off).")
    var identity: Float?
    @Option(name: .customLong("pool-size"), help: "Generated images in each image pool (default: 50; 0: none).")
    var poolSize: Int?
    @Option(help: "Adam learning rate (default: 0.0002).")
    var lr: Float?
    @Option(name: .customLong("batch-size"), help: "Images of each domain per step (default: 1).")
    var batchSize: Int?
    @Option(
        help:
            "Background threads decoding and jittering the next batches (default 1; 0 loads each batch when it is needed). Changes no result."
    )
    var workers = 1
    @Flag(name: .customLong("no-tensorboard"), help: "Do not write TensorBoard logs to RUN_DIR/tensorboard.")
    var noTensorBoard = false
    @Option(
        name: .customLong("sample-every"),
        help: "Write a sample grid and refresh the report every N steps (default: \(Self.defaults.sampleEvery)).")
    var sampleEvery: Int?
    @Option(
        name: .customLong("checkpoint-every"),
        help: "Save a checkpoint every N steps, and always at the end (default: \(Self.defaults.checkpointEvery)).")
    var checkpointEvery: Int?

    /// junyanz's defaults.
    static let defaults = CycleGANRunOptions(data: "")

    public init() {}

    public func validate() throws {
        guard resume || data != nil else { throw ValidationError("--data is required (unless --resume)") }
        if resume && fromPyTorch != nil { throw ValidationError("--from-pytorch starts a run; it cannot --resume one") }
        let positive = [
            ("--image-size", imageSize), ("--epochs", epochs), ("--batch-size", batchSize), ("--ngf", ngf),
            ("--ndf", ndf), ("--blocks", blocks), ("--disc-layers", discriminatorLayers),
            ("--sample-every", sampleEvery),
            ("--checkpoint-every", checkpointEvery), ("--steps", steps),
        ]
        for case let (flag, value?) in positive where value <= 0 {
            throw ValidationError("\(flag) must be positive, not \(value)")
        }
        for case let (flag, value?) in [("--decay-epochs", decayEpochs), ("--pool-size", poolSize)] where value < 0 {
            throw ValidationError("\(flag) must not be negative, not \(value)")
        }
        for case let (flag, value?) in [
            ("--lambda-a", lambdaA), ("--lambda-b", lambdaB), ("--identity", identity), ("--lr", lr),
        ] where !(value >= 0 && value.isFinite) {
            throw ValidationError("\(flag) must be a finite number ≥ 0, not \(value)")
        }
        guard (0...16).contains(workers) else { throw ValidationError("--workers must be 0…16, not \(workers)") }
        if let imageSize, imageSize % 4 != 0 {
            throw ValidationError("--image-size \(imageSize) must be a multiple of 4 (the ResNet halves it twice)")
        }
    }

    /// The run options given on the command line, over `base`.
    func options(over base: CycleGANRunOptions) -> CycleGANRunOptions {
        var options = base
        func set<Value>(_ keyPath: WritableKeyPath<CycleGANRunOptions, Value>, _ given: Value?) {
            if let given { options[keyPath: keyPath] = given }
        }
        set(\.data, data)
        set(\.imageSize, imageSize)
        if noJitter { options.jitter = false }
        if serialBatches { options.serialBatches = true }
        set(\.seed, seed)
        set(\.blocks, blocks)
        set(\.ngf, ngf)
        set(\.ndf, ndf)
        set(\.discriminatorLayers, discriminatorLayers)
        set(\.lambdaA, lambdaA)
        set(\.lambdaB, lambdaB)
        set(\.identity, identity)
        set(\.poolSize, poolSize)
        set(\.learningRate, lr)
        set(\.epochs, epochs)
        set(\.decayEpochs, decayEpochs)
        if let steps { options.steps = steps }
        set(\.batchSize, batchSize)
        set(\.sampleEvery, sampleEvery)
        set(\.checkpointEvery, checkpointEvery)
        set(\.fromPyTorch, fromPyTorch)
        return options
    }

    public func run() throws {
        let run = CycleGANRunDirectory(url: URL(fileURLWithPath: output))
        if resume {
            let saved = try run.loadOptions()
            let (options, changes) = try resumedOptions(saved, given: options(over: saved), file: run.options)
            try trainCycleGAN(
                run: run, options: options, resumingWith: changes, tensorBoard: !noTensorBoard, workers: workers)
        } else {
            try trainCycleGAN(
                run: run, options: options(over: Self.defaults), tensorBoard: !noTensorBoard, workers: workers)
        }
    }
}

/// `saved` options of a run with the `given` ones (the saved ones with a command line's over them), and one phrase per change, such as
/// `--steps 40 (was 20)`. Only how long the run trains and how often it writes files may
/// change; the data, the models, the objective, the optimizer and the seed are fixed.
///
/// - Throws: `MapsError` naming the first fixed option given with another value.
func resumedOptions(
    _ saved: CycleGANRunOptions, given: CycleGANRunOptions, file: URL
) throws -> (
    CycleGANRunOptions, [String]
) {
    var given = given
    let absolute = { (path: String) in URL(fileURLWithPath: path).standardizedFileURL.path }
    if absolute(given.data) == absolute(saved.data) { given.data = saved.data }
    var fixed = given
    (fixed.epochs, fixed.decayEpochs, fixed.steps) = (saved.epochs, saved.decayEpochs, saved.steps)
    (fixed.sampleEvery, fixed.checkpointEvery) = (saved.sampleEvery, saved.checkpointEvery)
    if fixed != saved {
        let flags = [
            "data": "--data", "imageSize": "--image-size", "jitter": "--no-jitter", "serialBatches": "--serial-batches",
            "seed": "--seed", "blocks": "--blocks", "ngf": "--ngf", "ndf": "--ndf",
            "discriminatorLayers": "--disc-layers", "lambdaA": "--lambda-a", "lambdaB": "--lambda-b",
            "identity": "--identity", "poolSize": "--pool-size", "learningRate": "--lr", "batchSize": "--batch-size",
        ]
        func fields(_ options: CycleGANRunOptions) -> [String: String] {
            let object = (try? JSONSerialization.jsonObject(with: JSONEncoder().encode(options))) as? [String: Any]
            return (object ?? [:]).mapValues { "\($0)" }
        }
        let (mine, runs) = (fields(fixed), fields(saved))
        let key = flags.keys.sorted().first { mine[$0] != runs[$0] } ?? "data"
        throw MapsError(
            "\(flags[key]!) \(mine[key] ?? "none") conflicts with the run's \(runs[key] ?? "none") (\(file.path)); options fixed at the start of a run cannot change on --resume"
        )
    }
    var changes: [String] = []
    func note<Value: Equatable>(
        _ flag: String, _ keyPath: KeyPath<CycleGANRunOptions, Value>, spelled spell: (Value) -> String = { "\($0)" }
    ) {
        if given[keyPath: keyPath] != saved[keyPath: keyPath] {
            changes.append("\(flag) \(spell(given[keyPath: keyPath])) (was \(spell(saved[keyPath: keyPath])))")
        }
    }
    note("--epochs", \.epochs)
    note("--decay-epochs", \.decayEpochs)
    note("--steps", \.steps) { $0.map(String.init) ?? "none" }
    note("--sample-every", \.sampleEvery)
    note("--checkpoint-every", \.checkpointEvery)
    return (given, changes)
}
