import ArgumentParser
import DeepLearning
import Foundation
import Imaging
import ONNX
import Pix2Pix
import Pix2PixONNX

/// Which of a CycleGAN's two generators: G_A (A → B, satellite → map) or G_B (B → A).
enum CycleDirection: String, CaseIterable, ExpressibleByArgument {
    case aToB = "AtoB"
    case bToA = "BtoA"
}

/// The generator of `direction` from a run folder or a junyanz `.pth` file.
private func cycleGANGenerator(run: String?, pytorch: String?, direction: CycleDirection) throws -> ResNetGenerator {
    if let run {
        let (a, b, _) = try CycleGANRunDirectory(url: URL(fileURLWithPath: run)).loadGenerators()
        return direction == .aToB ? a : b
    }
    let url = URL(fileURLWithPath: pytorch!)
    guard FileManager.default.fileExists(atPath: url.path) else { throw MapsError("\(url.path): no such file") }
    return try ResNetGenerator.fromPyTorch(checkpoint: url)
}

/// The options naming a generator: `--checkpoint RUN_DIR --direction …` or `--pytorch-checkpoint FILE`.
struct CycleGANGeneratorOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "Run folder written by `maps cyclegan train`.")
    var checkpoint: String?
    @Option(
        name: .customLong("pytorch-checkpoint"),
        help:
            "Instead of a run: a junyanz CycleGAN generator (latest_net_G_A.pth or latest_net_G_B.pth), read without Python."
    )
    var pytorchCheckpoint: String?
    @Option(help: "AtoB (G_A, satellite → map) or BtoA (G_B) of a run (default: AtoB).")
    var direction: CycleDirection?

    func validate() throws {
        guard (checkpoint == nil) != (pytorchCheckpoint == nil) else {
            throw ValidationError("give exactly one of --checkpoint RUN_DIR and --pytorch-checkpoint FILE")
        }
        if pytorchCheckpoint != nil && direction != nil {
            throw ValidationError("--direction picks a run's generator; a .pth file holds one (G_A or G_B)")
        }
    }

    func load() throws -> ResNetGenerator {
        try cycleGANGenerator(run: checkpoint, pytorch: pytorchCheckpoint, direction: direction ?? .aToB)
    }
}

/// `maps cyclegan translate`: images through G_A or G_B.
public struct CycleGANTranslate: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "translate",
        abstract: "Translate an image or a folder of images with a run's G_A (AtoB) or G_B (BtoA); writes PNGs.")

    @OptionGroup var generator: CycleGANGeneratorOptions
    @Option(name: .shortAndLong, help: "An image, or a folder of .jpg/.png images.")
    var input: String
    @Option(name: .shortAndLong, help: "Folder for the translated PNGs.")
    var output: String

    public init() {}

    public func run() throws {
        let model = try generator.load()
        let inputURL = URL(fileURLWithPath: input)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: inputURL.path, isDirectory: &isDirectory) else {
            throw MapsError("\(inputURL.path): no such file or directory")
        }
        let files =
            isDirectory.boolValue ? try UnpairedMapsData.imageFiles(in: inputURL) : [inputURL]
        let outputURL = URL(fileURLWithPath: output)
        do {
            try FileManager.default.createDirectory(at: outputURL, withIntermediateDirectories: true)
        } catch {
            throw MapsError("\(outputURL.path): cannot create directory (\(error.localizedDescription))")
        }
        let translated = try translatePipelined(
            files, decode: { try loadRGB($0) },
            translate: { translateImage($0, generator: model, multiple: 4, mode: .deterministic) },
            encode: { file, image in
                let target = outputURL.appendingPathComponent(file.deletingPathExtension().lastPathComponent + ".png")
                try saveImage(image, to: target)
                say("\(file.lastPathComponent) → \(target.path)")
            })
        say("translated \(translated) image\(translated == 1 ? "" : "s")")
    }
}

/// `maps cyclegan export`: one generator as ONNX.
public struct CycleGANExport: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a run's G_A (AtoB) or G_B (BtoA) to ONNX (opset 17, NCHW, dynamic batch, height and width).",
        discussion: """
            The ONNX model takes `input` [N, 3, H, W] in [-1, 1] (H and W multiples of 4) and returns \
            `output` [N, 3, H, W] in [-1, 1]; instance norm has no running statistics, so there is \
            one mode.
            """)

    @OptionGroup var generator: CycleGANGeneratorOptions
    @Option(name: .shortAndLong, help: "The .onnx file to write.")
    var output: String

    public init() {}

    public func run() throws {
        let model = try generator.load()
        let url = URL(fileURLWithPath: output)
        do {
            try exportONNX(model, inputChannels: 3, outputChannels: 3, mode: .deterministic, to: url)
        } catch let error as ONNXExportError {
            throw MapsError("\(url.path): \(error)")
        } catch {
            throw MapsError("\(url.path): cannot write the ONNX model (\(error.localizedDescription))")
        }
        say("wrote \(url.path) (opset \(ONNXGraphBuilder.opset))")
    }
}
