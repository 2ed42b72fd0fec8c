import ArgumentParser
import DeepLearning
import Foundation
import Imaging
import Pix2Pix

/// Everything needed to rebuild a run's models and data, saved as RUN_DIR/options.json.
///
/// The file keeps the format of the first runs — the words of the enums as strings, the keys
/// added later optional — so every run ever saved still loads; a word `maps` does not know is
/// an error naming the key (`UnknownOptionValue`), never a silent default.
struct RunOptions: Equatable {
    var data: String
    var imageSize = 256
    var direction = Direction.aToB
    var jitter = false
    var seed: UInt64 = 42
    var generator = GeneratorArchitecture.unet
    var depth = 8
    var ngf = 64
    var ndf = 64
    var discriminatorLayers = 4
    var norm = NormalizationKind.batch
    var ganLoss = Pix2PixTrainer.GANLoss.vanilla
    var l1Weight: Float = 100
    var learningRate: Float = 2e-4
    var epochs = 100
    var decayEpochs = 0
    var steps: Int?
    var sampleEvery = 100
    var checkpointEvery = 500
    /// Pairs per training step; nil (runs saved before the option existed) means 1.
    var batchSize: Int? = nil

    /// How matrix products are computed; saved only when bf16 (runs saved before the option
    /// existed have none: fp32).
    var precision = PrecisionOption.fp32

    /// false: no dropout in the generator (junyanz's `--no_dropout`); nil: the architecture's
    /// default (the U-Net's decoder has it, the ResNet not).
    var dropout: Bool? = nil
    /// Under `mpirun`: false normalises each rank's batch on its own; nil or true synchronises
    /// batch norm over the ranks (the statistics of the global batch).
    var syncBatchNorm: Bool? = nil
    /// γ of the R1 penalty on the discriminator (`--r1`), nil for none; applied every `r1Every`
    /// steps.
    var r1: Float? = nil
    var r1Every: Int? = nil

    /// StyleGAN2's lazy interval for R1.
    static let defaultR1Interval = 16

    /// The discriminator's gradient penalty: R1 if asked, WGAN-GP's (λ = 10, every step) with
    /// the Wasserstein loss, else none.
    var gradientPenalty: GradientPenalty? {
        if let r1 { return GradientPenalty(.r1, weight: r1, every: r1Every ?? Self.defaultR1Interval) }
        return ganLoss == .wgangp ? GradientPenalty(.wgangp, weight: 10) : nil
    }

    /// Pairs per training step (pix2pix: 1).
    var batch: Int { batchSize ?? 1 }

    /// Whether the generator has dropout.
    var usesDropout: Bool { dropout ?? (generator == .unet) }

    /// Whether batch norm is synchronised over the ranks of an `mpirun` job.
    var synchronizesBatchNorm: Bool { syncBatchNorm ?? true }

    /// A fresh generator of this run's architecture, seeded from `seed`.
    func makeModels() -> (generator: Layer, discriminator: PatchDiscriminator) {
        RandomState.seed(seed)
        let generator: Layer
        if let blocks = self.generator.residualBlocks {
            generator = ResNetGenerator(.init(blocks: blocks, baseFilters: ngf, norm: norm, dropout: usesDropout))
        } else {
            generator = UNetGenerator(.init(depth: depth, baseFilters: ngf, dropout: usesDropout, norm: norm))
        }
        let discriminator = PatchDiscriminator(
            .init(
                architecture: discriminatorLayers == 0 ? .pixel : .patch(layers: discriminatorLayers),
                baseFilters: ndf, norm: norm))
        return (generator, discriminator)
    }

    /// Input sides must be multiples of this.
    var sizeMultiple: Int { generator.inputSideMultiple(depth: depth) }
}

extension RunOptions: Codable {
    private enum CodingKeys: String, CodingKey {
        case data, imageSize, direction, jitter, seed, generator, depth, ngf, ndf, discriminatorLayers, norm, ganLoss
        case l1Weight, learningRate, epochs, decayEpochs, steps, sampleEvery, checkpointEvery, batchSize, precision
        case dropout, syncBatchNorm, r1, r1Every
    }

