// Matrix products `[…, M, K]·[…, K, N]` with NumPy/PyTorch broadcasting of the leading (batch)
// axes, through `product` (MatrixProduct.swift) once per batch element. Pullbacks:
// ∂A = ∂C·Bᵀ and ∂B = Aᵀ·∂C, as products with transposition flags instead of transposed copies,
// summed over the batch axes that were broadcast.

extension Tensor {
    /// op(a)·op(b) over broadcast batch axes, without recording. `a` is `[…, rowsA, colsA]`,
    /// `b` `[…, rowsB, colsB]` (rank ≥ 2 each); the result is `[batch…, m, n]`.
    static func matmulWithoutRecording(
        _ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false
    ) -> Tensor {
        let (rowsA, colsA) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
        let (rowsB, colsB) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
        let m = transposeA ? colsA : rowsA, k = transposeA ? rowsA : colsA
        let n = transposeB ? rowsB : colsB
        let (batchA, batchB) = (Array(a.shape.dropLast(2)), Array(b.shape.dropLast(2)))
        guard let batchShape = broadcastShape(batchA, batchB) else {
            preconditionFailure(
                "matmul: batch axes of \(describeShape(a.shape)) and \(describeShape(b.shape)) do not broadcast")
        }
        let result = Tensor(uninitializedShape: batchShape + [m, n])
        let batches = batchShape.reduce(1, *)
        let stridesA = broadcastStrides(batchA, to: batchShape), stridesB = broadcastStrides(batchB, to: batchShape)
        withPointers(a, b, result) { pa, pb, pc in
            for i in 0..<batches {
                // The batch element's offset in each operand (its matrices, not its elements).
                var remainder = i, offsetA = 0, offsetB = 0
                for axis in stride(from: batchShape.count - 1, through: 0, by: -1) {
                    let index = remainder % batchShape[axis]
                    remainder /= batchShape[axis]
                    offsetA += index * stridesA[axis]
                    offsetB += index * stridesB[axis]
                }
                product(
                    transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                    a: pa + offsetA * rowsA * colsA, lda: colsA, b: pb + offsetB * rowsB * colsB, ldb: colsB,
                    c: pc + i * m * n, ldc: n)
            }
        }
        return result
    }
}

/// The matrix product `a·b`, with broadcasting of the leading axes (PyTorch's `torch.matmul`
/// for operands of rank ≥ 2).
///
/// - Parameters:
///   - a: `[…, M, K]`, e.g. `[M, K]`, `[B, M, K]` or `[B, H, M, K]`.
///   - b: `[…, K, N]`; the leading axes of `a` and `b` broadcast against each other (a `[K, N]`
///     weight applies to every matrix of a batch).
/// - Returns: `[broadcast batch…, M, N]`. Differentiable w.r.t. both.
public func matmul(_ a: Tensor, _ b: Tensor) -> Tensor {
    precondition(
        a.rank >= 2 && b.rank >= 2,
        "matmul: needs operands of rank ≥ 2 ([…, M, K]·[…, K, N]); got \(describeShape(a.shape))·\(describeShape(b.shape))"
    )
    precondition(
        a.shape[a.rank - 1] == b.shape[b.rank - 2],
        "matmul: inner dimensions differ in \(describeShape(a.shape))·\(describeShape(b.shape))")
    let output = Tensor.matmulWithoutRecording(a, b)
    let (valueA, valueB) = (a.detached(), b.detached())
    return Tensor.recording(output, inputs: [a, b]) { gradient, needed in
        if GradientMode.isRecording {  // the same products, recorded
            return [
                needed[0] ? matmul(gradient, b.transposed()).summed(toShape: a.shape) : nil,
                needed[1] ? matmul(a.transposed(), gradient).summed(toShape: b.shape) : nil,
            ]
        }
        return [
            needed[0]
                ? Tensor.matmulWithoutRecording(gradient, valueB, transposeB: true).summed(toShape: valueA.shape) : nil,
            needed[1]
                ? Tensor.matmulWithoutRecording(valueA, gradient, transposeA: true).summed(toShape: valueB.shape) : nil,
        ]
    }
}
