import CycleGAN
import DeepLearning
import Foundation
import Imaging
import Pix2Pix
import TensorBoard

/// The training loop of `maps cyclegan train` and `maps cyclegan demo`: a new run with
/// `options`, or, with `changes` (possibly empty), the run in `run` resumed with `options` (its
/// saved options with the changes applied).
///
/// One process only: under `mpirun -np N` with N > 1 it stops with a message before touching
/// anything (the data-parallel path is pix2pix's). The checkpoint holds the whole state —
/// networks, optimizers, both image pools and their streams, the epoch, the loader's position —
/// so a resumed run continues exactly as if it had not stopped.
func trainCycleGAN(
    run: CycleGANRunDirectory, options: CycleGANRunOptions, resumingWith changes: [String]? = nil,
    tensorBoard: Bool = true, workers: Int = 1
) throws {
    if let ranks = ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"].flatMap(Int.init), ranks > 1 {
        throw MapsError(
            "maps cyclegan trains in one process; the data-parallel path (mpirun) is pix2pix's (`maps train`)")
    }
    let resume = changes != nil
    var options = options
    if resume {
        guard FileManager.default.fileExists(atPath: run.checkpoint.path) else {
            throw MapsError("\(run.checkpoint.path): no checkpoint to resume from")
        }
    } else if FileManager.default.fileExists(atPath: run.checkpoint.path)
        || FileManager.default.fileExists(atPath: run.pix2pixOptions.path)
    {
        let kind = FileManager.default.fileExists(atPath: run.options.path) ? "a CycleGAN run" : "a pix2pix run"
        throw MapsError(
            "\(run.url.path): already holds \(kind); pass --resume to continue a CycleGAN run or choose another --output"
        )
    }
    let data = try UnpairedMapsData(path: options.data)
    let dataset = try data.training(
        imageSize: options.imageSize, jitter: options.jitter, serialBatches: options.serialBatches)

    var models = options.makeModels()
    if !resume, let folder = options.fromPyTorch {
        models = try loadJunyanzModels(
            from: URL(fileURLWithPath: folder), into: &options,
            freshDiscriminators: (models.discriminatorA, models.discriminatorB))
    }
    try run.create()
    if !resume || !(changes ?? []).isEmpty { try run.save(options) }

    let trainer = CycleGANTrainer(
        generatorA: models.generatorA, generatorB: models.generatorB, discriminatorA: models.discriminatorA,
        discriminatorB: models.discriminatorB, options: options.trainerOptions)
    let loader = DataLoader(
        dataset, batchSize: options.batchSize,
        sampler: options.serialBatches
            ? SequentialSampler(count: dataset.count) : RandomSampler(count: dataset.count, seed: options.seed &+ 1),
        workers: workers, seed: options.seed &+ 2, collate: UnalignedImageDataset.collate)
    var position = DataLoader<UnalignedImageDataset, (a: Tensor, b: Tensor)>.Position(epoch: 0, batch: 0)
    if resume {
        let extra: [String: String]
        do {
            extra = try trainer.loadCheckpoint(from: run.checkpoint)
        } catch {
            throw MapsError("\(error)")
        }
        guard
            let saved = extra[positionKey].flatMap({
                try? JSONDecoder().decode(type(of: position), from: Data($0.utf8))
            })
        else {
            throw MapsError(
                "\(run.checkpoint.path): checkpoint lacks the data position; it was not written by `maps cyclegan train`"
            )
        }
        position = saved
        removeInterruptedWrites(in: run.url)
        CycleGANLossRecord.keep(upTo: trainer.completedSteps, in: run.losses)
        say("resuming \(run.url.path) at step \(trainer.completedSteps) (epoch \(position.epoch + 1))")
        if let changes, !changes.isEmpty { say("resume: " + changes.joined(separator: ", ")) }
    } else {
        try writeText(CycleGANLossRecord.header + "\n", to: run.losses)
    }
    let batchesPerEpoch = loader.batchCount(epoch: 0)
    let totalSteps = Swift.min(options.steps ?? Int.max, (options.epochs + options.decayEpochs) * batchesPerEpoch)
    let sampleImages = try sampleInputs(data, imageSize: options.imageSize)
    let board = tensorBoard ? try CycleGANBoard(run: run, resumingAfter: resume ? trainer.completedSteps : nil) : nil
    let lossFile: FileHandle
    do {
        lossFile = try FileHandle(forWritingTo: run.losses)
    } catch {
        throw MapsError("\(run.losses.path): cannot open the loss log (\(error.localizedDescription))")
    }
    defer { try? lossFile.close() }
    lossFile.seekToEndOfFile()
    var progress = CycleGANProgress(total: totalSteps, startStep: trainer.completedSteps)
    say(
        "training CycleGAN (resnet_\(options.blocks)blocks, ngf \(options.ngf); 2 × \(models.generatorA.parameterCount) generator and 2 × \(models.discriminatorA.parameterCount) discriminator parameters) on \(dataset.filesA.count) A and \(dataset.filesB.count) B images at \(options.imageSize)×\(options.imageSize), batch \(options.batchSize), for \(totalSteps) steps → \(run.url.path)"
    )

    func save() throws {
        let extra = [positionKey: String(decoding: try JSONEncoder().encode(position), as: UTF8.self)]
        do {
            try trainer.saveCheckpoint(to: run.checkpoint, extra: extra)
            try (models.generatorA as Module).save(to: run.generatorA)
            try (models.generatorB as Module).save(to: run.generatorB)
        } catch {
            throw MapsError("\(error); the previous checkpoint is intact")
        }
    }

    while trainer.completedSteps < totalSteps {
        trainer.epoch = position.epoch
        let batches = try loader.epoch(position.epoch, startingAt: position.batch)
        while trainer.completedSteps < totalSteps, let batch = try batches.next() {
            let losses: CycleGANTrainer.Losses
            do {
                losses = try trainer.step(a: batch.a, b: batch.b)
            } catch let error as CycleGANDiverged {
                throw MapsError("\(error); the last checkpoint (\(run.checkpoint.path)) is intact")
            }
            position.batch += 1
            let step = trainer.completedSteps
            do {
                let line = CycleGANLossRecord(step: step, losses: losses).csvLine + "\n"
                try lossFile.write(contentsOf: Data(line.utf8))
            } catch {
                throw MapsError("\(run.losses.path): cannot append the step's losses (\(error.localizedDescription))")
            }
            progress.update(step: step, epoch: position.epoch, losses: losses)
            try board?.log(step: step, losses: losses, learningRate: trainer.learningRate)
            let last = step == totalSteps
            if step % options.checkpointEvery == 0 || last { try save() }
            if step % options.sampleEvery == 0 || last {
                let grid = try writeCycleGANSamples(
                    a: models.generatorA, b: models.generatorB, sampleImages,
                    to: run.samples.appendingPathComponent(String(format: "step-%06d.png", step)))
                try board?.log(samples: grid, step: step)
                try CycleGANReport.write(run: run, options: options)
            }
        }
        if position.batch >= batchesPerEpoch { position = .init(epoch: position.epoch + 1, batch: 0) }
    }
    say("done: \(trainer.completedSteps) steps; report at \(run.report.path)")
}