    init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        /// The option under `key`, one of the words `maps` accepts for it.
        func choice<Value: RawRepresentable<String> & ExpressibleByArgument>(_ key: CodingKeys) throws -> Value {
            let word = try container.decode(String.self, forKey: key)
            guard let value = Value(argument: word) else {
                throw UnknownOptionValue(key: key.stringValue, value: word, expected: Value.allValueStrings)
            }
            return value
        }
        data = try container.decode(String.self, forKey: .data)
        imageSize = try container.decode(Int.self, forKey: .imageSize)
        direction = try choice(.direction)
        jitter = try container.decode(Bool.self, forKey: .jitter)
        seed = try container.decode(UInt64.self, forKey: .seed)
        generator = try choice(.generator)
        depth = try container.decode(Int.self, forKey: .depth)
        ngf = try container.decode(Int.self, forKey: .ngf)
        ndf = try container.decode(Int.self, forKey: .ndf)
        discriminatorLayers = try container.decode(Int.self, forKey: .discriminatorLayers)
        norm = try choice(.norm)
        ganLoss = try choice(.ganLoss)
        l1Weight = try container.decode(Float.self, forKey: .l1Weight)
        learningRate = try container.decode(Float.self, forKey: .learningRate)
        epochs = try container.decode(Int.self, forKey: .epochs)
        decayEpochs = try container.decode(Int.self, forKey: .decayEpochs)
        steps = try container.decodeIfPresent(Int.self, forKey: .steps)
        sampleEvery = try container.decode(Int.self, forKey: .sampleEvery)
        checkpointEvery = try container.decode(Int.self, forKey: .checkpointEvery)
        batchSize = try container.decodeIfPresent(Int.self, forKey: .batchSize)
        precision = container.contains(.precision) ? try choice(.precision) : .fp32
        dropout = try container.decodeIfPresent(Bool.self, forKey: .dropout)
        syncBatchNorm = try container.decodeIfPresent(Bool.self, forKey: .syncBatchNorm)
        r1 = try container.decodeIfPresent(Float.self, forKey: .r1)
        r1Every = try container.decodeIfPresent(Int.self, forKey: .r1Every)
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(data, forKey: .data)
        try container.encode(imageSize, forKey: .imageSize)
        try container.encode(direction.rawValue, forKey: .direction)
        try container.encode(jitter, forKey: .jitter)
        try container.encode(seed, forKey: .seed)
        try container.encode(generator.rawValue, forKey: .generator)
        try container.encode(depth, forKey: .depth)
        try container.encode(ngf, forKey: .ngf)
        try container.encode(ndf, forKey: .ndf)
        try container.encode(discriminatorLayers, forKey: .discriminatorLayers)
        try container.encode(norm.rawValue, forKey: .norm)
        try container.encode(ganLoss.rawValue, forKey: .ganLoss)
        try container.encode(l1Weight, forKey: .l1Weight)
        try container.encode(learningRate, forKey: .learningRate)
        try container.encode(epochs, forKey: .epochs)
        try container.encode(decayEpochs, forKey: .decayEpochs)
        try container.encodeIfPresent(steps, forKey: .steps)
        try container.encode(sampleEvery, forKey: .sampleEvery)
        try container.encode(checkpointEvery, forKey: .checkpointEvery)
        try container.encodeIfPresent(batchSize, forKey: .batchSize)
        if precision != .fp32 { try container.encode(precision.rawValue, forKey: .precision) }
        try container.encodeIfPresent(dropout, forKey: .dropout)
        try container.encodeIfPresent(syncBatchNorm, forKey: .syncBatchNorm)
        try container.encodeIfPresent(r1, forKey: .r1)
        try container.encodeIfPresent(r1Every, forKey: .r1Every)
    }
}

/// A key of options.json holding a word `maps` does not know (a typo, or a run of a newer version).
struct UnknownOptionValue: Error, CustomStringConvertible {
    var key: String
    var value: String
    var expected: [String]

    var description: String { "\"\(key)\" has unknown value \"\(value)\" (expected \(spokenList(expected)))" }
}

/// The files of a training run.
struct RunDirectory {
    let url: URL
    var options: URL { url.appendingPathComponent("options.json") }
    var checkpoint: URL { url.appendingPathComponent("checkpoint.safetensors") }
    var generator: URL { url.appendingPathComponent("generator.safetensors") }
    var losses: URL { url.appendingPathComponent("losses.csv") }
    var metrics: URL { url.appendingPathComponent("metrics.json") }
    var samples: URL { url.appendingPathComponent("samples") }
    var report: URL { url.appendingPathComponent("index.html") }
    /// TensorBoard's event files (`tensorboard --logdir RUN_DIR/tensorboard`).
    var tensorboard: URL { url.appendingPathComponent("tensorboard") }

    func create() throws { try createRunFolder(url, samples: samples) }

