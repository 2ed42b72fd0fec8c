import Foundation

// Scaled dot-product attention, composed of differentiable ops (matmul over broadcast batch
// axes, softmax), so its pullback is theirs:
//   softmax(q·kᵀ·scale + mask)·v

/// Attention of `query` over `key`/`value` (PyTorch's `F.scaled_dot_product_attention` without
/// dropout).
///
/// - Parameters:
///   - query: `[…, Tq, D]`, e.g. `[N, heads, Tq, D]`.
///   - key: `[…, Tk, D]`.
///   - value: `[…, Tk, Dv]`.
///   - mask: an additive mask broadcastable to `[…, Tq, Tk]` (0 to keep, −∞ to drop), or `nil`.
///   - causal: drop every key after the query's own position (PyTorch's `is_causal`, aligned at
///     the top left: query i sees keys 0…i).
///   - scale: the factor on q·kᵀ; default 1/√D.
/// - Returns: `[…, Tq, Dv]`. Differentiable w.r.t. query, key, value (and mask).
public func scaledDotProductAttention(
    query: Tensor, key: Tensor, value: Tensor, mask: Tensor? = nil, causal: Bool = false, scale: Float? = nil
) -> Tensor {
    precondition(
        query.rank >= 2 && key.rank >= 2 && value.rank >= 2,
        "scaledDotProductAttention: query, key and value must be […, T, D]; got \(describeShape(query.shape)), \(describeShape(key.shape)), \(describeShape(value.shape))"
    )
    let depth = query.shape[query.rank - 1]
    precondition(
        key.shape[key.rank - 1] == depth && key.shape[key.rank - 2] == value.shape[value.rank - 2],
        "scaledDotProductAttention: key \(describeShape(key.shape)) must be […, Tk, \(depth)] and value \(describeShape(value.shape)) […, Tk, Dv]"
    )
    var scores = matmul(query, key.transposed()) * (scale ?? 1 / Float(depth).squareRoot())
    if let mask { scores = scores + mask }
    if causal {
        let (queries, keys) = (query.shape[query.rank - 2], key.shape[key.rank - 2])
        var future = [Float](repeating: 0, count: queries * keys)
        for i in 0..<queries { for j in (i + 1)..<Swift.max(keys, i + 1) { future[i * keys + j] = -.infinity } }
        scores = scores + Tensor(shape: [queries, keys], scalars: future)
    }
    return matmul(scores.softmax(), value)
}
