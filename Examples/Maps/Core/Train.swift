import ArgumentParser
import DeepLearning
import Foundation
import Distributed
import Imaging
import Pix2Pix
import TensorBoard

/// `maps train`: trains pix2pix and keeps RUN_DIR up to date (checkpoints, samples, report).
public struct Train: ParsableCommand {
    public static let configuration = CommandConfiguration(
        abstract:
            "Train pix2pix on a maps dataset folder or NPZ; writes checkpoints, sample grids and index.html to the run folder."
    )

    @Option(name: .shortAndLong, help: "Dataset folder (train/ and val/, or images) or an NPZ from `maps prepare`.")
    var data: String?
    @Option(name: .shortAndLong, help: "Run folder to write (or to continue with --resume).")
    var output: String
    @Option(
        help:
            "Epochs at the full learning rate (default: \(Self.defaults.epochs); the paper: 200 for maps, as n_epochs 100 + n_epochs_decay 100)."
    )
    var epochs: Int?
    @Option(
        name: .customLong("decay-epochs"),
        help: "Further epochs with the learning rate decaying linearly to 0 (default: \(Self.defaults.decayEpochs)).")
    var decayEpochs: Int?
    @Option(help: "Stop after this many steps in total (default: all epochs).")
    var steps: Int?
    @Option(
        name: .customLong("image-size"),
        help: "Side of the square training images (default: \(Self.defaults.imageSize)).")
    var imageSize: Int?
    @Option(help: "Satellite → map (AtoB) or map → satellite (default: \(Self.defaults.direction.rawValue)).")
    var direction: Direction?
    @Flag(help: "pix2pix's random jitter: resize to 286/256 of the size, random crop, random mirror.")
    var jitter = false
    @Flag(
        help:
            "Continue the run in --output from its last checkpoint with its own options; of those given, --epochs, --decay-epochs, --steps, --sample-every, --checkpoint-every and --precision change, the others must equal the run's."
    )
    var resume = false
    @Option(help: "Random seed for weights, dropout, shuffling and jitter (default: \(Self.defaults.seed)).")
    var seed: UInt64?
    @Option(help: "Generator architecture (default: \(Self.defaults.generator.rawValue)).")
    var generator: GeneratorArchitecture?
    @Option(help: "U-Net downsamplings (default: \(Self.defaults.depth) = unet_256; 7 = unet_128).")
    var depth: Int?
    @Option(help: "Generator base filters (default: \(Self.defaults.ngf)).")
    var ngf: Int?
    @Option(help: "Discriminator base filters (default: \(Self.defaults.ndf)).")
    var ndf: Int?
    @Option(
        name: .customLong("disc-layers"),
        help:
            "Stride-2 layers of the PatchGAN (default: \(Self.defaults.discriminatorLayers) = the seed's; 3 = 70×70, 0 = PixelGAN)."
    )
    var discriminatorLayers: Int?
    @Option(help: "Normalisation (default: \(Self.defaults.norm.rawValue)).")
    var norm: NormalizationKind?
    @Option(
        name: .customLong("gan-loss"),
        help:
            "GAN loss: vanilla (BCE), lsgan (MSE) or wgangp (Wasserstein, with the gradient penalty λ = 10 at random interpolates) (default: \(Self.defaults.ganLoss.rawValue))."
    )
    var ganLoss: Pix2PixTrainer.GANLoss?
    @Option(
        help:
            "R1 gradient penalty γ on the discriminator at real pairs, (γ/2)·E‖∇D‖² (StyleGAN2: 10); default none."
    )
    var r1: Float?
    @Option(
        name: .customLong("r1-every"),
        help:
            "Apply R1 every k discriminator steps, scaled by k (lazy regularisation; default \(RunOptions.defaultR1Interval), StyleGAN2's)."
    )
    var r1Every: Int?
    @Option(
        name: .customLong("l1-weight"),
        help: "λ of the L1 term (default: \(String(format: "%g", Self.defaults.l1Weight))).")
    var l1Weight: Float?
    @Option(help: "Adam learning rate (default: \(String(format: "%g", Self.defaults.learningRate))).")
    var lr: Float?
    @Option(
        name: .customLong("batch-size"),
        help:
            "Pairs per training step (default: \(Self.defaults.batch), as pix2pix). Batch norm then normalises over the batch; an epoch is ⌈pairs / N⌉ steps."
    )
    var batchSize: Int?
    @Option(
        help:
            "Matrix products in fp32 (default) or bf16: bfloat16 operands with float32 sums and float32 weights (PyTorch's CPU autocast). Needs AVX512_BF16; falls back to fp32 with a message. With --resume: the run's own unless given."
    )
    var precision: PrecisionOption?
    @Flag(name: .customLong("no-dropout"), help: "No dropout in the generator (junyanz's --no_dropout).")
    var noDropout = false
    @Flag(
        name: .customLong("no-sync-batch-norm"),
        help: "Under mpirun: normalise each rank's batch on its own instead of the global batch's statistics.")
    var noSyncBatchNorm = false
    @Flag(
        name: .customLong("no-tensorboard"),
        help:
            "Do not write TensorBoard logs to RUN_DIR/tensorboard (they are written by default; `tensorboard --logdir RUN_DIR/tensorboard`)."
    )
    var noTensorBoard = false
    @Option(
        help:
            "Background threads decoding and jittering the next batches (default 1; 0 loads each batch when it is needed). Changes no result."
    )
    var workers = 1
    @Option(
        name: .customLong("sample-every"),
        help: "Write a sample grid and refresh the report every N steps (default: \(Self.defaults.sampleEvery)).")
    var sampleEvery: Int?
    @Option(
        name: .customLong("checkpoint-every"),
        help: "Save a checkpoint every N steps, and always at the end (default: \(Self.defaults.checkpointEvery)).")
    var checkpointEvery: Int?

