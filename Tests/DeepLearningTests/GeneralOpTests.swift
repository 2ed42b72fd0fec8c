@testable @_spi(Benchmarks) import DeepLearning
import Foundation
import XCTest

/// Numerical gradient checks and behaviour of the general ops: softmax, classification losses,
/// Linear, the newer activations and unary functions, and the losses' target gradients.
final class GeneralOpTests: XCTestCase {
    func testGradientsOfSoftmaxAndLogSoftmaxAlongAnyAxis() {
        let x = randomTensor([2, 3, 4], seed: 1, lower: -2, upper: 2)
        for axis in [-1, 0, 1] {
            checkGradients(of: { $0[0].softmax(alongAxis: axis) }, at: [x])
            checkGradients(of: { $0[0].logSoftmax(alongAxis: axis) }, at: [x])
        }
    }

    func testSoftmaxIsStableAndSumsToOne() {
        let y = Tensor(shape: [2, 3], scalars: [1000, 1001, 1002, -1000, -1000, -1000]).softmax()
        XCTAssertTrue(y.isFinite)
        assertClose(y.sum(alongAxes: [1]), Tensor([1, 1]), tolerance: 1e-6)
        assertClose(y.slice(axis: 0, 1..<2), Tensor(shape: [1, 3], repeating: 1.0 / 3), tolerance: 1e-6)
        let logY = Tensor(shape: [1, 2], scalars: [0, -200]).logSoftmax()
        XCTAssertEqual(logY.scalars[1], -200, accuracy: 1e-4, "no log(0) for a far-off class")
    }

    func testGradientsOfCrossEntropyWithWeightsAndSmoothing() {
        let logits = randomTensor([5, 4], seed: 2, lower: -2, upper: 2)
        let weights = Tensor([0.5, 2, 1, 1.5])
        for reduction in [Reduction.mean, .sum, .none] {
            checkGradients(
                of: {
                    try! crossEntropy(
                        $0[0], labels: [3, 0, 1, 1, 2], weights: weights, labelSmoothing: 0.1, reduction: reduction)
                }, at: [logits])
        }
        checkGradients(of: { try! nllLoss($0[0].logSoftmax(), labels: [3, 0, 1, 1, 2]) }, at: [logits])
    }

    func testBadLabelsAreErrorsNamingTheLabel() {
        let logits = Tensor.zeros([3, 4])
        XCTAssertThrowsError(try crossEntropy(logits, labels: [0, 4, 1])) { error in
            XCTAssertEqual("\(error)", "crossEntropy: label 4 at position 1 is outside 0..<4")
        }
        XCTAssertThrowsError(try crossEntropy(logits, labels: [0, -1, 1])) { error in
            XCTAssertTrue("\(error)".contains("label -1 at position 1"), "\(error)")
        }
        XCTAssertThrowsError(try nllLoss(logits, labels: [0, 1])) { error in
            XCTAssertEqual("\(error)", "nllLoss: 2 labels for 3 rows of 4 classes")
        }
        XCTAssertThrowsError(try crossEntropy(logits, labels: [0, 1, 2], weights: Tensor([1, 2]))) { error in
            XCTAssertTrue(error is ShapeError && "\(error)".contains("[2] must be [4]"), "\(error)")
        }
    }

    func testArgmaxTakesTheFirstMaximumAndAccuracyCountsHits() {
        let logits = Tensor(shape: [3, 3], scalars: [1, 5, 5, 0, -1, -2, 2, 2, 3])
        XCTAssertEqual(logits.argmax(), [1, 0, 2])
        XCTAssertEqual(logits.argmax(alongAxis: 0), [2, 0, 0])
        XCTAssertEqual(accuracy(logits, labels: [1, 2, 2]), 2.0 / 3, accuracy: 1e-7)
    }

    func testGradientsOfLinearOnTheLastAxisOfAnyRank() {
        let w = randomTensor([4, 3], seed: 4), b = randomTensor([3], seed: 5)
        checkGradients(
            of: { linear($0[0], weight: $0[1], bias: $0[2]) }, at: [randomTensor([2, 5, 4], seed: 3), w, b])
        checkGradients(of: { linear($0[0], weight: $0[1]) }, at: [randomTensor([4], seed: 6), w])
        XCTAssertEqual(Flatten()(Tensor.zeros([2, 3, 4, 5])).shape, [2, 60])
        XCTAssertEqual(Linear(60, 7)(Tensor.zeros([2, 60])).shape, [2, 7])
    }

