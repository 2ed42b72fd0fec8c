/// A (semi-)orthogonal tensor for `Initializer.orthogonal(gain:)`, as Keras's `Orthogonal`
/// (Saxe et al., 2014):
///
/// 1. flatten `shape` to a matrix `[rows, columns]` with rows = product of all axes but the
///    last and columns = the last axis;
/// 2. draw a Gaussian matrix `[max(rows, columns), min(rows, columns)]` and take its
///    reduced QR decomposition;
/// 3. multiply each column of Q by sign(R[i, i]) so the result is uniformly distributed
///    (Haar measure) rather than biased by LAPACK's sign convention;
/// 4. transpose when rows < columns, multiply by `gain` and reshape to `shape`.
///
/// The result has orthonormal columns (QᵀQ = gain²·I) when rows ≥ columns, orthonormal
/// rows otherwise.
func orthogonalMatrix(_ shape: [Int], gain: Float, generator: inout SeededGenerator) -> Tensor {
    precondition(
        shape.count >= 2,
        "Initializer.orthogonal needs a shape of rank ≥ 2 (a matrix or kernel); got \(describeShape(shape))")
    let columns = shape[shape.count - 1]
    let rows = shape.dropLast().reduce(1, *)
    let tall = rows >= columns
    let gaussian = Tensor.randomNormal([Swift.max(rows, columns), Swift.min(rows, columns)], generator: &generator)
    var (q, r) = Linalg.qr(gaussian)
    let k = r.shape[0], width = q.shape[1]
    let rColumns = r.shape[1]
    r.withPointer { rPointer in
        q.withUnsafeMutableBufferPointer { buffer in
            for column in 0..<k where rPointer[column * rColumns + column] < 0 {
                for row in 0..<(buffer.count / width) { buffer[row * width + column] = -buffer[row * width + column] }
            }
            for i in buffer.indices { buffer[i] *= gain }
        }
    }
    // q carries no graph, so transposing it records nothing; permuted() returns a contiguous copy.
    return (tall ? q : q.transposed()).withShape(shape)
}
