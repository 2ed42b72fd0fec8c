import DeepLearning
import Foundation
import XCTest

@testable import Pix2Pix

/// junyanz's ResNet generators saved by PyTorch (`torch.save(net.state_dict(), …)`, fixtures
/// from Tools/pytorch/make_junyanz_fixtures.py) load through the restricted reader and give
/// PyTorch's outputs; hostile files get one-line errors naming the file.
final class PyTorchImportTests: XCTestCase {
    private func fixture(_ name: String) -> URL {
        Bundle.module.resourceURL!.appendingPathComponent("Fixtures/pytorch/\(name)")
    }

    private func nhwc(_ x: Tensor) -> Tensor { x.permuted([0, 2, 3, 1]) }

    func testJunyanzResNetGeneratorsGivePyTorchsOutputs() throws {
        for (name, norm, dropout) in [
            ("resnet_batch", NormalizationKind.batch, false), ("resnet_instance", .instance, true),
        ] {
            let generator = try ResNetGenerator.fromPyTorch(checkpoint: fixture("\(name)_net_G.pth"))
            XCTAssertEqual(
                generator.configuration,
                .init(blocks: 2, baseFilters: 4, norm: norm, dropout: dropout, convention: .pytorch), name)
            let reference = try NPZ.read(from: fixture("\(name).npz"))
            let input = nhwc(reference["input"]!)
            generator.setTraining(false)
            let deterministic = withoutGradient { generator(input) }
            assertClose(deterministic, nhwc(reference["deterministic"]!), "\(name) eval mode")
            let batchStatistics = withoutGradient { BatchNorm.withBatchStatisticsInInference { generator(input) } }
            assertClose(batchStatistics, nhwc(reference["batch_statistics"]!), "\(name) batch statistics")
        }
    }

    func testJunyanzUNetGeneratorsGivePyTorchsOutputs() throws {
        for (name, norm, depth) in [("unet_batch", NormalizationKind.batch, 6), ("unet_instance", .instance, 5)] {
            let layer = try pix2pixGenerator(pytorchCheckpoint: fixture("\(name)_net_G.pth"))
            let generator = try XCTUnwrap(layer as? UNetGenerator, name)
            XCTAssertEqual(
                generator.configuration, .init(depth: depth, baseFilters: 4, norm: norm, convention: .pytorch), name)
            // junyanz puts dropout in the depth − 5 blocks after the innermost.
            XCTAssertEqual(
                generator.decoder.map { $0.dropout != nil }, (0..<(depth - 1)).map { $0 >= 1 && $0 <= depth - 5 })
            assertNormsHaveNoScaleOrOffset(generator, norm, name)
            let reference = try NPZ.read(from: fixture("\(name).npz"))
            let input = nhwc(reference["input"]!)
            let deterministic = generator.translate(input, mode: .deterministic)
            assertClose(deterministic, nhwc(reference["deterministic"]!), "\(name) eval mode")
            generator.setTraining(false)
            let batchStatistics = withoutGradient { BatchNorm.withBatchStatisticsInInference { generator(input) } }
            assertClose(batchStatistics, nhwc(reference["batch_statistics"]!), "\(name) batch statistics")
        }
    }

    func testJunyanzDiscriminatorsGivePyTorchsOutputs() throws {
        for (name, architecture, norm) in [
            ("patchgan_batch", PatchDiscriminator.Architecture.patch(layers: 3), NormalizationKind.batch),
            ("pixelgan_instance", .pixel, .instance),
        ] {
            let discriminator = try PatchDiscriminator.fromPyTorch(checkpoint: fixture("\(name)_net_D.pth"))
            XCTAssertEqual(
                discriminator.configuration,
                .init(architecture: architecture, baseFilters: 4, norm: norm, convention: .pytorch), name)
            assertNormsHaveNoScaleOrOffset(discriminator, norm, name)
            let reference = try NPZ.read(from: fixture("\(name).npz"))
            let pair = nhwc(reference["input"]!)  // junyanz's cat(real_A, fake_B)
            let (source, target) = (pair.slice(axis: 3, 0..<3), pair.slice(axis: 3, 3..<6))
            discriminator.setTraining(false)
            let deterministic = withoutGradient { discriminator(source: source, target: target) }
            assertClose(deterministic, nhwc(reference["deterministic"]!), "\(name) eval mode")
            let batchStatistics = withoutGradient {
                BatchNorm.withBatchStatisticsInInference { discriminator(source: source, target: target) }
            }
            assertClose(batchStatistics, nhwc(reference["batch_statistics"]!), "\(name) batch statistics")
        }
    }

