import Foundation
import Imaging
import Pix2Pix

/// The run options a command line gave explicitly, nil where it left them out (a flag such as
/// `--jitter` is nil when absent). A new run fills the gaps with defaults; a resumed run keeps
/// its own values, takes the options that may change and refuses the ones that may not.
struct ExplicitRunOptions {
    var data: String?
    var imageSize: Int?
    var direction: Direction?
    var jitter: Bool?
    var seed: UInt64?
    var generator: GeneratorArchitecture?
    var depth: Int?
    var ngf: Int?
    var ndf: Int?
    var discriminatorLayers: Int?
    var norm: NormalizationKind?
    var ganLoss: Pix2PixTrainer.GANLoss?
    var l1Weight: Float?
    var learningRate: Float?
    var epochs: Int?
    var decayEpochs: Int?
    var steps: Int?
    var sampleEvery: Int?
    var checkpointEvery: Int?
    var batchSize: Int?
    var precision: PrecisionOption?
    var dropout: Bool?
    var syncBatchNorm: Bool?
    var r1: Float?
    var r1Every: Int?

    /// The options of a new run: `defaults` with every option given here in place of its own.
    func newRun(defaults: RunOptions) -> RunOptions {
        var options = defaults
        func set<Value>(_ keyPath: WritableKeyPath<RunOptions, Value>, _ given: Value?) {
            if let given { options[keyPath: keyPath] = given }
        }
        set(\.data, data)
        set(\.imageSize, imageSize)
        set(\.direction, direction)
        set(\.jitter, jitter)
        set(\.seed, seed)
        set(\.generator, generator)
        set(\.depth, depth)
        set(\.ngf, ngf)
        set(\.ndf, ndf)
        set(\.discriminatorLayers, discriminatorLayers)
        set(\.norm, norm)
        set(\.ganLoss, ganLoss)
        set(\.l1Weight, l1Weight)
        set(\.learningRate, learningRate)
        set(\.epochs, epochs)
        set(\.decayEpochs, decayEpochs)
        set(\.steps, steps)
        set(\.sampleEvery, sampleEvery)
        set(\.checkpointEvery, checkpointEvery)
        set(\.batchSize, batchSize)
        set(\.precision, precision)
        set(\.dropout, dropout)
        set(\.syncBatchNorm, syncBatchNorm)
        if let r1 {
            options.r1 = r1
            options.r1Every = r1Every ?? RunOptions.defaultR1Interval
        }
        return options
    }

    /// The options of a run resumed from `saved` (read from `file`), and one phrase per option
    /// this command line changes, such as `--steps 40 (was 20)`.
    ///
    /// Fixed at the start of a run are the options that define what it trains: its data and
    /// their order (`--data`, `--image-size`, `--direction`, `--jitter`, `--batch-size`, whose
    /// position in the epoch the checkpoint records), the models, whose shapes the checkpoint
    /// holds (`--generator`, `--depth`, `--ngf`, `--ndf`, `--disc-layers`, `--norm`,
    /// `--no-dropout`, `--no-sync-batch-norm`), the objective and the optimizer
    /// (`--gan-loss`, `--l1-weight`, `--lr`, `--r1`, `--r1-every`) and the random streams (`--seed`): with any of them
    /// different, the resumed run would be neither the run it continues nor a new one. The
    /// others only say how long it trains, how often it writes files and how products are
    /// computed, and may change: `--epochs`, `--decay-epochs` (the learning rate of the epochs
    /// still to come), `--steps`, `--sample-every`, `--checkpoint-every`, `--precision`.
    ///
    /// - Throws: `MapsError` for the first fixed option given with a value other than the run's.
    func resuming(_ saved: RunOptions, file: URL) throws -> (options: RunOptions, changes: [String]) {
        func refuse(_ given: String, runs: String) -> MapsError {
            MapsError(
                "\(given) conflicts with the run's \(runs) (\(file.path)); options fixed at the start of a run cannot change on --resume"
            )
        }
        func fixed<Value: Equatable>(_ flag: String, _ given: Value?, runs run: Value) throws {
            if let given, given != run { throw refuse("\(flag) \(given)", runs: "\(run)") }
        }
        /// A path as an absolute, standardised one, so `data` and `./data` are the same folder.
        func absolute(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }

        try fixed("--data", data.map(absolute), runs: absolute(saved.data))
        try fixed("--image-size", imageSize, runs: saved.imageSize)
        try fixed("--direction", direction?.rawValue, runs: saved.direction.rawValue)
        if jitter == true && !saved.jitter { throw refuse("--jitter", runs: "training without jitter") }
        try fixed("--batch-size", batchSize, runs: saved.batch)
        try fixed("--generator", generator?.rawValue, runs: saved.generator.rawValue)
        try fixed("--depth", depth, runs: saved.depth)
        try fixed("--ngf", ngf, runs: saved.ngf)
        try fixed("--ndf", ndf, runs: saved.ndf)
        try fixed("--disc-layers", discriminatorLayers, runs: saved.discriminatorLayers)
        try fixed("--norm", norm?.rawValue, runs: saved.norm.rawValue)
        if dropout == false && saved.usesDropout { throw refuse("--no-dropout", runs: "generator with dropout") }
        if syncBatchNorm == false && saved.synchronizesBatchNorm {
            throw refuse("--no-sync-batch-norm", runs: "synchronised batch norm")
        }
        try fixed("--gan-loss", ganLoss?.rawValue, runs: saved.ganLoss.rawValue)
        try fixed("--l1-weight", l1Weight, runs: saved.l1Weight)
        try fixed("--lr", learningRate, runs: saved.learningRate)
        try fixed("--r1", r1.map { Optional($0) }, runs: saved.r1)
        if r1 != nil { try fixed("--r1-every", r1Every ?? RunOptions.defaultR1Interval, runs: saved.r1Every ?? 0) }
        try fixed("--seed", seed, runs: saved.seed)

        var options = saved
        var changes: [String] = []
        func change<Value: Equatable>(
            _ flag: String, _ given: Value?, _ keyPath: WritableKeyPath<RunOptions, Value>,
            spelled spell: (Value) -> String = { "\($0)" }
        ) {
            guard let given, given != options[keyPath: keyPath] else { return }
            changes.append("\(flag) \(spell(given)) (was \(spell(options[keyPath: keyPath])))")
            options[keyPath: keyPath] = given
        }
        change("--epochs", epochs, \.epochs)
        change("--decay-epochs", decayEpochs, \.decayEpochs)
        change("--steps", steps.map { Optional($0) }, \.steps) { $0.map(String.init) ?? "none" }
        change("--sample-every", sampleEvery, \.sampleEvery)
        change("--checkpoint-every", checkpointEvery, \.checkpointEvery)
        change("--precision", precision, \.precision) { $0.rawValue }
        return (options, changes)
    }
}