    func testGradientsOfNewActivationsAndUnaryFunctions() {
        // Values at least 0.1 from the kinks of ELU and softplus's threshold.
        let x = randomTensor([3, 7], seed: 7, lower: -3, upper: 3).mapElements { $0 >= 0 ? $0 + 0.1 : $0 - 0.1 }
        let ops: [(String, (Tensor) -> Tensor)] = [
            ("gelu", { $0.gelu() }), ("gelu tanh", { $0.gelu(approximate: .tanh) }), ("silu", { $0.silu() }),
            ("elu", { $0.elu(alpha: 0.7) }), ("softplus", { $0.softplus(beta: 2, threshold: 20) }),
            ("sin", { $0.sin() }), ("cos", { $0.cos() }), ("erf", { $0.erf() }),
        ]
        for (_, op) in ops { checkGradients(of: { op($0[0]) }, at: [x]) }
        XCTAssertEqual(Tensor([100]).softplus().scalar, 100, "identity above the threshold, no overflow")
        XCTAssertEqual(Tensor([-100]).softplus().scalar, 0, accuracy: 1e-30)
    }

    func testLossesDifferentiateTheirTargetsToo() {
        let p = randomTensor([3, 4], seed: 8), q = randomTensor([3, 4], seed: 9)
        checkGradients(of: { l1Loss($0[0], $0[1]) }, at: [p, q])
        checkGradients(of: { meanSquaredError($0[0], $0[1], reduction: .none) }, at: [p, q])
        checkGradients(of: { binaryCrossEntropy(logits: $0[0], $0[1].sigmoid()) }, at: [p, q])
        let probabilities = randomTensor([3, 4], seed: 10, lower: 0.2, upper: 0.8)
        checkGradients(of: { binaryCrossEntropy($0[0], $0[1].sigmoid()) }, at: [probabilities, q])
    }

    /// The 16-lane exponential of the softmax kernels: within 2 ulp of libm's expf over the
    /// normal range, 0 below it, ±∞ and NaN handled.
    func testVectorExpIsWithinTwoUlpOfLibm() {
        var worst: Float = 0
        var x: Float = -87
        while x < 88.5 {
            var lanes = SIMD16<Float>(repeating: 0)
            for i in 0..<16 { lanes[i] = x + Float(i) * 0.000_37 }
            let y = vectorExp(lanes)
            for i in 0..<16 {
                let reference = expf(lanes[i])
                worst = max(worst, abs(y[i] - reference) / reference.ulp)
            }
            x += 0.0137
        }
        XCTAssertLessThanOrEqual(worst, 2, "worst error \(worst) ulp")
        let special = vectorExp(
            SIMD16<Float>([-.infinity, -100, 0, 100, .infinity, .nan] + Array(repeating: 0, count: 10)))
        XCTAssertEqual(Array(special.indices.prefix(5)).map { special[$0] }, [0, 0, 1, .infinity, .infinity])
        XCTAssertTrue(special[5].isNaN)
    }

    /// The C kernels (AVX-512F, AVX2 + FMA) and the Swift SIMD loops give the same softmax,
    /// log-softmax, GELU, SiLU, layer-norm and group-norm values and gradients, tails included.
    func testPointwiseKernelLevelsAgree() throws {
        let saved = PointwiseKernels.level
        defer { PointwiseKernels.level = saved }
        try XCTSkipIf(ThinProduct.supportedLevel == 0, "no AVX2 or AVX-512 here: only the Swift loops exist")
        let rows = randomTensor([5, 37], seed: 51, lower: -6, upper: 6)
        let image = randomTensor([3, 4, 5, 20], seed: 52, lower: -3, upper: 3)
        let (gamma, beta) = (randomTensor([37], seed: 53), randomTensor([37], seed: 54))
        let (groupGamma, groupBeta) = (randomTensor([20], seed: 55), randomTensor([20], seed: 56))
        let ops: [(String, Tensor, (Tensor) -> Tensor)] = [
            ("softmax", rows, { $0.softmax() }), ("log-softmax", rows, { $0.logSoftmax() }),
            ("gelu", rows, { $0.gelu() }), ("silu", rows, { $0.silu() }),
            ("layer norm", rows, { layerNormalized($0, gamma: gamma, beta: beta) }),
            ("group norm", image, { groupNormalized($0, groups: 4, gamma: groupGamma, beta: groupBeta) }),
        ]
        for (name, x, op) in ops {
            var results: [(Tensor, Tensor)] = []
            for level in 0...ThinProduct.supportedLevel {
                PointwiseKernels.level = level
                let input = Parameter(x)
                let y = op(input.value)
                (y * x).sum().backward()
                results.append((y, input.gradient!))
            }
            for (level, (y, gradient)) in results.enumerated().dropFirst() {
                assertClose(y, results[0].0, tolerance: 2e-6, "\(name) level \(level)")
                assertClose(gradient, results[0].1, tolerance: 1e-5, "\(name) gradient level \(level)")
            }
        }
    }
}