    /// The options of a new run given nothing but its data: the paper's and the seed's.
    private static let defaults = RunOptions(data: "")

    public init() {}

    public func validate() throws {
        guard resume || data != nil else { throw ValidationError("--data is required (unless --resume)") }
        let mustBePositive = [
            ("--image-size", imageSize), ("--epochs", epochs), ("--batch-size", batchSize),
            ("--sample-every", sampleEvery), ("--checkpoint-every", checkpointEvery), ("--r1-every", r1Every),
        ]
        for case let (flag, value?) in mustBePositive where value <= 0 {
            throw ValidationError("\(flag) must be positive, not \(value)")
        }
        guard (0...16).contains(workers) else { throw ValidationError("--workers must be 0…16, not \(workers)") }
        if let r1, !(r1 >= 0 && r1.isFinite) { throw ValidationError("--r1 must be a finite γ ≥ 0, not \(r1)") }
        if r1Every != nil && r1 == nil { throw ValidationError("--r1-every needs --r1 γ") }
        if !resume {
            let options = explicitOptions.newRun(defaults: Self.defaults)
            if options.r1 != nil && options.ganLoss == .wgangp {
                throw ValidationError(
                    "--r1 and --gan-loss wgangp are two gradient penalties; wgangp brings its own, choose one")
            }
            guard options.imageSize % options.sizeMultiple == 0 else {
                throw ValidationError(
                    "--image-size \(options.imageSize) must be a multiple of \(options.sizeMultiple) for the \(options.generator.rawValue) generator\(options.generator == .unet ? " of depth \(options.depth)" : "")"
                )
            }
        }
    }

    /// The run options given on the command line.
    var explicitOptions: ExplicitRunOptions {
        ExplicitRunOptions(
            data: data, imageSize: imageSize, direction: direction, jitter: jitter ? true : nil, seed: seed,
            generator: generator, depth: depth, ngf: ngf, ndf: ndf, discriminatorLayers: discriminatorLayers,
            norm: norm, ganLoss: ganLoss, l1Weight: l1Weight, learningRate: lr, epochs: epochs,
            decayEpochs: decayEpochs, steps: steps, sampleEvery: sampleEvery, checkpointEvery: checkpointEvery,
            batchSize: batchSize, precision: precision, dropout: noDropout ? false : nil,
            syncBatchNorm: noSyncBatchNorm ? false : nil, r1: r1, r1Every: r1Every)
    }

