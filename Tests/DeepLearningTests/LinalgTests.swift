@testable import DeepLearning
import XCTest

final class LinalgTests: XCTestCase {
    private func identity(_ n: Int) -> Tensor {
        var result = Tensor.zeros([n, n])
        result.withUnsafeMutableBufferPointer { for i in 0..<n { $0[i * n + i] = 1 } }
        return result
    }

    func testQRReconstructsTallAndWideMatricesWithOrthonormalQ() {
        for shape in [[5, 3], [3, 5], [4, 4]] {
            let a = randomTensor(shape, seed: UInt64(shape[0] * 10 + shape[1]))
            let (q, r) = Linalg.qr(a)
            let k = min(shape[0], shape[1])
            XCTAssertEqual(q.shape, [shape[0], k])
            XCTAssertEqual(r.shape, [k, shape[1]])
            assertClose(matmul(q, r), a, tolerance: 1e-5, "QR = A for \(shape)")
            assertClose(matmul(q.transposed(), q), identity(k), tolerance: 1e-5, "QᵀQ = I for \(shape)")
            for row in 0..<k { for column in 0..<row { XCTAssertEqual(r[row, column], 0, "R is upper triangular") } }
        }
    }

    func testQRDoesNotModifyItsInput() {
        let a = randomTensor([3, 2], seed: 7)
        let copy = a.scalars
        _ = Linalg.qr(a)
        XCTAssertEqual(a.scalars, copy)
    }

    func testSVDOfAHandMatrixHasKnownSingularValuesAndReconstructs() {
        // [[3, 2, 2], [2, 3, -2]] has singular values 5 and 3 (Strang's textbook example).
        let a = Tensor(shape: [2, 3], scalars: [3, 2, 2, 2, 3, -2])
        let (u, s, vt) = Linalg.svd(a)
        XCTAssertEqual(u.shape, [2, 2])
        XCTAssertEqual(vt.shape, [2, 3])
        assertClose(s, Tensor([5, 3]), tolerance: 1e-5)
        assertClose(matmul(u * s, vt), a, tolerance: 1e-5)
        assertClose(matmul(vt, vt.transposed()), identity(2), tolerance: 1e-5)
    }

    func testSVDOfATallRandomMatrixReconstructs() {
        let a = randomTensor([6, 4], seed: 11)
        let (u, s, vt) = Linalg.svd(a)
        XCTAssertEqual(s.shape, [4])
        XCTAssertTrue(zip(s.scalars, s.scalars.dropFirst()).allSatisfy { $0 >= $1 }, "descending")
        assertClose(matmul(u * s, vt), a, tolerance: 1e-5)
        assertClose(matmul(u.transposed(), u), identity(4), tolerance: 1e-5)
    }

    func testSolveAKnownSystem() throws {
        // 2x + y − z = 8, −3x − y + 2z = −11, −2x + y + 2z = −3  →  (2, 3, −1).
        let a = Tensor(shape: [3, 3], scalars: [2, 1, -1, -3, -1, 2, -2, 1, 2])
        let x = try Linalg.solve(a, Tensor([8, -11, -3]))
        assertClose(x, Tensor([2, 3, -1]), tolerance: 1e-5)
        let columns = try Linalg.solve(a, Tensor(shape: [3, 2], scalars: [8, 2, -11, -3, -3, -2]))
        assertClose(columns, Tensor(shape: [3, 2], scalars: [2, 1, 3, 0, -1, 0]), tolerance: 1e-5)
    }

    func testSolveThrowsOnASingularMatrixNamingThePivot() {
        let singular = Tensor(shape: [2, 2], scalars: [1, 2, 2, 4])
        XCTAssertThrowsError(try Linalg.solve(singular, Tensor([1, 1]))) { error in
            XCTAssertEqual(error as? LinalgError, .singular(pivot: 2, shape: [2, 2]))
            XCTAssertTrue("\(error)".contains("U[2, 2]"), "\(error)")
        }
        XCTAssertThrowsError(try Linalg.solve(singular, Tensor([1, 1, 1]))) { error in
            XCTAssertTrue("\(error)".contains("[3]"), "\(error)")
        }
    }
}