/// The checkpoint metadata key of the loader's position.
private let positionKey = "maps.data-position"

/// G_A, G_B (and D_A, D_B when their files exist) from a junyanz run folder; `options` takes
/// the architecture read from the files. Without discriminator files, `freshDiscriminators`
/// (the run's own, built from `options`) are used.
private func loadJunyanzModels(
    from folder: URL, into options: inout CycleGANRunOptions,
    freshDiscriminators: (PatchDiscriminator, PatchDiscriminator)
) throws -> (
    generatorA: ResNetGenerator, generatorB: ResNetGenerator, discriminatorA: PatchDiscriminator,
    discriminatorB: PatchDiscriminator
) {
    func file(_ name: String) -> URL { folder.appendingPathComponent("latest_net_\(name).pth") }
    let generators = try ["G_A", "G_B"].map { name -> ResNetGenerator in
        guard FileManager.default.fileExists(atPath: file(name).path) else {
            throw MapsError(
                "\(file(name).path): missing; --from-pytorch needs latest_net_G_A.pth and latest_net_G_B.pth")
        }
        let generator = try ResNetGenerator.fromPyTorch(checkpoint: file(name))
        let configuration = generator.configuration
        guard configuration.norm == .instance, !configuration.dropout, configuration.inputChannels == 3,
            configuration.outputChannels == 3
        else {
            throw MapsError(
                "\(file(name).path): a generator with \(configuration.norm) norm\(configuration.dropout ? ", dropout" : "") and \(configuration.inputChannels) → \(configuration.outputChannels) channels; CycleGAN here trains RGB → RGB with instance norm and no dropout"
            )
        }
        return generator
    }
    guard generators[0].configuration == generators[1].configuration else {
        throw MapsError("\(folder.path): G_A and G_B differ in architecture (blocks, width or channels)")
    }
    options.blocks = generators[0].configuration.blocks
    options.ngf = generators[0].configuration.baseFilters
    var discriminators = [freshDiscriminators.0, freshDiscriminators.1]
    let discriminatorFiles = FileManager.default.fileExists(atPath: file("D_A").path)
    if discriminatorFiles {
        discriminators = try ["D_A", "D_B"].map { try PatchDiscriminator.fromPyTorch(checkpoint: file($0)) }
        guard case .patch(let layers) = discriminators[0].configuration.architecture,
            discriminators[0].configuration == discriminators[1].configuration,
            discriminators[0].configuration.norm == .instance
        else {
            throw MapsError("\(folder.path): D_A and D_B must both be instance-norm PatchGANs of one shape")
        }
        (options.ndf, options.discriminatorLayers) = (discriminators[0].configuration.baseFilters, layers)
    }
    say(
        "starting from \(folder.path): G_A, G_B resnet_\(options.blocks)blocks ngf \(options.ngf)\(discriminatorFiles ? "; D_A, D_B \(options.discriminatorLayers) layers ndf \(options.ndf)" : "; fresh discriminators")"
    )
    return (generators[0], generators[1], discriminators[0], discriminators[1])
}