    public func run() throws {
        let run = RunDirectory(url: URL(fileURLWithPath: output))
        if resume {
            try train(run: run, resuming: explicitOptions, tensorBoard: !noTensorBoard, workers: workers)
        } else {
            try train(
                run: run, options: explicitOptions.newRun(defaults: Self.defaults), tensorBoard: !noTensorBoard,
                workers: workers)
        }
    }
}

/// Continues the run in `run` with the options `given` explicitly on the command line: the
/// run's own, with those that may change on resume changed (printed, and saved to
/// options.json once the checkpoint has loaded).
///
/// - Throws: `MapsError` naming the option when `given` changes one fixed at the start of the
///   run (`ExplicitRunOptions.resuming`), before anything in the run folder is touched.
func train(run: RunDirectory, resuming given: ExplicitRunOptions, tensorBoard: Bool = true, workers: Int = 1) throws {
    let (options, changes) = try given.resuming(try run.loadOptions(), file: run.options)
    try train(run: run, options: options, resumingWith: changes, tensorBoard: tensorBoard, workers: workers)
}

/// The training loop shared by `maps train` and `maps demo`: a new run with `options`, or,
/// with `changes` (possibly empty), the run in `run` resumed with `options` — its saved
/// options with the `changes` applied.
///
/// Under `mpirun -np N` (Open MPI's environment) it is one rank of a data-parallel job
/// (Docs/Distributed.md): every rank trains on its own shard of each global batch of N × the
/// per-rank batch, gradients are averaged over the ranks, batch norm is synchronised unless
/// the run says otherwise, and only rank 0 writes files and prints.
///
/// - Parameters:
///   - memoryChecked: the line of a memory check the caller already made for these options
///     (`checkTrainingMemory`), so the probe steps do not run twice; nil checks here.
///   - tensorBoard: log to RUN_DIR/tensorboard (default).
///   - workers: background threads decoding and jittering the next batches (default 1).
func train(
    run: RunDirectory, options: RunOptions, resumingWith changes: [String]? = nil, memoryChecked: String? = nil,
    tensorBoard: Bool = true, workers: Int = 1
) throws {
    let job = try TrainingJob()
    let resume = changes != nil
    if resume {
        guard FileManager.default.fileExists(atPath: run.checkpoint.path) else {
            throw MapsError("\(run.checkpoint.path): no checkpoint to resume from")
        }
    } else if FileManager.default.fileExists(atPath: run.checkpoint.path) {
        throw MapsError(
            "\(run.url.path): already holds a training run; pass --resume to continue it or choose another --output")
    }
    let data = try MapsData(path: options.data, imageSize: options.imageSize, direction: options.direction)
    let memory = try memoryChecked ?? checkTrainingMemory(options, command: "maps train")
    job.say(memory)
    if job.isLeader {
        try run.create()
        if !resume { try run.save(options) }
    }

    let (generator, discriminator) = options.makeModels()
    let trainer = Pix2PixTrainer(
        generator: generator, discriminator: discriminator,
        options: .init(
            l1Weight: options.l1Weight, ganLoss: options.ganLoss,
            learningRate: options.learningRate, constantEpochs: options.epochs, decayEpochs: options.decayEpochs,
            gradientPenalty: options.gradientPenalty))
    if let reason = options.precision.matrixPrecision.unsupportedReason {
        job.say("--precision bf16: \(reason)")
    } else {
        trainer.precision = options.precision.matrixPrecision
        if trainer.precision == .bfloat16, let warning = MatrixPrecision.bfloat16SpeedWarning {
            job.say("note: \(warning)")
        }
    }
    var dataGenerator = SeededGenerator(seed: options.seed &+ 1)
    var epoch = 0, batchInEpoch = 0
    var savedRankStreams: RankStreams?
    if resume {
        let extra = try trainer.loadCheckpoint(from: run.checkpoint)
        guard let state = extra["data"].flatMap({ try? JSONDecoder().decode(DataPosition.self, from: Data($0.utf8)) })
        else {
            throw MapsError(
                "\(run.checkpoint.path): checkpoint lacks the data position; it was not written by `maps train`")
        }
        (dataGenerator, epoch, batchInEpoch) = (state.epochStart, state.epoch, state.batchesDone(ranks: job.size))
        savedRankStreams = extra["ranks"].flatMap { try? JSONDecoder().decode(RankStreams.self, from: Data($0.utf8)) }
        if job.isLeader {
            removeInterruptedWrites(in: run.url)
            keepLossRecords(upTo: trainer.completedSteps, in: run.losses)
            if let changes, !changes.isEmpty { try run.save(options) }
        }
        job.say("resuming \(run.url.path) at step \(trainer.completedSteps) (epoch \(epoch + 1))")
        if let changes, !changes.isEmpty { job.say("resume: " + changes.joined(separator: ", ")) }
    } else if job.isLeader {
        try writeText(LossRecord.header + "\n", to: run.losses)
    }
    let shard = try job.join(trainer, options: options, pairs: data.train.count, saved: savedRankStreams)
    let pairsPerRank = shard?.samplesPerProcess ?? data.train.count
    let batchesPerEpoch = (pairsPerRank + options.batch - 1) / options.batch
    let totalSteps = Swift.min(options.steps ?? Int.max, (options.epochs + options.decayEpochs) * batchesPerEpoch)
    let samplePairs = try (0..<Swift.min(3, data.validation.count)).map {
        resized(try data.validation.pair(at: $0), to: options.imageSize)
    }
    let jitter =
        options.jitter
        ? Jitter(resizeTo: options.imageSize * 286 / 256, cropTo: options.imageSize) : nil
    var progress = ProgressBar(total: totalSteps, startStep: trainer.completedSteps)
    let lossFile = job.isLeader ? try FileHandle(forWritingTo: run.losses) : nil
    let board =
        job.isLeader && tensorBoard
        ? try TrainingBoard(run: run, options: options, resumingAfter: resume ? trainer.completedSteps : nil) : nil
    defer { try? lossFile?.close() }
    lossFile?.seekToEndOfFile()
    let batchDescription =
        job.size == 1
        ? "batch \(options.batch)"
        : "batch \(options.batch) per rank × \(job.size) ranks = global batch \(options.batch * job.size) (batch norm \(options.synchronizesBatchNorm ? "synchronised" : "per rank"))"
    job.say(
        "training \(options.generator.rawValue) (\(generator.parameterCount) parameters) on \(data.train.count) pairs at \(options.imageSize)×\(options.imageSize), \(batchDescription), \(trainer.precision == .bfloat16 ? "bf16" : "fp32") products, for \(totalSteps) steps → \(run.url.path)"
    )

    func saveState(epochStart: SeededGenerator) throws {
        let position = DataPosition(
            epochStart: epochStart, epoch: epoch, batch: batchInEpoch, ranks: job.size == 1 ? nil : job.size)
        var extra = ["data": String(decoding: try JSONEncoder().encode(position), as: UTF8.self)]
        if let streams = try job.gatherStreams(trainer) {
            extra["ranks"] = String(decoding: try JSONEncoder().encode(streams), as: UTF8.self)
        }
        guard job.isLeader else { return }
        try trainer.saveCheckpoint(to: run.checkpoint, extra: extra)
        try (generator as Module).save(to: run.generator)
    }

    // Decoding and jitter run on `workers` background threads (DataLoader); each pair's jitter
    // comes from its own generator (the loader's seed, the epoch, the pair), so the batches do
    // not depend on the number of workers, and a resumed epoch skips its done batches unread.
    let samples = PairedSamples(data.train, jitter: jitter)
    // Seconds the loop waited for batches, and the whole loop's, for the closing line.
    var waitedForData = 0.0
    let loopStarted = Date()
    while trainer.completedSteps < totalSteps {
        trainer.epoch = epoch
        let epochStart = dataGenerator
        // The epoch's order from the run's shuffling stream, as every run has drawn it, then
        // this rank's share (the stream's jitter seed is unused: the loader seeds each pair).
        let order = data.train.epochOrder(shuffled: true, generator: &dataGenerator, shard: shard).order
        let loader = DataLoader(
            samples, batchSize: options.batch, sampler: FixedOrderSampler(order), workers: workers,
            seed: options.seed &+ 2, collate: PairedSamples.collate)
        let batches = try loader.epoch(epoch, startingAt: batchInEpoch)
        func nextBatch() throws -> (source: Tensor, target: Tensor)? {
            let asked = Date()
            defer { waitedForData += Date().timeIntervalSince(asked) }
            return try batches.next()
        }
        while trainer.completedSteps < totalSteps, let batch = try nextBatch() {
            let (source, target) = resized(batch, to: options.imageSize)
            let losses: Pix2PixTrainer.Losses
            do {
                losses = try trainer.step(source: source, target: target)
            } catch let error as NonFiniteTrainingError {
                throw MapsError("\(error) (\(run.checkpoint.path))")
            } catch let error as DistributedError {
                throw MapsError("rank \(job.rank) of \(job.size): \(error)")
            }
            batchInEpoch += 1
            let step = trainer.completedSteps
            do {
                let record = LossRecord(step: step, losses: losses.all, penalty: losses.discriminatorPenalty)
                try lossFile?.write(contentsOf: Data((record.csvLine + "\n").utf8))
            } catch {
                throw MapsError("\(run.losses.path): cannot append the step's losses (\(error.localizedDescription))")
            }
            if job.isLeader { progress.update(step: step, epoch: epoch, losses: losses) }
            try board?.log(step: step, losses: losses, learningRate: trainer.learningRate)
            let last = step == totalSteps
            if step % options.checkpointEvery == 0 || last { try saveState(epochStart: epochStart) }
            if job.isLeader && (step % options.sampleEvery == 0 || last) {
                let grid = try writeSamples(
                    generator, samplePairs, seed: options.seed ^ UInt64(step),
                    to: run.samples.appendingPathComponent(String(format: "step-%06d.png", step)))
                try board?.log(samples: grid, step: step)
                try Report.write(run: run, options: options)
            }
        }
        if batchInEpoch >= batchesPerEpoch || trainer.completedSteps < totalSteps {
            epoch += 1
            batchInEpoch = 0
        }
    }
    let looped = Date().timeIntervalSince(loopStarted)
    job.say(
        "done: \(trainer.completedSteps) steps; "
            + String(
                format: "waited for data %.1f%% of %.1f s (%d loader worker%@); ",
                100 * waitedForData / Swift.max(looped, 1e-9),
                looped, workers, workers == 1 ? "" : "s") + "report at \(run.report.path)")
    try job.finish()
}

