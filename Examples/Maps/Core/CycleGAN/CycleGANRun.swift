import CycleGAN
import DeepLearning
import Foundation
import Imaging
import Pix2Pix

/// Everything needed to rebuild a CycleGAN run's models and data, saved as RUN_DIR/cyclegan.json
/// (a pix2pix run has options.json instead, so neither family's commands mistake the other's
/// run for their own).
struct CycleGANRunOptions: Codable, Equatable {
    /// The unaligned dataset: `trainA/`, `trainB/` and, for evaluation, `testA/`, `testB/`.
    var data: String
    var imageSize = 256
    /// junyanz's `resize_and_crop` + flip: resize to 286/256 of the size, random crop, random mirror.
    var jitter = true
    /// B image i mod |B| instead of a random one, and no shuffling (junyanz's `--serial_batches`).
    var serialBatches = false
    var seed: UInt64 = 42
    /// Residual blocks of the ResNet generators (9: junyanz's `resnet_9blocks`, 6: `resnet_6blocks`).
    var blocks = 9
    var ngf = 64
    var ndf = 64
    /// Stride-2 layers of the PatchGANs (3 = 70×70).
    var discriminatorLayers = 3
    var lambdaA: Float = 10
    var lambdaB: Float = 10
    var identity: Float = 0.5
    var poolSize = 50
    var learningRate: Float = 2e-4
    var epochs = 100
    var decayEpochs = 100
    var steps: Int?
    var batchSize = 1
    var sampleEvery = 100
    var checkpointEvery = 500
    /// The folder of junyanz `latest_net_*.pth` files the run started from, if any.
    var fromPyTorch: String?

    /// The trainer's hyper-parameters.
    var trainerOptions: CycleGANTrainer.Options {
        CycleGANTrainer.Options(
            lambdaA: lambdaA, lambdaB: lambdaB, identity: identity, poolSize: poolSize, learningRate: learningRate,
            constantEpochs: epochs, decayEpochs: decayEpochs)
    }

    /// G_A, G_B, D_A, D_B as junyanz builds them (instance norm, no dropout, PyTorch's
    /// arithmetic, normal(0, 0.02) weights), seeded from `seed`.
    func makeModels() -> (
        generatorA: ResNetGenerator, generatorB: ResNetGenerator, discriminatorA: PatchDiscriminator,
        discriminatorB: PatchDiscriminator
    ) {
        RandomState.seed(seed)
        func generator() -> ResNetGenerator {
            ResNetGenerator(
                .init(
                    blocks: blocks, baseFilters: ngf, norm: .instance, dropout: false,
                    convention: .pytorch))
        }
        func discriminator() -> PatchDiscriminator {
            PatchDiscriminator(
                .init(
                    architecture: .patch(layers: discriminatorLayers), baseFilters: ndf, inputChannels: 3,
                    norm: .instance, convention: .pytorch))
        }
        return (generator(), generator(), discriminator(), discriminator())
    }
}

/// The files of a CycleGAN run.
struct CycleGANRunDirectory {
    let url: URL
    var options: URL { url.appendingPathComponent("cyclegan.json") }
    var checkpoint: URL { url.appendingPathComponent("checkpoint.safetensors") }
    /// G_A (A → B) and G_B (B → A), for translation.
    var generatorA: URL { url.appendingPathComponent("generator_A.safetensors") }
    var generatorB: URL { url.appendingPathComponent("generator_B.safetensors") }
    var losses: URL { url.appendingPathComponent("losses.csv") }
    var metrics: URL { url.appendingPathComponent("metrics.json") }
    var samples: URL { url.appendingPathComponent("samples") }
    var report: URL { url.appendingPathComponent("index.html") }
    var tensorboard: URL { url.appendingPathComponent("tensorboard") }

    /// RUN_DIR/options.json: the file of a pix2pix run.
    var pix2pixOptions: URL { url.appendingPathComponent("options.json") }

    func create() throws { try createRunFolder(url, samples: samples) }

    func loadOptions() throws -> CycleGANRunOptions {
        guard FileManager.default.fileExists(atPath: options.path) else {
            if FileManager.default.fileExists(atPath: pix2pixOptions.path) {
                throw MapsError(
                    "\(url.path): a pix2pix run (options.json), not a CycleGAN one; use `maps translate`, `maps evaluate` or `maps export` with it"
                )
            }
            throw MapsError(
                "\(url.path): not a CycleGAN run (no cyclegan.json); train one with `maps cyclegan train --output \(url.path)`"
            )
        }
        do {
            return try JSONDecoder().decode(CycleGANRunOptions.self, from: Data(contentsOf: options))
        } catch let DecodingError.keyNotFound(key, _) {
            throw MapsError("\(options.path): \"\(key.stringValue)\" is missing")
        } catch let DecodingError.dataCorrupted(context) {
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw MapsError("\(options.path): \(key.isEmpty ? "not JSON" : "\"\(key)\" has an unknown value")")
        } catch {
            throw MapsError("\(options.path): unreadable run options (\(error.localizedDescription))")
        }
    }

