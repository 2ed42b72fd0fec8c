import DeepLearning
import Foundation
@testable import MapsCore
import ONNX
import Pix2Pix
import Pix2PixONNX
import XCTest

/// Exports models, runs them in ONNX Runtime (Tools/onnx/check_onnx.py: `onnx.checker`, then
/// the runtime on the same input) and compares with the library's own output: max |Δ| ≤ 1e-4,
/// in deterministic mode and in the paper's mode with dropout off.
///
/// Needs the checker's Python environment: `bash Tools/onnx/install-checker.sh` (Tools/test.sh
/// runs it and sets ONNX_PYTHON); without it the tests skip.
final class ONNXExportTests: XCTestCase {
    private var root: URL!
    private static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("onnx-tests-\(UUID())")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let root { try? FileManager.default.removeItem(at: root) }
    }

    private func python() throws -> String {
        let venv = Self.packageRoot.appendingPathComponent(".build/onnx-venv/bin/python").path
        let candidate = ProcessInfo.processInfo.environment["ONNX_PYTHON"] ?? venv
        try XCTSkipUnless(
            FileManager.default.isExecutableFile(atPath: candidate),
            "no ONNX checker environment (run bash Tools/onnx/install-checker.sh)")
        return candidate
    }

    private func nchw(_ x: Tensor) -> Tensor { x.rank == 4 ? x.permuted([0, 3, 1, 2]) : x }

    /// Runs the checker on `model` with `inputs` (NHWC tensors, sent as NCHW) against `expected`.
    private func check(
        _ name: String, model: Data, inputs: [(String, Tensor)], expected: Tensor, file: StaticString = #filePath,
        line: UInt = #line
    ) throws {
        let python = try python()
        let modelURL = root.appendingPathComponent("\(name).onnx")
        try model.write(to: modelURL)
        let inputsURL = root.appendingPathComponent("\(name)-inputs.npz")
        try NPZ.write(inputs.map { (name: $0.0, tensor: nchw($0.1)) }, to: inputsURL)
        let expectedURL = root.appendingPathComponent("\(name)-expected.npy")
        try NPY.write(nchw(expected), to: expectedURL)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [
            Self.packageRoot.appendingPathComponent("Tools/onnx/check_onnx.py").path, modelURL.path, inputsURL.path,
            expectedURL.path,
        ]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "\(name): \(output)", file: file, line: line)
        print("ONNX check \(name): \(output.trimmingCharacters(in: .whitespacesAndNewlines))")
    }

    /// Running statistics that are not the initial 0/1, so deterministic mode is really checked.
    private func randomizeRunningStatistics(_ module: Module, seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        for norm in module.modules.compactMap({ $0 as? BatchNorm }) {
            let c = norm.runningMean.value.count
            norm.runningMean.value = Tensor.randomUniform([c], lowerBound: -0.5, upperBound: 0.5, generator: &generator)
            norm.runningVariance.value = Tensor.randomUniform(
                [c], lowerBound: 0.5, upperBound: 2, generator: &generator)
            norm.gamma.value = Tensor.randomUniform([c], lowerBound: 0.5, upperBound: 1.5, generator: &generator)
            norm.beta.value = Tensor.randomUniform([c], lowerBound: -0.5, upperBound: 0.5, generator: &generator)
        }
    }

    /// The library's output in `mode` without dropout: running statistics (deterministic) or
    /// the batch's (paper).
    private func reference(_ module: Module, paper: Bool, _ body: () -> Tensor) -> Tensor {
        module.setTraining(false)
        return withoutGradient { paper ? BatchNorm.withBatchStatisticsInInference(body) : body() }
    }

    private func checkImageModel(
        _ name: String, _ layer: Layer & ONNXExportable, input: Tensor, file: StaticString = #filePath,
        line: UInt = #line
    ) throws {
        for (modeName, mode) in [("deterministic", ONNXInferenceMode.deterministic), ("paper", .paper(dropout: false))]
        {
            let expected = reference(layer, paper: mode != .deterministic) { layer(input) }
            let model = try exportONNXModel(
                inputs: [.image("input", channels: input.shape[3])],
                output: .image("output", channels: expected.shape[3]), mode: mode
            ) { graph, inputs in try layer.exportONNX(inputs[0], into: graph) }
            try check(
                "\(name)-\(modeName)", model: model, inputs: [("input", input)], expected: expected, file: file,
                line: line)
        }
    }

    func testUNetGeneratorMatchesONNXRuntime() throws {
        RandomState.seed(1)
        let generator = UNetGenerator(.init(depth: 5, baseFilters: 4))
        randomizeRunningStatistics(generator, seed: 2)
        let input = randomInput([2, 64, 32, 3], seed: 3)  // batch 2, not square: dynamic axes
        try checkImageModel("unet", generator, input: input)
    }

    func testPyTorchConventionUNetMatchesONNXRuntime() throws {
        RandomState.seed(23)
        let generator = UNetGenerator(.init(depth: 6, baseFilters: 4, convention: .pytorch))
        randomizeRunningStatistics(generator, seed: 24)
        try checkImageModel("unet-pytorch", generator, input: randomInput([1, 64, 64, 3], seed: 25))
    }

    func testUNetWithInstanceNormMatchesONNXRuntime() throws {
        RandomState.seed(4)
        let generator = UNetGenerator(.init(depth: 4, baseFilters: 4, norm: .instance))
        try checkImageModel("unet-instance", generator, input: randomInput([1, 32, 32, 3], seed: 5))
    }

    func testResNetGeneratorsMatchONNXRuntime() throws {
        for (norm, seed) in [(NormalizationKind.batch, UInt64(6)), (.instance, 7)] {
            RandomState.seed(seed)
            let generator = ResNetGenerator(.init(blocks: 2, baseFilters: 4, norm: norm))
            randomizeRunningStatistics(generator, seed: seed)
            try checkImageModel("resnet-\(norm)", generator, input: randomInput([2, 24, 20, 3], seed: seed))
        }
    }

    func testPatchDiscriminatorMatchesONNXRuntime() throws {
        RandomState.seed(8)
        let discriminator = PatchDiscriminator(.init(architecture: .patch(layers: 3), baseFilters: 4))
        randomizeRunningStatistics(discriminator, seed: 9)
        let (source, target) = (randomInput([2, 32, 48, 3], seed: 10), randomInput([2, 32, 48, 3], seed: 11))
        for (modeName, mode) in [("deterministic", ONNXInferenceMode.deterministic), ("paper", .paper(dropout: false))]
        {
            let expected = reference(discriminator, paper: mode != .deterministic) {
                discriminator(source: source, target: target)
            }
            let url = root.appendingPathComponent("d-\(modeName).onnx")
            try discriminator.exportONNX(mode: mode, to: url)
            try check(
                "patchgan-\(modeName)", model: try Data(contentsOf: url),
                inputs: [("source", source), ("target", target)],
                expected: expected)
        }
    }

    /// General layers in one chain: every padding rule of both convolutions, dilation, groups,
    /// output padding, the activations, both norms, reflection padding, Flatten and Linear.
    func testGeneralLayersMatchONNXRuntime() throws {
        RandomState.seed(12)
        let convolutions = Sequential([
            Conv2D(3, 8, kernelSize: 3, padding: .same), GELU(), BatchNorm(8),
            Conv2D(8, 8, kernelSize: (3, 2), stride: (2, 1), padding: .same, groups: 4), SiLU(),
            Conv2D(8, 6, kernelSize: (3, 3), padding: .explicit(height: 1, width: 2), dilation: (2, 1)),
            LeakyReLU(slope: 0.1), ReflectionPad2D(2), Conv2D(6, 6, kernelSize: 5, padding: .valid), InstanceNorm(6),
            Conv2DTranspose(6, 5, kernelSize: 3, stride: 2, padding: .same), ReLU(),
            Conv2DTranspose(5, 4, kernelSize: 4, stride: 2, padding: .same), InstanceNorm(4, affine: false),
            Conv2DTranspose(
                4, 4, kernelSize: (3, 3), stride: (2, 2), padding: .explicit(height: 1, width: 1),
                outputPadding: (1, 0)),
            GELU(approximate: .tanh), Conv2DTranspose(4, 3, kernelSize: 2, stride: 3, padding: .valid), Sigmoid(),
            Conv2DTranspose(3, 3, kernelSize: (3, 3), padding: .valid, dilation: (2, 2)),
            Conv2DTranspose(3, 3, kernelSize: (2, 3), stride: (2, 2), padding: .same), Tanh(),
        ])
        randomizeRunningStatistics(convolutions, seed: 13)
        try checkImageModel("general", convolutions, input: randomInput([2, 12, 10, 3], seed: 14))
        let classifier = Sequential([
            Conv2D(3, 4, kernelSize: 3, stride: 2, padding: .same), Flatten(), Linear(4 * 6 * 5, 7),
        ])
        let input = randomInput([3, 12, 10, 3], seed: 15)
        let expected = reference(classifier, paper: false) { classifier(input) }
        let model = try exportONNXModel(
            inputs: [.image("input", channels: 3)],
            output: ONNXValue(name: "logits", dimensions: [.dynamic("batch"), .fixed(7)]), mode: .deterministic
        ) { graph, inputs in try classifier.exportONNX(inputs[0], into: graph) }
        try check("classifier", model: model, inputs: [("input", input)], expected: expected)
    }

    /// Pooling (overlapping windows, padding, ceil mode, count_include_pad), both upsampling
    /// modes by scale and by size, pixel shuffle, layer norm on images and on features, group
    /// norm, global pooling and softmax.
    func testPoolingUpsamplingNormsAndSoftmaxMatchONNXRuntime() throws {
        RandomState.seed(18)
        let images = Sequential([
            Conv2D(3, 16, kernelSize: 3, padding: .same),
            MaxPool2D(kernelSize: (3, 3), stride: (2, 2), padding: (1, 1)),
            AvgPool2D(kernelSize: (3, 2), stride: (1, 2), padding: (1, 1), ceilMode: true, countIncludePad: false),
            Upsample2D(scale: (2, 3), mode: .nearest), Upsample2D(scale: (2, 2), mode: .bilinear),
            Upsample2D(size: (20, 18), mode: .bilinear), Upsample2D(size: (24, 36), mode: .nearest),
            PixelShuffle(upscaleFactor: 2), PixelUnshuffle(downscaleFactor: 2), PixelShuffle(upscaleFactor: 2),
            LayerNorm(4), Conv2D(4, 8, kernelSize: 3, padding: .same),
            GroupNorm(groups: 4, channels: 8), MaxPool2D(kernelSize: (2, 2), ceilMode: true),
            AvgPool2D(kernelSize: (2, 2), padding: (1, 1)), Softmax(),
        ])
        for norm in images.modules {
            var generator = SeededGenerator(seed: 19)
            if let norm = norm as? LayerNorm {
                norm.gamma!.value = Tensor.randomUniform([4], lowerBound: 0.5, upperBound: 1.5, generator: &generator)
            }
            if let norm = norm as? GroupNorm {
                norm.beta!.value = Tensor.randomUniform([8], lowerBound: -0.5, upperBound: 0.5, generator: &generator)
            }
        }
        try checkImageModel("pooling", images, input: randomInput([2, 13, 11, 3], seed: 20))
        for (name, pool) in [("avg", GlobalAveragePool2D() as Layer), ("max", GlobalMaxPool2D())] {
            let classifier = Sequential([
                Conv2D(3, 6, kernelSize: 3, padding: .same), pool, Linear(6, 5), LayerNorm(5), Softmax(),
            ])
            let input = randomInput([3, 9, 7, 3], seed: 21)
            let expected = reference(classifier, paper: false) { classifier(input) }
            let model = try exportONNXModel(
                inputs: [.image("input", channels: 3)],
                output: ONNXValue(name: "probabilities", dimensions: [.dynamic("batch"), .fixed(5)]),
                mode: .deterministic
            ) { graph, inputs in try classifier.exportONNX(inputs[0], into: graph) }
            try check("global-\(name)", model: model, inputs: [("input", input)], expected: expected)
        }
        let kept = Sequential([
            Conv2D(3, 4, kernelSize: 3, padding: .same), GlobalAveragePool2D(keepingDimensions: true),
        ])
        try checkImageModel("global-kept", kept, input: randomInput([2, 6, 5, 3], seed: 22))
    }

    /// A sequence model: layer norm, linear layers and activations on `[N, T, E]`, and
    /// multi-head self-attention; and `Linear` on an image's channels.
    func testSequenceLayersAndAttentionMatchONNXRuntime() throws {
        RandomState.seed(26)
        let attention = MultiHeadAttention(embedding: 16, heads: 4)
        let mlp = Sequential([
            LayerNorm(16), Linear(16, 24), GELU(), Linear(24, 16), ELU(alpha: 0.7), Softplus(beta: 2), Softplus(),
        ])
        let tokens = randomInput([2, 7, 16], seed: 27)
        for (name, layer) in [("attention", attention as Module & ONNXExportable), ("mlp", mlp)] {
            let expected = withoutGradient {
                layer === attention ? attention(tokens) : mlp(tokens)
            }
            let sequence = ONNXValue(name: "tokens", dimensions: [.dynamic("batch"), .dynamic("tokens"), .fixed(16)])
            let model = try exportONNXModel(
                inputs: [sequence],
                output: ONNXValue(name: "output", dimensions: [.dynamic("batch"), .dynamic("tokens"), .fixed(16)]),
                mode: .deterministic
            ) { graph, inputs in try layer.exportONNX(inputs[0], into: graph) }
            try check(name, model: model, inputs: [("tokens", tokens)], expected: expected)
        }
        // Token indices (whole numbers as floats) → embeddings → a non-affine layer norm.
        let embed = Sequential([Embedding(11, 16), LayerNorm(16, elementwiseAffine: false), Linear(16, 16)])
        let indices = Tensor(shape: [2, 5], scalars: [0, 3, 10, 7, 7, 1, 2, 9, 4, 5])
        let embedded = withoutGradient { embed(indices) }
        let embedModel = try exportONNXModel(
            inputs: [ONNXValue(name: "indices", dimensions: [.dynamic("batch"), .dynamic("tokens")])],
            output: ONNXValue(name: "output", dimensions: [.dynamic("batch"), .dynamic("tokens"), .fixed(16)]),
            mode: .deterministic
        ) { graph, inputs in try embed.exportONNX(inputs[0], into: graph) }
        try check("embedding", model: embedModel, inputs: [("indices", indices)], expected: embedded)
        let pixels = Sequential([Conv2D(3, 4, kernelSize: 3, padding: .same), Linear(4, 5)])
        try checkImageModel("linear-on-images", pixels, input: randomInput([2, 6, 5, 3], seed: 28))
    }

    /// A layer without an export fails with an error naming it (no partial file).
    func testALayerWithoutExportIsNamed() throws {
        let url = root.appendingPathComponent("bad.onnx")
        let dropout = Sequential([Conv2D(3, 4, kernelSize: 3, padding: .same), Dropout2D(rate: 0.5)])
        XCTAssertThrowsError(
            try exportONNX(dropout, inputChannels: 3, outputChannels: 4, mode: .paper(dropout: true), to: url)
        ) { error in XCTAssertTrue("\(error)".contains("Dropout2D"), "\(error)") }
        XCTAssertThrowsError(
            try exportONNX(
                Sequential([
                    Conv2D(3, 4, kernelSize: 3, padding: .same), ReflectionPad2D(1), Dropout2D(rate: 0.1), ScaleByTwo(),
                ]),
                inputChannels: 3, outputChannels: 4, mode: .deterministic, to: url)
        ) { error in XCTAssertTrue("\(error)".contains("ScaleByTwo"), "\(error)") }
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
    }

    /// The paper's mode with dropout on writes ONNX Dropout nodes in training mode; the graph
    /// still passes the checker (its outputs are random, so they are not compared).
    func testPaperModeWithDropoutWritesDropoutNodes() throws {
        RandomState.seed(16)
        let generator = UNetGenerator(.init(depth: 5, baseFilters: 4))
        let model = try exportONNXModel(
            inputs: [.image("input", channels: 3)], output: .image("output", channels: 3), mode: .paper(dropout: true)
        ) { graph, inputs in try generator.exportONNX(inputs[0], into: graph) }
        let text = String(decoding: model, as: UTF8.self)
        XCTAssertTrue(text.contains("Dropout"))
        XCTAssertTrue(text.contains("dropout_training_mode"))
    }

    /// `maps export` on a trained run writes a model ONNX Runtime runs like `maps translate`
    /// (deterministic mode), and names the file when it cannot write it.
    func testMapsExportCommand() throws {
        _ = try python()
        func maps(_ arguments: [String]) throws {
            var command = try MapsCommand.parseAsRoot(arguments)
            try command.run()
        }
        let data = root.appendingPathComponent("data").path, run = root.appendingPathComponent("run").path
        try maps(["synthesize", "--output", data, "--count", "2", "--val-count", "1", "--tile-size", "64"])
        try maps([
            "train", "--data", data, "--output", run, "--steps", "2", "--sample-every", "100", "--image-size", "32",
            "--depth", "5", "--ngf", "4", "--ndf", "4", "--disc-layers", "2",
        ])
        let onnx = root.appendingPathComponent("generator.onnx")
        try maps(["export", "--checkpoint", run, "--output", onnx.path, "--mode", "deterministic"])
        let (generator, _) = try RunDirectory(url: URL(fileURLWithPath: run)).loadGenerator()
        let input = randomInput([1, 64, 32, 3], seed: 17)
        let expected = generator.translate(input, mode: .deterministic)
        try check("maps-export", model: try Data(contentsOf: onnx), inputs: [("input", input)], expected: expected)
        try maps(["export", "--checkpoint", run, "--output", root.appendingPathComponent("paper.onnx").path])
        XCTAssertThrowsError(
            try maps([
                "export", "--checkpoint", run, "--output", root.appendingPathComponent("no/such/dir/g.onnx").path,
            ])
        ) { error in XCTAssertTrue("\(error)".contains("no/such/dir/g.onnx"), "\(error)") }
    }

    /// `maps cyclegan export` of both generators of a trained run, run by ONNX Runtime.
    func testCycleGANExportCommand() throws {
        _ = try python()
        func maps(_ arguments: [String]) throws {
            var command = try MapsCommand.parseAsRoot(arguments)
            try command.run()
        }
        let paired = root.appendingPathComponent("paired").path, data = root.appendingPathComponent("unpaired").path
        let run = root.appendingPathComponent("cyclegan").path
        try maps(["synthesize", "--output", paired, "--count", "2", "--val-count", "1", "--tile-size", "64"])
        try maps(["cyclegan", "split", "--data", paired, "--output", data, "--image-size", "32"])
        try maps([
            "cyclegan", "train", "--data", data, "--output", run, "--steps", "2", "--image-size", "32", "--ngf", "4",
            "--ndf", "4", "--blocks", "2", "--disc-layers", "2", "--no-tensorboard",
        ])
        let (generatorA, generatorB, _) = try CycleGANRunDirectory(url: URL(fileURLWithPath: run)).loadGenerators()
        for (direction, generator) in [("AtoB", generatorA), ("BtoA", generatorB)] {
            let onnx = root.appendingPathComponent("\(direction).onnx")
            try maps(["cyclegan", "export", "--checkpoint", run, "--direction", direction, "--output", onnx.path])
            let input = randomInput([1, 40, 24, 3], seed: 19)
            try check(
                "cyclegan-\(direction)", model: try Data(contentsOf: onnx), inputs: [("input", input)],
                expected: generator.translate(input, mode: .deterministic))
        }
    }

    private func randomInput(_ shape: [Int], seed: UInt64) -> Tensor {
        var generator = SeededGenerator(seed: seed)
        return Tensor.randomUniform(shape, lowerBound: -1, upperBound: 1, generator: &generator)
    }
}

/// A layer of the user's own without an ONNX export.
private final class ScaleByTwo: Layer {
    func callAsFunction(_ input: Tensor) -> Tensor { input * 2 }
}