/// Where in the data stream a checkpoint was taken: the shuffling generator as it was at the
/// start of the epoch, and how many batches of that epoch were done.
struct DataPosition: Codable {
    var epochStart: SeededGenerator
    var epoch: Int
    var batch: Int
    /// Ranks of the job that saved it (nil: a lone process, or a run saved before ranks existed).
    var ranks: Int? = nil

    /// The batches of this epoch already done, for a job of `size` ranks: the same ones when
    /// the rank count is unchanged; otherwise as many of the new shard's batches as cover the
    /// pairs done (rounded down, so a few pairs of the epoch may be seen again, none skipped).
    func batchesDone(ranks size: Int) -> Int { batch * (ranks ?? 1) / size }
}

/// Drops loss records written after the checkpoint a run resumes from.
func keepLossRecords(upTo step: Int, in url: URL) {
    let kept = LossRecord.read(url).filter { $0.step <= step }
    try? writeText(([LossRecord.header] + kept.map(\.csvLine)).joined(separator: "\n") + "\n", to: url)
}

/// A grid with one row per pair: source | generated | target (as the Keras pix2pix tutorial's
/// summarize_performance). The paper-mode dropout masks come from `seed`, not from training's
/// streams, so writing samples never changes the training run.
/// Writes the sample grid (source | generated | real per row) to `url` as PNG; returns the PNG
/// and its size.
@discardableResult
func writeSamples(
    _ generator: Layer, _ pairs: [(source: Tensor, target: Tensor)], seed: UInt64, to url: URL
) throws
    -> (png: Data, height: Int, width: Int)
{
    var randomness = SeededGenerator(seed: seed)
    let rows = pairs.map { pair -> [Tensor] in
        let generated = generator.translate(pair.source, mode: .paper, generator: &randomness)
        return [fromUnitRange(pair.source), fromUnitRange(generated), fromUnitRange(pair.target)]
    }
    let grid = imageGrid(rows)
    let png = try encodeImage(grid, format: .png)
    try writeAtomically(png, to: url)
    return (png, grid.shape[0], grid.shape[1])
}

