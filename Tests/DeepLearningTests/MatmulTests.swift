@testable import DeepLearning
import XCTest

/// `matmul` (cblas_sgemm) against a naive triple loop, and its gradients.
final class MatmulTests: XCTestCase {
    /// Reference product in Double: [M, K]·[K, N] or [B, M, K]·[B, K, N].
    private func naiveMatmul(_ a: Tensor, _ b: Tensor) -> Tensor {
        let batched = a.rank == 3
        let batch = batched ? a.shape[0] : 1
        let (m, k, n) = (a.shape[a.rank - 2], a.shape[a.rank - 1], b.shape[b.rank - 1])
        let x = a.scalars, y = b.scalars
        var out = [Float](repeating: 0, count: batch * m * n)
        for s in 0..<batch {
            for i in 0..<m {
                for j in 0..<n {
                    var total = 0.0
                    for p in 0..<k { total += Double(x[s * m * k + i * k + p]) * Double(y[s * k * n + p * n + j]) }
                    out[s * m * n + i * n + j] = Float(total)
                }
            }
        }
        return Tensor(shape: batched ? [batch, m, n] : [m, n], scalars: out)
    }

    func testSmallProductMatchesHandComputedValues() {
        // [[1, 2, 3], [4, 5, 6]] @ [[1, 0], [0, 1], [1, 1]] = [[4, 5], [10, 11]]
        let a = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        let b = Tensor(shape: [3, 2], scalars: [1, 0, 0, 1, 1, 1])
        XCTAssertEqual(matmul(a, b).shape, [2, 2])
        XCTAssertEqual(matmul(a, b).scalars, [4, 5, 10, 11])
    }

    func testMatchesNaiveLoop() {
        let a = randomTensor([7, 5], seed: 1), b = randomTensor([5, 3], seed: 2)
        assertClose(matmul(a, b), naiveMatmul(a, b), tolerance: 1e-5)
    }

    func testBatchedMatchesNaiveLoopPerBatch() {
        let a = randomTensor([3, 7, 5], seed: 3), b = randomTensor([3, 5, 4], seed: 4)
        let product = matmul(a, b)
        XCTAssertEqual(product.shape, [3, 7, 4])
        assertClose(product, naiveMatmul(a, b), tolerance: 1e-5)
        // Each batch element is the plain product of its slices.
        for s in 0..<3 {
            let plain = matmul(
                a.slice(axis: 0, s..<(s + 1)).reshaped(to: [7, 5]),
                b.slice(axis: 0, s..<(s + 1)).reshaped(to: [5, 4]))
            XCTAssertEqual(product.slice(axis: 0, s..<(s + 1)).reshaped(to: [7, 4]).scalars, plain.scalars)
        }
    }

    func testLargerProductMatchesNaiveLoop() {
        let a = randomTensor([64, 48], seed: 5), b = randomTensor([48, 32], seed: 6)
        // 48 products of |x| < 1 per element: Float32 accumulation error stays well under 1e-4.
        assertClose(matmul(a, b), naiveMatmul(a, b), tolerance: 1e-4)
    }

    func testTransposeFlagsMatchExplicitTransposes() {
        let a = randomTensor([5, 7], seed: 7), b = randomTensor([3, 5], seed: 8)
        let viaFlags = Tensor.matmulWithoutRecording(a, b, transposeA: true, transposeB: true)
        assertClose(viaFlags, naiveMatmul(a.transposed(), b.transposed()), tolerance: 1e-5)
    }

    func testEmptyInnerDimensionGivesZeros() {
        XCTAssertEqual(matmul(Tensor.zeros([2, 0]), Tensor.zeros([0, 3])).scalars, [0, 0, 0, 0, 0, 0])
    }

    func testGradients() {
        checkGradients(
            of: { matmul($0[0], $0[1]) }, at: [randomTensor([3, 4], seed: 9), randomTensor([4, 2], seed: 10)])
        checkGradients(
            of: { matmul($0[0], $0[1]) },
            at: [randomTensor([2, 3, 4], seed: 11), randomTensor([2, 4, 2], seed: 12)])
        // The same matrix on both sides: A·A accumulates both pullbacks.
        checkGradients(of: { matmul($0[0], $0[0]) }, at: [randomTensor([3, 3], seed: 13)])
    }
}
