@testable import DeepLearning
import Foundation
import XCTest

/// Elementwise math and activations: values at known points and gradient checks away from
/// kinks (the finite-difference step is 1e-2, so inputs stay at least 0.1 from 0 and bounds).
final class UnaryTests: XCTestCase {
    /// Random values in ±[0.1, 1.1): no element within a finite-difference step of 0.
    private func awayFromZero(_ shape: [Int], seed: UInt64) -> Tensor {
        randomTensor(shape, seed: seed).mapElements { $0 >= 0 ? $0 + 0.1 : $0 - 0.1 }
    }

    func testValuesAtKnownPoints() {
        let x = Tensor([-2, -0.5, 0, 0.5, 2])
        assertClose(x.exp(), Tensor([expf(-2), expf(-0.5), 1, expf(0.5), expf(2)]), tolerance: 1e-6)
        assertClose(Tensor([1, Float(M_E), 4]).log(), Tensor([0, 1, logf(4)]), tolerance: 1e-6)
        XCTAssertEqual(Tensor([0, 4, 9]).sqrt().scalars, [0, 2, 3])
        XCTAssertEqual(x.squared().scalars, [4, 0.25, 0, 0.25, 4])
        XCTAssertEqual(x.abs().scalars, [2, 0.5, 0, 0.5, 2])
        assertClose(x.tanh(), Tensor([tanhf(-2), tanhf(-0.5), 0, tanhf(0.5), tanhf(2)]), tolerance: 1e-6)
        XCTAssertEqual(x.relu().scalars, [0, 0, 0, 0.5, 2])
        XCTAssertEqual(x.leakyReLU(slope: 0.2).scalars, [-0.4, -0.1, 0, 0.5, 2])
        XCTAssertEqual(x.leakyReLU().scalars, x.leakyReLU(slope: 0.2).scalars, "default slope is pix2pix's 0.2")
        XCTAssertEqual(Tensor([1, 2, 3]).pow(2).scalars, [1, 4, 9])
        assertClose(Tensor([4, 9]).pow(-0.5), Tensor([0.5, 1.0 / 3]), tolerance: 1e-6)
        XCTAssertEqual(x.clamped(to: -1, 1).scalars, [-1, -0.5, 0, 0.5, 1])
    }

    func testSigmoidIsStableAtExtremes() {
        let y = Tensor([-200, -20, 0, 20, 200]).sigmoid()
        XCTAssertTrue(y.isFinite)
        XCTAssertEqual(y[2], 0.5)
        XCTAssertEqual(y[0], 0)
        XCTAssertEqual(y[4], 1)
        XCTAssertEqual(y[1], 1 / (1 + expf(20)), accuracy: 1e-12)
        XCTAssertEqual(y[3], 1 / (1 + expf(-20)), accuracy: 1e-7)
    }

    func testFreeFunctionsMatchMethods() {
        let x = randomTensor([2, 3], seed: 2, lower: 0.5, upper: 2)
        XCTAssertEqual(exp(x).scalars, x.exp().scalars)
        XCTAssertEqual(log(x).scalars, x.log().scalars)
        XCTAssertEqual(sqrt(x).scalars, x.sqrt().scalars)
        XCTAssertEqual(abs(x).scalars, x.abs().scalars)
        XCTAssertEqual(tanh(x).scalars, x.tanh().scalars)
        XCTAssertEqual(sigmoid(x).scalars, x.sigmoid().scalars)
        XCTAssertEqual(relu(x).scalars, x.relu().scalars)
        XCTAssertEqual(leakyReLU(x, slope: 0.3).scalars, x.leakyReLU(slope: 0.3).scalars)
    }

    func testGradientsOfSmoothFunctions() {
        let x = randomTensor([2, 3], seed: 7, lower: -2, upper: 2)
        let positive = randomTensor([2, 3], seed: 8, lower: 0.5, upper: 2)
        checkGradients(of: { $0[0].exp() }, at: [x])
        checkGradients(of: { $0[0].log() }, at: [positive])
        checkGradients(of: { $0[0].sqrt() }, at: [positive])
        checkGradients(of: { $0[0].squared() }, at: [x])
        checkGradients(of: { $0[0].tanh() }, at: [x])
        checkGradients(of: { $0[0].sigmoid() }, at: [x])
        checkGradients(of: { $0[0].pow(3) }, at: [x])
        checkGradients(of: { $0[0].pow(-1.5) }, at: [positive])
        checkGradients(of: { $0[0].pow(0.5) }, at: [positive])
    }