/// Two A and two B images for the sample grids: testA/testB's when present, else trainA/trainB's.
func sampleInputs(_ data: UnpairedMapsData, imageSize: Int) throws -> (a: [Tensor], b: [Tensor]) {
    func firstTwo(_ test: URL, _ train: URL) throws -> [Tensor] {
        let folder = FileManager.default.fileExists(atPath: test.path) ? test : train
        return try UnpairedMapsData.imageFiles(in: folder).prefix(2).map {
            toUnitRange(try loadRGB($0, size: imageSize))
        }
    }
    return (try firstTwo(data.testA, data.trainA), try firstTwo(data.testB, data.trainB))
}

/// junyanz's visuals as a grid: rows real A | fake B | rec A and real B | fake A | rec B.
@discardableResult
func writeCycleGANSamples(
    a generatorA: Layer, b generatorB: Layer, _ images: (a: [Tensor], b: [Tensor]), to url: URL
)
    throws -> (png: Data, height: Int, width: Int)
{
    func row(_ image: Tensor, _ forward: Layer, _ backward: Layer) -> [Tensor] {
        let translated = forward.translate(batched(image), mode: .deterministic)
        let reconstructed = backward.translate(translated, mode: .deterministic)
        return [image, translated.reshaped(to: image.shape), reconstructed.reshaped(to: image.shape)].map(fromUnitRange)
    }
    let rows = images.a.map { row($0, generatorA, generatorB) } + images.b.map { row($0, generatorB, generatorA) }
    let grid = imageGrid(rows)
    let png = try encodeImage(grid, format: .png)
    try writeAtomically(png, to: url)
    return (png, grid.shape[0], grid.shape[1])
}

/// One line of a CycleGAN run's losses.csv: junyanz's eight terms.
struct CycleGANLossRecord {
    var step: Int
    /// D_A, G_A, cycle_A, idt_A, D_B, G_B, cycle_B, idt_B.
    var losses: [Float]

    static let header = "step,D_A,G_A,cycle_A,idt_A,D_B,G_B,cycle_B,idt_B"
    static let names = header.split(separator: ",").dropFirst().map(String.init)

    init(step: Int, losses: [Float]) { (self.step, self.losses) = (step, losses) }

    init(step: Int, losses: CycleGANTrainer.Losses) {
        self.init(
            step: step,
            losses: [
                losses.discriminatorA, losses.generatorA, losses.cycleA, losses.identityA, losses.discriminatorB,
                losses.generatorB, losses.cycleB, losses.identityB,
            ])
    }

    var csvLine: String { "\(step)," + losses.map { String(format: "%.6g", $0) }.joined(separator: ",") }

    static func read(_ url: URL) -> [CycleGANLossRecord] {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").dropFirst().compactMap { line in
            let fields = line.split(separator: ",")
            guard fields.count == 9, let step = Int(fields[0]) else { return nil }
            let values = fields.dropFirst().compactMap { Float($0) }
            return values.count == 8 ? CycleGANLossRecord(step: step, losses: values) : nil
        }
    }

    /// Drops the records written after the checkpoint a run resumes from.
    static func keep(upTo step: Int, in url: URL) {
        let kept = read(url).filter { $0.step <= step }
        try? writeText(([header] + kept.map(\.csvLine)).joined(separator: "\n") + "\n", to: url)
    }
}

/// The progress line of a CycleGAN run (as `ProgressBar`'s, with junyanz's terms).
struct CycleGANProgress {
    var bar: ProgressBar

    init(total: Int, startStep: Int) { bar = ProgressBar(total: total, startStep: startStep) }

    mutating func update(step: Int, epoch: Int, losses: CycleGANTrainer.Losses) {
        bar.update(
            step: step, epoch: epoch,
            terms: String(
                format: "D_A %.3f  G_A %.3f  cycle_A %.3f  idt_A %.3f  D_B %.3f  G_B %.3f  cycle_B %.3f  idt_B %.3f",
                losses.discriminatorA, losses.generatorA, losses.cycleA, losses.identityA, losses.discriminatorB,
                losses.generatorB, losses.cycleB, losses.identityB))
    }
}

/// A CycleGAN run's TensorBoard log: every loss term and the learning rate each step, the
/// sample grids.
struct CycleGANBoard {
    let writer: SummaryWriter

    init(run: CycleGANRunDirectory, resumingAfter completedSteps: Int?) throws {
        writer = try loggingToBoard {
            try SummaryWriter(logDirectory: run.tensorboard, purgeStep: completedSteps.map { $0 + 1 })
        }
    }

    func log(step: Int, losses: CycleGANTrainer.Losses, learningRate: Float) throws {
        try loggingToBoard {
            for (name, value) in zip(CycleGANLossRecord.names, CycleGANLossRecord(step: step, losses: losses).losses) {
                try writer.addScalar("loss/\(name)", value, step: step)
            }
            try writer.addScalar("learning_rate", learningRate, step: step)
        }
    }

    func log(samples grid: (png: Data, height: Int, width: Int), step: Int) throws {
        try logSamples(grid, step: step, to: writer)
    }
}