    func save(_ runOptions: CycleGANRunOptions) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try writeAtomically(try encoder.encode(runOptions), to: options)
    }

    /// The trained generators of a finished or interrupted run.
    func loadGenerators() throws -> (a: ResNetGenerator, b: ResNetGenerator, options: CycleGANRunOptions) {
        let runOptions = try loadOptions()
        let models = runOptions.makeModels()
        for (module, file) in [(models.generatorA, generatorA), (models.generatorB, generatorB)] {
            guard FileManager.default.fileExists(atPath: file.path) else {
                throw MapsError("\(file.path): missing; the run has not saved a checkpoint yet")
            }
            try (module as Module).load(from: file)
        }
        return (models.generatorA, models.generatorB, runOptions)
    }
}

/// A CycleGAN dataset folder in junyanz's unaligned layout: `trainA/`, `trainB/` and, for
/// evaluation, `testA/` and `testB/` whose files pair up by name.
struct UnpairedMapsData {
    let root: URL

    var trainA: URL { root.appendingPathComponent("trainA") }
    var trainB: URL { root.appendingPathComponent("trainB") }
    var testA: URL { root.appendingPathComponent("testA") }
    var testB: URL { root.appendingPathComponent("testB") }

    /// Checks that `path` is such a folder, with a message naming what it is instead.
    init(path: String) throws {
        root = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isDirectory) else {
            throw MapsError("\(root.path): no such file or directory")
        }
        func exists(_ name: String) -> Bool {
            FileManager.default.fileExists(atPath: root.appendingPathComponent(name).path)
        }
        guard isDirectory.boolValue, exists("trainA") || exists("trainB") else {
            if exists("cyclegan.json") || exists("options.json") {
                throw MapsError(
                    "\(root.path): a training run, not a dataset; --data takes a folder with trainA/ and trainB/")
            }
            if exists("train") {
                throw MapsError(
                    "\(root.path): a paired dataset (train/ of side-by-side pairs); make an unpaired one with `maps cyclegan split --data \(root.path) --output FOLDER`"
                )
            }
            throw MapsError("\(root.path): not an unpaired dataset (expected trainA/ and trainB/ inside)")
        }
    }

    /// The training set: A and B images with no pairing.
    func training(imageSize: Int, jitter: Bool, serialBatches: Bool) throws -> UnalignedImageDataset {
        do {
            return try UnalignedImageDataset(
                a: trainA, b: trainB,
                jitter: jitter ? Jitter(resizeTo: imageSize * 286 / 256, cropTo: imageSize, method: .bicubic) : nil,
                imageSize: imageSize, serialBatches: serialBatches)
        } catch {
            throw MapsError("\(error)")
        }
    }

    /// The names in both `testA/` and `testB/` (the aligned test pairs), sorted; throws when
    /// there are none.
    func testPairs() throws -> [(a: URL, b: URL)] {
        for folder in [testA, testB] where !FileManager.default.fileExists(atPath: folder.path) {
            throw MapsError("\(folder.path): missing; evaluation needs testA/ and testB/ paired by file name")
        }
        let a = try Self.imageFiles(in: testA), b = try Self.imageFiles(in: testB)
        var byStem: [String: URL] = [:]
        for url in b { byStem[url.deletingPathExtension().lastPathComponent] = url }
        let pairs = a.compactMap { url in byStem[url.deletingPathExtension().lastPathComponent].map { (url, $0) } }
        guard !pairs.isEmpty else {
            throw MapsError("\(testA.path) and \(testB.path): no file names in common, so no pairs to evaluate")
        }
        return pairs
    }

    /// The .jpg/.jpeg/.png files of `folder`, sorted.
    static func imageFiles(in folder: URL) throws -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        let files = names.sorted().filter {
            ["jpg", "jpeg", "png"].contains(($0 as NSString).pathExtension.lowercased())
        }
        guard !files.isEmpty else { throw MapsError("\(folder.path): holds no .jpg, .jpeg or .png images") }
        return files.map { folder.appendingPathComponent($0) }
    }
}

/// An RGB image file as `[H, W, 3]` 0…255 (resized to `size`×`size` when given, bicubic as
/// junyanz's test transform), naming the file when it is not RGB.
func loadRGB(_ url: URL, size: Int? = nil) throws -> Tensor {
    let image = try loadImage(at: url)
    guard image.rank == 3, image.shape[2] == 3 else {
        throw MapsError("\(url.path): has \(image.rank == 3 ? image.shape[2] : 0) channels; expected an RGB image")
    }
    guard let size, image.shape[0] != size || image.shape[1] != size else { return image }
    return resize(image, height: size, width: size, method: .bicubic)
}
