@testable import DeepLearning
import XCTest

/// `+ − × ÷` with NumPy broadcasting: forward values against NumPy, gradients against
/// central differences.
final class ArithmeticTests: XCTestCase {
    // a = np.arange(1, 7, dtype=np.float32).reshape(2, 3); b = np.array([10, 20, 30], np.float32)
    let a = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
    let b = Tensor([10, 20, 30])

    func testRowBroadcastMatchesNumPy() {
        // a + b, a - b, a * b, a / b
        XCTAssertEqual((a + b).scalars, [11, 22, 33, 14, 25, 36])
        XCTAssertEqual((a - b).scalars, [-9, -18, -27, -6, -15, -24])
        XCTAssertEqual((a * b).scalars, [10, 40, 90, 40, 100, 180])
        assertClose(a / b, Tensor(shape: [2, 3], scalars: [0.1, 0.1, 0.1, 0.4, 0.25, 0.2]), tolerance: 1e-7)
        // Broadcasting is symmetric: b + a has the same shape and values.
        XCTAssertEqual((b + a).shape, [2, 3])
        XCTAssertEqual((b + a).scalars, (a + b).scalars)
    }

    func testBothOperandsBroadcastMatchesNumPy() {
        // np.arange(8, dtype=np.float32).reshape(2, 1, 4) * np.array([[1], [2], [3]], np.float32)
        let c = Tensor(shape: [2, 1, 4], scalars: (0..<8).map(Float.init))
        let d = Tensor(shape: [3, 1], scalars: [1, 2, 3])
        let product = c * d
        XCTAssertEqual(product.shape, [2, 3, 4])
        XCTAssertEqual(
            product.scalars, [0, 1, 2, 3, 0, 2, 4, 6, 0, 3, 6, 9, 4, 5, 6, 7, 8, 10, 12, 14, 12, 15, 18, 21])
    }

    func testColumnOverRowBroadcastMatchesNumPy() {
        // np.arange(1, 5).reshape(4, 1) / np.arange(1, 6).reshape(1, 5)  (float32)
        let e = Tensor(shape: [4, 1], scalars: [1, 2, 3, 4])
        let f = Tensor(shape: [1, 5], scalars: [1, 2, 3, 4, 5])
        let expected = Tensor(
            shape: [4, 5],
            scalars: [
                1, 0.5, 1.0 / 3, 0.25, 0.2,
                2, 1, 2.0 / 3, 0.5, 0.4,
                3, 1.5, 1, 0.75, 0.6,
                4, 2, 4.0 / 3, 1, 0.8,
            ])
        assertClose(e / f, expected, tolerance: 1e-6)
    }

    func testScalarTensorBroadcastsAgainstAnyShape() {
        // np.float32(3) - a
        let three = Tensor(3)
        XCTAssertEqual(three.shape, [])
        XCTAssertEqual((three - a).scalars, [2, 1, 0, -1, -2, -3])
        XCTAssertEqual((a - three).scalars, [-2, -1, 0, 1, 2, 3])
        XCTAssertEqual((three * three).shape, [])
        // A [1, 1] tensor is not a scalar: it raises the rank like NumPy does.
        XCTAssertEqual((Tensor(shape: [1, 1], repeating: 2) * b).shape, [1, 3])
    }

    func testFloatOperands() {
        XCTAssertEqual((a + 1).scalars, [2, 3, 4, 5, 6, 7])
        XCTAssertEqual((1 + a).scalars, [2, 3, 4, 5, 6, 7])
        XCTAssertEqual((a - 1).scalars, [0, 1, 2, 3, 4, 5])
        XCTAssertEqual((1 - a).scalars, [0, -1, -2, -3, -4, -5])
        XCTAssertEqual((a * 2).scalars, [2, 4, 6, 8, 10, 12])
        XCTAssertEqual((2 * a).scalars, [2, 4, 6, 8, 10, 12])
        XCTAssertEqual((a / 2).scalars, [0.5, 1, 1.5, 2, 2.5, 3])
        XCTAssertEqual((6 / a).scalars, [6, 3, 2, 1.5, 1.2, 1])
        XCTAssertEqual((-a).scalars, [-1, -2, -3, -4, -5, -6])
        var x = a
        x += b; x -= a; x *= Tensor(2)
        XCTAssertEqual(x.scalars, [20, 40, 60, 20, 40, 60])
    }

