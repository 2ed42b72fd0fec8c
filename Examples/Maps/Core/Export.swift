import ArgumentParser
import DeepLearning
import Foundation
import ONNX
import Pix2Pix
import Pix2PixONNX

/// `maps export`: a trained generator as an ONNX file (Docs/Interop.md).
public struct Export: ParsableCommand {
    public static let configuration = CommandConfiguration(
        abstract: "Export a trained run's generator to ONNX (opset 17, NCHW, dynamic batch, height and width).",
        discussion: """
            The ONNX model takes `input` [N, 3, H, W] in [-1, 1] and returns `output` [N, 3, H, W] in [-1, 1] \
            (H and W multiples of 2^depth for the U-Net, of 4 for the ResNet). --mode paper keeps pix2pix's \
            test-time behaviour (batch statistics, dropout active); deterministic uses the running statistics \
            and no dropout.
            """)

    @Option(name: .shortAndLong, help: "Run folder written by `maps train`.")
    var checkpoint: String
    @Option(name: .shortAndLong, help: "The .onnx file to write.")
    var output: String
    @Option(help: "paper (dropout and batch statistics, as pix2pix) or deterministic (eval mode).")
    var mode = InferenceMode.paper

    public init() {}

    public func run() throws {
        let run = RunDirectory(url: URL(fileURLWithPath: checkpoint))
        let (generator, _) = try run.loadGenerator()
        guard let exportable = generator as? ONNXExportable else {
            throw MapsError("\(type(of: generator)) has no ONNX export")
        }
        let onnxMode: ONNXInferenceMode = mode == .paper ? .paper(dropout: true) : .deterministic
        let url = URL(fileURLWithPath: output)
        do {
            try exportONNX(exportable, inputChannels: 3, outputChannels: 3, mode: onnxMode, to: url)
        } catch let error as ONNXExportError {
            throw MapsError("\(url.path): \(error)")
        } catch {
            throw MapsError("\(url.path): cannot write the ONNX model (\(error.localizedDescription))")
        }
        say("wrote \(url.path) (\(mode.rawValue) mode, opset \(ONNXGraphBuilder.opset))")
    }
}