/// The run's TensorBoard log (rank 0 only): scalars every step, the sample grids, the options.
struct TrainingBoard {
    let writer: SummaryWriter
    let folder: URL

    /// Opens RUN_DIR/tensorboard; a resumed run purges the steps after its checkpoint, which the
    /// interrupted run may have logged and this one logs again.
    init(run: RunDirectory, options: RunOptions, resumingAfter completedSteps: Int?) throws {
        let folder = run.tensorboard
        self.folder = folder
        writer = try loggingToBoard {
            try SummaryWriter(logDirectory: folder, purgeStep: completedSteps.map { $0 + 1 })
        }
        if completedSteps == nil {
            try loggingToBoard {
                try writer.addText("options", Self.table(options), step: 0)
                try writer.addHyperparameters(Self.hyperparameters(options))
            }
        }
    }

    /// The options as options.json writes them.
    private static func fields(_ options: RunOptions) -> [String: Any] {
        guard let data = try? JSONEncoder().encode(options),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return [:] }
        return object
    }

    /// The options as a Markdown table (TensorBoard's Text tab renders it).
    static func table(_ options: RunOptions) -> String {
        let object = fields(options)
        return (["| option | value |", "|---|---|"] + object.keys.sorted().map { "| \($0) | \(object[$0]!) |" })
            .joined(separator: "\n")
    }

    /// The options as hyperparameters (TensorBoard's HParams tab), the words of options.json.
    static func hyperparameters(_ options: RunOptions) -> [String: HyperparameterValue] {
        /// One field of options.json: JSONDecoder tells booleans from numbers.
        struct Field: Decodable {
            let value: HyperparameterValue?
            init(from decoder: Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let bool = try? container.decode(Bool.self) {
                    value = .bool(bool)
                } else if let number = try? container.decode(Double.self) {
                    value = .number(number)
                } else {
                    value = (try? container.decode(String.self)).map { .string($0) }
                }
            }
        }
        guard let data = try? JSONEncoder().encode(options),
            let fields = try? JSONDecoder().decode([String: Field].self, from: data)
        else { return [:] }
        return fields.compactMapValues(\.value)
    }

    func log(step: Int, losses: Pix2PixTrainer.Losses, learningRate: Float) throws {
        try loggingToBoard {
            try writer.addScalar("loss/D_real", losses.discriminatorReal, step: step)
            try writer.addScalar("loss/D_fake", losses.discriminatorFake, step: step)
            try writer.addScalar("loss/G_GAN", losses.generatorGAN, step: step)
            try writer.addScalar("loss/G_L1", losses.generatorL1, step: step)
            if let penalty = losses.discriminatorPenalty { try writer.addScalar("loss/D_penalty", penalty, step: step) }
            try writer.addScalar("learning_rate", learningRate, step: step)
        }
    }

    func log(samples grid: (png: Data, height: Int, width: Int), step: Int) throws {
        try logSamples(grid, step: step, to: writer)
    }
}

/// Runs `body`, a write to a run's TensorBoard log; its failure stops training with the error
/// and the news that the last checkpoint is intact.
func loggingToBoard<Result>(_ body: () throws -> Result) throws -> Result {
    do { return try body() } catch { throw MapsError("\(error); training stopped, the last checkpoint is intact") }
}

/// Logs a sample grid's PNG as the `samples` image of `step`.
func logSamples(_ grid: (png: Data, height: Int, width: Int), step: Int, to writer: SummaryWriter) throws {
    try loggingToBoard {
        try writer.addImage("samples", png: grid.png, height: grid.height, width: grid.width, step: step)
    }
}