    func testBroadcastShapeRules() {
        XCTAssertEqual(broadcastShape([2, 3], [3]), [2, 3])
        XCTAssertEqual(broadcastShape([2, 1, 4], [3, 1]), [2, 3, 4])
        XCTAssertEqual(broadcastShape([], [2, 3]), [2, 3])
        XCTAssertEqual(broadcastShape([4, 1], [1, 5]), [4, 5])
        XCTAssertEqual(broadcastShape([0, 3], [3]), [0, 3])
        XCTAssertNil(broadcastShape([2, 3], [2]))
        XCTAssertNil(broadcastShape([2, 3], [4, 3]))
    }

    func testLargeBroadcastUsesTheParallelPathCorrectly() {
        // Big enough (> one 32k grain) to split across threads; [N, H, W, C] + [C] per channel.
        let x = randomTensor([2, 64, 64, 8], seed: 3)
        let bias = Tensor((0..<8).map(Float.init))
        let sum = x + bias
        let xs = x.scalars, ss = sum.scalars
        for i in stride(from: 0, to: xs.count, by: 97) {
            XCTAssertEqual(ss[i], xs[i] + Float(i % 8))
        }
    }

    // MARK: Gradients

    func testGradientsOfTensorTensorOpsWithBroadcasting() {
        let cases: [([Int], [Int])] = [
            ([2, 3], [2, 3]), ([2, 3], [3]), ([3], [2, 3]),
            ([2, 1, 4], [3, 1]), ([], [2, 3]), ([2, 3], []), ([4, 1], [1, 5]),
        ]
        for (index, (shapeA, shapeB)) in cases.enumerated() {
            let x = randomTensor(shapeA, seed: UInt64(10 + index))
            let y = randomTensor(shapeB, seed: UInt64(20 + index))
            // Denominators kept in [0.5, 1.5] so 1/y is smooth at the finite-difference step.
            let denominator = randomTensor(shapeB, seed: UInt64(30 + index), lower: 0.5, upper: 1.5)
            checkGradients(of: { $0[0] + $0[1] }, at: [x, y])
            checkGradients(of: { $0[0] - $0[1] }, at: [x, y])
            checkGradients(of: { $0[0] * $0[1] }, at: [x, y])
            checkGradients(of: { $0[0] / $0[1] }, at: [x, denominator])
        }
    }

    func testGradientsOfTensorFloatOps() {
        let x = randomTensor([2, 3], seed: 4)
        let positive = randomTensor([2, 3], seed: 5, lower: 0.5, upper: 1.5)
        checkGradients(of: { $0[0] + 2.5 }, at: [x])
        checkGradients(of: { 2.5 + $0[0] }, at: [x])
        checkGradients(of: { $0[0] - 2.5 }, at: [x])
        checkGradients(of: { 2.5 - $0[0] }, at: [x])
        checkGradients(of: { $0[0] * -1.5 }, at: [x])
        checkGradients(of: { -1.5 * $0[0] }, at: [x])
        checkGradients(of: { $0[0] / 4 }, at: [x])
        checkGradients(of: { 2 / $0[0] }, at: [positive])
        checkGradients(of: { -$0[0] }, at: [x])
    }

    func testGradientOfAnInputUsedOnBothSides() {
        // x·x and x/x share one input: both pullback contributions must accumulate.
        let x = randomTensor([3], seed: 6, lower: 0.5, upper: 1.5)
        checkGradients(of: { $0[0] * $0[0] }, at: [x])
        checkGradients(of: { ($0[0] + 1) / $0[0] }, at: [x])
    }
}