    func loadOptions() throws -> RunOptions {
        guard FileManager.default.fileExists(atPath: options.path) else {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("cyclegan.json").path) {
                throw MapsError(
                    "\(url.path): a CycleGAN run (cyclegan.json), not a pix2pix one; use `maps cyclegan translate`, `evaluate` or `export` with it"
                )
            }
            throw MapsError(
                "\(url.path): not a training run (no options.json); train one with `maps train --output \(url.path)`")
        }
        do {
            return try JSONDecoder().decode(RunOptions.self, from: Data(contentsOf: options))
        } catch let error as UnknownOptionValue {
            throw MapsError("\(options.path): \(error)")
        } catch let DecodingError.keyNotFound(key, _) {
            throw MapsError("\(options.path): \"\(key.stringValue)\" is missing")
        } catch let DecodingError.typeMismatch(type, context), let DecodingError.valueNotFound(type, context) {
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw MapsError("\(options.path): \"\(key)\" should be \(jsonKind(type))")
        } catch {
            throw MapsError("\(options.path): unreadable run options (\(error.localizedDescription))")
        }
    }

    func save(_ runOptions: RunOptions) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writeAtomically(try encoder.encode(runOptions), to: options)
    }

    /// The generator of a finished or interrupted run, with trained weights.
    func loadGenerator() throws -> (Layer, RunOptions) {
        let runOptions = try loadOptions()
        let (generator, _) = runOptions.makeModels()
        guard FileManager.default.fileExists(atPath: self.generator.path) else {
            throw MapsError("\(self.generator.path): missing; the run has not saved a checkpoint yet")
        }
        try (generator as Module).load(from: self.generator)
        return (generator, runOptions)
    }
}

/// Creates a run folder `url` with its `samples` folder inside (pix2pix's and CycleGAN's runs).
func createRunFolder(_ url: URL, samples: URL) throws {
    do {
        try FileManager.default.createDirectory(at: samples, withIntermediateDirectories: true)
    } catch {
        throw MapsError("\(url.path): cannot create the run directory (\(error.localizedDescription))")
    }
}

/// Removes the temporary files a process killed while saving left in the run folder `url`
/// (`.NAME.tmp-…`, from `writeAtomically`); the files they were to replace are intact.
func removeInterruptedWrites(in url: URL) {
    for name in (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
    where name.hasPrefix(".") && name.contains(".tmp-") {
        try? FileManager.default.removeItem(at: url.appendingPathComponent(name))
    }
}

/// How JSON spells a value of `type`, for messages about options.json.
private func jsonKind(_ type: Any.Type) -> String {
    switch type {
    case is String.Type: "a string"
    case is Bool.Type: "true or false"
    default: "a number"
    }
}

/// Training and validation data from a dataset folder (with train/ and val/ inside, or
/// images directly) or an NPZ cache.
struct MapsData {
    let train: PairedImageDataset
    let validation: PairedImageDataset

    init(path: String, imageSize: Int, direction: Direction) throws {
        let url = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw MapsError("\(url.path): no such file or directory")
        }
        if !isDirectory.boolValue {
            guard url.pathExtension.lowercased() == "npz" else {
                throw MapsError("\(url.path): expected a dataset folder or an .npz made by `maps prepare`")
            }
            let all = try PairedImageDataset(npz: url, direction: direction)
            train = all
            validation = all
            return
        }
        let trainFolder = url.appendingPathComponent("train"), valFolder = url.appendingPathComponent("val")
        if FileManager.default.fileExists(atPath: trainFolder.path) {
            train = try PairedImageDataset(directory: trainFolder, imageSize: imageSize, direction: direction)
            validation =
                FileManager.default.fileExists(atPath: valFolder.path)
                ? try PairedImageDataset(directory: valFolder, imageSize: imageSize, direction: direction) : train
        } else {
            train = try PairedImageDataset(directory: url, imageSize: imageSize, direction: direction)
            validation = train
        }
    }
}

/// An image `[H, W, C]` or batch `[N, H, W, C]` resized to `size`×`size` if it is not already
/// (NPZ caches hold their own size).
func resized(_ image: Tensor, to size: Int) -> Tensor {
    let (height, width) = (image.shape[image.rank - 3], image.shape[image.rank - 2])
    return height == size && width == size ? image : resize(image, height: size, width: size)
}

/// A pair (or a batch of pairs) resized to `size`×`size` if it is not already.
func resized(_ pair: (source: Tensor, target: Tensor), to size: Int) -> (source: Tensor, target: Tensor) {
    (resized(pair.source, to: size), resized(pair.target, to: size))
}

/// Adds a batch axis: [H, W, C] → [1, H, W, C].
func batched(_ image: Tensor) -> Tensor { image.reshaped(to: [1] + image.shape) }
