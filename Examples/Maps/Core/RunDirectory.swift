import ArgumentParser
import DeepLearning
import Foundation
import Imaging
import Pix2Pix

/// Everything needed to rebuild a run's models and data, saved as RUN_DIR/options.json.
struct RunOptions: Codable, Equatable {
    var data: String
    var imageSize = 256
    var direction = "AtoB"
    var jitter = false
    var seed: UInt64 = 42
    var generator = "unet"  // unet | resnet9 | resnet6
    var depth = 8
    var ngf = 64
    var ndf = 64
    var discriminatorLayers = 4
    var norm = "batch"
    var ganLoss = "vanilla"
    var l1Weight: Float = 100
    var learningRate: Float = 2e-4
    var epochs = 100
    var decayEpochs = 0
    var steps: Int?
    var sampleEvery = 100
    var checkpointEvery = 500
    /// Pairs per training step; nil (runs saved before the option existed) means 1.
    var batchSize: Int? = nil

    /// "bf16" for bfloat16 matrix products; nil (the default, and runs saved before the option
    /// existed) means float32.
    var precision: String? = nil

    /// false: no dropout in the generator (junyanz's `--no_dropout`); nil: the architecture's
    /// default (the U-Net's decoder has it, the ResNet not).
    var dropout: Bool? = nil
    /// Under `mpirun`: false normalises each rank's batch on its own; nil or true synchronises
    /// batch norm over the ranks (the statistics of the global batch).
    var syncBatchNorm: Bool? = nil

    /// Pairs per training step (pix2pix: 1).
    var batch: Int { batchSize ?? 1 }

    /// Whether batch norm is synchronised over the ranks of an `mpirun` job.
    var synchronizesBatchNorm: Bool { syncBatchNorm ?? true }

    /// The matrix precision the run asks for.
    var matrixPrecision: MatrixPrecision { precision == "bf16" ? .bfloat16 : .float32 }

    /// `precision` for a `--precision fp32|bf16` flag (nil when not given or fp32).
    ///
    /// - Throws: `ValidationError` for any other value.
    static func precision(flag: String?) throws -> String? {
        guard let flag else { return nil }
        guard ["fp32", "bf16"].contains(flag) else {
            throw ValidationError("--precision must be fp32 or bf16, not '\(flag)'")
        }
        return flag == "bf16" ? "bf16" : nil
    }

    var normalization: NormalizationKind { NormalizationKind(rawValue: norm) ?? .batch }

    /// A fresh generator of this run's architecture, seeded from `seed`.
    func makeModels() -> (generator: Layer, discriminator: PatchDiscriminator) {
        RandomState.seed(seed)
        let generator: Layer
        switch self.generator {
        case "resnet9", "resnet6":
            generator = ResNetGenerator(
                .init(
                    blocks: self.generator == "resnet9" ? 9 : 6, baseFilters: ngf, norm: normalization,
                    dropout: dropout ?? false))
        default:
            generator = UNetGenerator(
                .init(depth: depth, baseFilters: ngf, dropout: dropout ?? true, norm: normalization))
        }
        let discriminator = PatchDiscriminator(
            .init(
                architecture: discriminatorLayers == 0 ? .pixel : .patch(layers: discriminatorLayers),
                baseFilters: ndf, norm: normalization))
        return (generator, discriminator)
    }

    /// Input sides must be multiples of this.
    var sizeMultiple: Int { generator.hasPrefix("resnet") ? 4 : 1 << depth }
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

    func create() throws {
        do {
            try FileManager.default.createDirectory(at: samples, withIntermediateDirectories: true)
        } catch {
            throw MapsError("\(url.path): cannot create the run directory (\(error.localizedDescription))")
        }
    }

    func loadOptions() throws -> RunOptions {
        guard FileManager.default.fileExists(atPath: options.path) else {
            throw MapsError(
                "\(url.path): not a training run (no options.json); train one with `maps train --output \(url.path)`")
        }
        do {
            return try JSONDecoder().decode(RunOptions.self, from: Data(contentsOf: options))
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