    func testGradientsOfPiecewiseFunctionsAwayFromKinks() {
        let x = awayFromZero([2, 4], seed: 9)
        checkGradients(of: { $0[0].abs() }, at: [x])
        checkGradients(of: { $0[0].relu() }, at: [x])
        checkGradients(of: { $0[0].leakyReLU(slope: 0.2) }, at: [x])
        checkGradients(of: { $0[0].leakyReLU(slope: 0.3) }, at: [x])
        // Elements inside and outside [-0.5, 0.5], none within 0.05 of a bound.
        let y = Tensor(shape: [2, 3], scalars: [-0.9, -0.3, 0.1, 0.35, 0.7, -0.6])
        checkGradients(of: { $0[0].clamped(to: -0.5, 0.5) }, at: [y])
    }

    func testVectorKernelsMatchScalarDefinitionsOnLargeTensors() {
        // 70,001 elements: the SIMD body, the scalar tail and the multi-threaded split all run.
        var generator = SeededGenerator(seed: 21)
        let x = Parameter(Tensor.randomUniform([70_001], lowerBound: -2, upperBound: 2, generator: &generator))
        let seed = Tensor.randomUniform([70_001], lowerBound: -1, upperBound: 1, generator: &generator)
        let xs = x.value.scalars, gs = seed.scalars
        for slope: Float in [0.2, 0.01] {
            x.zeroGradient()
            let y = x.value.leakyReLU(slope: slope)
            XCTAssertEqual(y.scalars, xs.map { $0 > 0 ? $0 : slope * $0 })
            y.backward(seed: seed)
            XCTAssertEqual(x.gradient?.scalars, zip(xs, gs).map { $0 > 0 ? $1 : slope * $1 })
        }
        x.zeroGradient()
        let r = x.value.relu()
        XCTAssertEqual(r.scalars, xs.map { Swift.max($0, 0) })
        r.backward(seed: seed)
        XCTAssertEqual(x.gradient?.scalars, zip(xs, gs).map { $0 > 0 ? $1 : 0 })
        // A non-positive slope cannot be recovered from the output; the scalar path handles it.
        x.zeroGradient()
        x.value.leakyReLU(slope: -0.5).backward(seed: seed)
        XCTAssertEqual(x.gradient?.scalars, zip(xs, gs).map { $0 > 0 ? $1 : -0.5 * $1 })
    }

    func testTanhMatchesTheLibmFunctionToAFewUlp() {
        // A dense grid over [-12, 12] plus the special values.
        var scalars = stride(from: Float(-12), through: 12, by: 0.000_37).map { $0 }
        scalars += [0, -0, 1e-8, -1e-8, 3.9e-4, 4.1e-4, .infinity, -.infinity, 1e30, -1e30]
        let y = Tensor(scalars).tanh().scalars
        var worst: (error: Float, x: Float) = (0, 0)
        for (x, value) in zip(scalars, y) {
            let exact = Foundation.tanhf(x)
            let error = Swift.abs(value - exact) / Swift.max(Swift.abs(exact), 1e-30)
            if error > worst.error { worst = (error, x) }
        }
        // Eigen's interpolant: within 3·ε of libm everywhere (measured 2.5·ε near ±6).
        XCTAssertLessThan(worst.error, 3 * Float.ulpOfOne, "worst relative error at x = \(worst.x)")
        XCTAssertTrue(Tensor([.nan, 1]).tanh().scalars[0].isNaN)
        XCTAssertEqual(Tensor([-0.0]).tanh().scalars[0].sign, .minus)
    }

    func testGradientsOfVectorKernelsAcrossBodyAndTail() {
        let x = awayFromZero([37], seed: 12)
        checkGradients(of: { $0[0].relu() }, at: [x])
        checkGradients(of: { $0[0].leakyReLU(slope: 0.2) }, at: [x])
        checkGradients(of: { $0[0].tanh() }, at: [x])
    }

    func testGradientsAtKinksFollowPyTorch() {
        // PyTorch: d|x|/dx = 0, d relu/dx = 0 at 0; leakyReLU takes the negative slope at 0.
        let x = Parameter(Tensor([0, 0, 0]))
        (x.value.abs() + x.value.relu() + x.value.leakyReLU(slope: 0.2)).sum().backward()
        XCTAssertEqual(x.gradient?.scalars, [0.2, 0.2, 0.2])
    }

    func testUnaryOnConstantRecordsNothing() {
        XCTAssertFalse(Tensor([1, 2]).exp().requiresGradient)
        XCTAssertTrue(Parameter(Tensor([1, 2])).value.exp().requiresGradient)
    }
}
