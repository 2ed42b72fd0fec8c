import DeepLearning
import Foundation
import Pix2Pix
import XCTest

/// The deterministic input of Tools/keras/convert_keras_pix2pix.py's `pattern()`.
func kerasPattern(_ size: Int, phase: Double) -> Tensor {
    var values = [Float](repeating: 0, count: size * size * 3)
    for y in 0..<size {
        for x in 0..<size {
            for c in 0..<3 {
                let a = 0.11 * Double(y) + 0.07 * Double(x) + 1.3 * Double(c) + phase
                values[(y * size + x) * 3 + c] = Float(sin(a) * cos(0.05 * Double(x) - 0.03 * Double(y) + phase))
            }
        }
    }
    return Tensor(shape: [1, size, size, 3], scalars: values)
}

func fixtureURL(_ name: String) -> URL {
    Bundle.module.resourceURL!.appendingPathComponent("Fixtures/keras/\(name)")
}

final class Pix2PixModelTests: XCTestCase {
    func testSeedModelsHaveKerasParameterCounts() {
        RandomState.seed(0)
        let generator = UNetGenerator()
        let discriminator = PatchDiscriminator()
        let bufferCount = { (m: Module) in m.namedBuffers.reduce(0) { $0 + $1.buffer.value.count } }
        // Keras (Tests/Pix2PixTests/Fixtures/keras/README.json): trainable / total incl. moving statistics.
        XCTAssertEqual(generator.parameterCount, 54_419_459)
        XCTAssertEqual(generator.parameterCount + bufferCount(generator), 54_429_315)
        XCTAssertEqual(discriminator.parameterCount, 6_965_441)
        XCTAssertEqual(discriminator.parameterCount + bufferCount(discriminator), 6_968_257)
    }

    func testGeneratorMaps256ImagesTo256ImagesInUnitRange() {
        RandomState.seed(1)
        let generator = UNetGenerator(.init(baseFilters: 2))
        let x = kerasPattern(256, phase: 0)
        let y = generator(x)
        XCTAssertEqual(y.shape, [1, 256, 256, 3])
        XCTAssertTrue(y.scalars.allSatisfy { $0 >= -1 && $0 <= 1 })
    }

    func testDiscriminatorGivesA16x16PatchMapFor256Pairs() {
        RandomState.seed(2)
        let discriminator = PatchDiscriminator(.init(baseFilters: 2))
        let x = kerasPattern(256, phase: 0)
        XCTAssertEqual(discriminator(source: x, target: x).shape, [1, 16, 16, 1])
        let junyanz = PatchDiscriminator(.init(architecture: .patch(layers: 3), baseFilters: 2))
        XCTAssertEqual(junyanz(source: x, target: x).shape, [1, 32, 32, 1])
        let pixel = PatchDiscriminator(.init(architecture: .pixel, baseFilters: 2))
        XCTAssertEqual(pixel(source: x, target: x).shape, [1, 256, 256, 1])
    }

    func testGeneratorIsFullyConvolutional() {
        RandomState.seed(3)
        let generator = UNetGenerator(.init(depth: 5, baseFilters: 2))
        XCTAssertEqual(generator(Tensor.zeros([1, 64, 96, 3])).shape, [1, 64, 96, 3])
        XCTAssertEqual(generator(Tensor.zeros([2, 32, 32, 3])).shape, [2, 32, 32, 3])
    }

    func testGeneratorMatchesKerasOnConvertedSeedWeights() throws {
        let generator = UNetGenerator(.init(baseFilters: 2, dropout: false))
        try generator.load(from: fixtureURL("generator.safetensors"))
        // The seed calls BatchNormalization(training=True): batch statistics, in training mode.
        generator.setTraining(true)
        let output = withoutGradient { generator(kerasPattern(256, phase: 0)) }
        let expected = try NPY.read(from: fixtureURL("generator_output.npy"))
        assertClose(output, expected, tolerance: 1e-4, "generator vs Keras")
    }

    func testDiscriminatorMatchesKerasOnConvertedSeedWeights() throws {
        let discriminator = PatchDiscriminator(.init(baseFilters: 2))
        try discriminator.load(from: fixtureURL("discriminator.safetensors"))
        let source = kerasPattern(256, phase: 0), target = kerasPattern(256, phase: 0.5)
        discriminator.setTraining(false)
        let inference = withoutGradient { discriminator.probabilities(source: source, target: target) }
        assertClose(
            inference, try NPY.read(from: fixtureURL("discriminator_inference.npy")), tolerance: 1e-4, "inference")
        discriminator.setTraining(true)
        let training = withoutGradient { discriminator.probabilities(source: source, target: target) }
        assertClose(training, try NPY.read(from: fixtureURL("discriminator_training.npy")), tolerance: 1e-4, "training")
    }

    func testPaperInferenceSamplesDropoutButDeterministicModeDoesNot() {
        RandomState.seed(4)
        let generator = UNetGenerator(.init(depth: 4, baseFilters: 4))
        let x = RandomState.withGenerator {
            Tensor.randomUniform([1, 16, 16, 3], lowerBound: -1, upperBound: 1, generator: &$0)
        }
        _ = generator(x)  // one training pass so running statistics are not the initial ones
        let a = generator.translate(x, mode: .deterministic), b = generator.translate(x, mode: .deterministic)
        XCTAssertEqual(a.scalars, b.scalars)
        let c = generator.translate(x, mode: .paper), d = generator.translate(x, mode: .paper)
        XCTAssertNotEqual(c.scalars, d.scalars)
        XCTAssertTrue(
            generator.modules.compactMap { $0 as? BatchNorm }.allSatisfy { $0.isTraining })
        XCTAssertEqual(generator.translate(x.reshaped(to: [16, 16, 3]), mode: .deterministic).shape, [16, 16, 3])
    }
}

/// Fails unless `actual` matches `expected` elementwise within `tolerance`.
func assertClose(
    _ actual: Tensor, _ expected: Tensor, tolerance: Float, _ message: String = "",
    file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertEqual(actual.shape, expected.shape, message, file: file, line: line)
    guard actual.shape == expected.shape else { return }
    XCTAssertLessThanOrEqual(
        actual.maxAbsoluteDifference(to: expected), tolerance, "max |Δ| \(message)", file: file, line: line)
}