    /// The same network with Keras's arithmetic differs: the convention matters.
    func testKerasConventionDiffersFromPyTorchs() throws {
        let pytorch = try ResNetGenerator.fromPyTorch(checkpoint: fixture("resnet_batch_net_G.pth"))
        var configuration = pytorch.configuration
        configuration.convention = .keras
        let keras = ResNetGenerator(configuration)
        try (keras as Module).loadStateDictionary(
            Dictionary(uniqueKeysWithValues: (pytorch as Module).stateDictionary().map { ($0.name, $0.tensor) }))
        let input = nhwc(try NPZ.read(from: fixture("resnet_batch.npz"))["input"]!)
        pytorch.setTraining(false)
        keras.setTraining(false)
        let difference = zip(withoutGradient { pytorch(input) }.scalars, withoutGradient { keras(input) }.scalars)
            .map { abs($0 - $1) }.max()!
        XCTAssertGreaterThan(difference, 1e-3)
    }

    func testHostileFilesAreRefusedWithTheirName() throws {
        let cases: [(String, String)] = [
            ("hostile_calls_system.pth", "refuses to load 'posix.system'"),
            ("hostile_short_storage.pth", "should hold 1000 × 4 bytes but has 16"),
            ("hostile_truncated.pth", "not a valid PyTorch (ZIP) archive"),
            ("hostile_no_pickle.pth", "holds no data.pkl"),
            ("hostile_list.pth", "not a state dictionary"),
            ("missing.pth", "no such file"),
        ]
        for (file, message) in cases {
            XCTAssertThrowsError(try TorchCheckpoint.readStateDictionary(from: fixture(file)), file) { error in
                let text = "\(error)"
                XCTAssertTrue(text.contains(file), "\(file): \(text)")
                XCTAssertTrue(text.contains(message), "\(file): \(text)")
                XCTAssertFalse(text.contains("\n"), "\(file): one line")
            }
        }
    }

    /// A state dictionary of another architecture, or with a wrong shape or an extra tensor,
    /// names the tensor.
    func testMismatchedStateDictionariesNameTheTensor() throws {
        var state = try TorchCheckpoint.readStateDictionary(from: fixture("resnet_batch_net_G.pth"))
        let source = "x.pth"
        state["model.1.weight"] = Tensor.zeros([4, 3, 5, 5])
        XCTAssertThrowsError(try ResNetGenerator.fromPyTorch(state, source: source)) { error in
            XCTAssertTrue("\(error)".contains("'model.1.weight' has shape [4, 3, 5, 5]"), "\(error)")
        }
        state = try TorchCheckpoint.readStateDictionary(from: fixture("resnet_batch_net_G.pth"))
        state["model.99.weight"] = Tensor.zeros([1])
        XCTAssertThrowsError(try ResNetGenerator.fromPyTorch(state, source: source)) { error in
            XCTAssertTrue("\(error)".contains("model.99.weight"), "\(error)")
        }
        XCTAssertThrowsError(
            try ResNetGenerator.fromPyTorch(["model.model.0.weight": Tensor.zeros([1])], source: source)
        ) { error in XCTAssertTrue("\(error)".contains("not a junyanz ResnetGenerator"), "\(error)") }
    }

    /// junyanz's instance norm is `InstanceNorm2d(affine=False)`: nothing for training to move
    /// (batch norm keeps its γ and β).
    private func assertNormsHaveNoScaleOrOffset(
        _ model: Module, _ norm: NormalizationKind, _ name: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        let affine = model.namedParameters.map(\.name).filter { $0.hasSuffix(".gamma") || $0.hasSuffix(".beta") }
        if norm == .instance {
            XCTAssertEqual(affine, [], "\(name): instance norm without γ and β", file: file, line: line)
        } else {
            XCTAssertFalse(affine.isEmpty, "\(name): batch norm with γ and β", file: file, line: line)
        }
    }

    private func assertClose(
        _ a: Tensor, _ b: Tensor, _ message: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(a.shape, b.shape, message, file: file, line: line)
        let worst = zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, 1e-4, "\(message): max |Δ| \(worst)", file: file, line: line)
        print("PyTorch import \(message): max |Δ| \(worst)")
    }
}
