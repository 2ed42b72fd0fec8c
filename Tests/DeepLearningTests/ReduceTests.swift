@testable import DeepLearning
import XCTest

/// sum / mean / max with NumPy's `axis=` and `keepdims=` semantics.
final class ReduceTests: XCTestCase {
    // x = ((np.arange(24) * 7) % 11 - 5).astype(np.float32).reshape(2, 3, 4)
    let x = Tensor(
        shape: [2, 3, 4],
        scalars: [
            -5, 2, -2, 5, 1, -3, 4, 0, -4, 3, -1, -5,
            2, -2, 5, 1, -3, 4, 0, -4, 3, -1, -5, 2,
        ])

    func testSumMatchesNumPy() {
        // x.sum(axis=1)
        let s1 = x.sum(alongAxes: [1])
        XCTAssertEqual(s1.shape, [2, 4])
        XCTAssertEqual(s1.scalars, [-8, 2, 1, 0, 2, 1, 0, -1])
        // x.sum(axis=1, keepdims=True)
        let s1k = x.sum(alongAxes: [1], keepingDimensions: true)
        XCTAssertEqual(s1k.shape, [2, 1, 4])
        XCTAssertEqual(s1k.scalars, [-8, 2, 1, 0, 2, 1, 0, -1])
        // x.sum(axis=-1)
        let sLast = x.sum(alongAxes: [-1])
        XCTAssertEqual(sLast.shape, [2, 3])
        XCTAssertEqual(sLast.scalars, [0, 2, -7, 6, -3, -1])
        // x.sum()
        XCTAssertEqual(x.sum().shape, [])
        XCTAssertEqual(x.sum().scalar, -3)
        XCTAssertEqual(x.sum(keepingDimensions: true).shape, [1, 1, 1])
        // Reducing no axes is the identity.
        XCTAssertEqual(x.sum(alongAxes: []).scalars, x.scalars)
    }

    func testMeanMatchesNumPy() {
        // x.mean(axis=(0, 2), keepdims=True)
        let m = x.mean(alongAxes: [0, 2], keepingDimensions: true)
        XCTAssertEqual(m.shape, [1, 3, 1])
        assertClose(m, Tensor(shape: [1, 3, 1], scalars: [0.75, -0.125, -1]), tolerance: 1e-6)
        // x.mean(axis=(-2, -1))
        let mLast = x.mean(alongAxes: [-2, -1])
        assertClose(mLast, Tensor([-0.41666666, 0.16666667]), tolerance: 1e-6)
        // x.mean()
        XCTAssertEqual(x.mean().scalar, -0.125, accuracy: 1e-6)
    }

    func testMaxMatchesNumPy() {
        // x.max(axis=1)
        let m1 = x.max(alongAxes: [1])
        XCTAssertEqual(m1.shape, [2, 4])
        XCTAssertEqual(m1.scalars, [1, 3, 4, 5, 3, 4, 5, 2])
        // x.max(axis=(-1, -3), keepdims=True)
        let m = x.max(alongAxes: [-1, -3], keepingDimensions: true)
        XCTAssertEqual(m.shape, [1, 3, 1])
        XCTAssertEqual(m.scalars, [5, 4, 3])
        // x.max()
        XCTAssertEqual(x.max().scalar, 5)
        // All-negative input: the running maximum must not start at 0.
        XCTAssertEqual(Tensor([-3, -1, -2]).max().scalar, -1)
    }

    func testReductionsOfEdgeShapes() {
        XCTAssertEqual(Tensor(4).sum().scalar, 4)
        XCTAssertEqual(Tensor(4).max().scalar, 4)
        XCTAssertEqual(Tensor(shape: [3, 1], scalars: [1, 2, 3]).sum(alongAxes: [0]).scalars, [6])
        let empty = Tensor.zeros([0, 3]).sum(alongAxes: [0])
        XCTAssertEqual(empty.shape, [3])
        XCTAssertEqual(empty.scalars, [0, 0, 0])
    }

    func testLongRowSumIsAccurate() {
        // 100 003 ones (not a multiple of the 8 partial sums) along the inner axis, and the same
        // along an outer axis.
        XCTAssertEqual(Tensor.ones([100_003]).sum().scalar, 100_003)
        XCTAssertEqual(Tensor.ones([1_003, 2]).sum(alongAxes: [0]).scalars, [1_003, 1_003])
    }

    // MARK: Gradients

    /// Distinct values, at least 0.1 apart, so no maximum changes within a finite-difference step.
    private func distinctValues(_ shape: [Int], seed: UInt64) -> Tensor {
        var generator = SeededGenerator(seed: seed)
        let count = shape.reduce(1, *)
        let values = (0..<count).map { Float($0) * 0.1 - 1 }.shuffled(using: &generator)
        return Tensor(shape: shape, scalars: values)
    }

    func testGradientsOfSumAndMean() {
        let input = randomTensor([2, 3, 4], seed: 11)
        let axesCases: [[Int]?] = [nil, [0], [1], [2], [-1], [0, 2], [-3, -1], [0, 1, 2]]
        for axes in axesCases {
            for keep in [false, true] {
                checkGradients(of: { $0[0].sum(alongAxes: axes, keepingDimensions: keep) }, at: [input])
                checkGradients(of: { $0[0].mean(alongAxes: axes, keepingDimensions: keep) }, at: [input])
            }
        }
    }

    func testGradientsOfMax() {
        let input = distinctValues([2, 3, 4], seed: 12)
        let axesCases: [[Int]?] = [nil, [0], [1], [-1], [0, 2], [-2, -1]]
        for axes in axesCases {
            for keep in [false, true] {
                checkGradients(of: { $0[0].max(alongAxes: axes, keepingDimensions: keep) }, at: [input])
            }
        }
    }

    func testMaxGradientIsSharedAmongTies() {
        let x = Parameter(Tensor(shape: [2, 3], scalars: [1, 3, 3, 2, 0, 1]))
        x.value.max(alongAxes: [1]).sum().backward()
        XCTAssertEqual(x.gradient?.scalars, [0, 0.5, 0.5, 1, 0, 0])
    }
}
