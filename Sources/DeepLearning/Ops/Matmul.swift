// Matrix products for matrices [M, K]·[K, N] and batches [B, M, K]·[B, K, N], through
// `product` (MatrixProduct.swift). Pullbacks: ∂A = ∂C·Bᵀ and ∂B = Aᵀ·∂C, again as products
// with transposition flags instead of transposed copies.

extension Tensor {
    /// Batched or plain matrix product with optional transposition of either operand.
    static func matmulWithoutRecording(
        _ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false
    ) -> Tensor {
        let batched = a.rank == 3
        let batch = batched ? a.shape[0] : 1
        let (rowsA, colsA) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
        let (rowsB, colsB) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
        let m = transposeA ? colsA : rowsA, k = transposeA ? rowsA : colsA
        let n = transposeB ? rowsB : colsB
        let result = Tensor(uninitializedShape: batched ? [batch, m, n] : [m, n])
        withPointers(a, b, result) { pa, pb, pc in
            for i in 0..<batch {
                product(
                    transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                    a: pa + i * rowsA * colsA, lda: colsA, b: pb + i * rowsB * colsB, ldb: colsB,
                    c: pc + i * m * n, ldc: n)
            }
        }
        return result
    }
}

/// The matrix product `a·b`.
///
/// - Parameters:
///   - a: `[M, K]`, or `[B, M, K]` for a batch.
///   - b: `[K, N]`, or `[B, K, N]` for a batch (same B).
/// - Returns: `[M, N]` or `[B, M, N]`.
public func matmul(_ a: Tensor, _ b: Tensor) -> Tensor {
    precondition(
        (a.rank == 2 && b.rank == 2) || (a.rank == 3 && b.rank == 3 && a.shape[0] == b.shape[0]),
        "matmul: needs [M, K]·[K, N] or [B, M, K]·[B, K, N]; got \(describeShape(a.shape))·\(describeShape(b.shape))")
    precondition(
        a.shape[a.rank - 1] == b.shape[b.rank - 2],
        "matmul: inner dimensions differ in \(describeShape(a.shape))·\(describeShape(b.shape))")
    let output = Tensor.matmulWithoutRecording(a, b)
    let (valueA, valueB) = (a.detached(), b.detached())
    return Tensor.recording(output, inputs: [a, b]) { gradient, needed in
        [
            needed[0] ? Tensor.matmulWithoutRecording(gradient, valueB, transposeB: true) : nil,
            needed[1] ? Tensor.matmulWithoutRecording(valueA, gradient, transposeA: true) : nil,
        ]
    }
}
