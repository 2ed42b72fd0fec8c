import Foundation

// Scaled dot-product attention as one op: softmax(q·kᵀ·scale + mask)·v over broadcast batch
// axes, with its pullback written out (no graph of intermediate ops, no transposed copies).

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
    let (queries, keys) = (query.shape[query.rank - 2], key.shape[key.rank - 2])
    let factor = scale ?? 1 / Float(depth).squareRoot()
    // The additive mask, the causal one folded in: [Tq, Tk] or broadcastable to the scores.
    var additive = mask
    if causal {
        var future = [Float](repeating: 0, count: queries * keys)
        for i in 0..<queries { for j in (i + 1)..<Swift.max(keys, i + 1) { future[i * keys + j] = -.infinity } }
        let causalMask = Tensor(shape: [queries, keys], scalars: future)
        additive = additive.map { $0 + causalMask } ?? causalMask
    }
    return attention(query, key, value, scale: factor, mask: additive)
}

/// softmax(scale·q·kᵀ + mask)·v as one recorded op: the scores come from a product with a
/// transposition flag (no transposed copy of the keys), the scale is applied while they are
/// written, and the pullback works on the saved probabilities:
///   ∂v = Pᵀ·∂o,  ∂P = ∂o·vᵀ,  ∂S = P ⊙ (∂P − Σⱼ ∂P ⊙ P),  ∂q = scale·∂S·k,  ∂k = scale·∂Sᵀ·q,  ∂mask = ∂S
private func attention(_ query: Tensor, _ key: Tensor, _ value: Tensor, scale: Float, mask: Tensor?) -> Tensor {
    var scores = Tensor.matmulWithoutRecording(query, key, transposeB: true)
    scores.withUnsafeMutableBufferPointer { values in
        for i in values.indices { values[i] *= scale }
    }
    if let mask { scores = withoutGradient { scores + mask } }
    let keys = scores.shape[scores.rank - 1]
    let probabilities = Tensor(uninitializedShape: scores.shape)
    withPointers(scores, probabilities) { s, p in
        softmaxLines(s, p, outer: scores.count / Swift.max(keys, 1), size: keys, inner: 1, logarithm: false)
    }
    let output = Tensor.matmulWithoutRecording(probabilities, value)
    let (queryValue, keyValue, valueValue) = (query.detached(), key.detached(), value.detached())
    var inputs = RecordedInputs<AttentionInput>()
    inputs.append(.query, query)
    inputs.append(.key, key)
    inputs.append(.value, value)
    inputs.append(.mask, mask)
    return Tensor.recording(output, inputs: inputs.tensors, op: "scaledDotProductAttention") { gradient, needed in
        if GradientMode.isRecording {
            return compositePullback(inputs: inputs.tensors, gradient: gradient, needed: needed) { standIns in
                let (q, k, v) = (standIns[0], standIns[1], standIns[2])
                let scores = matmul(q, k.transposed()) * scale
                return matmul((inputs.tensor(.mask, in: standIns).map { scores + $0 } ?? scores).softmax(), v)
            }
        }
        let needs = { (role: AttentionInput) in zip(inputs.roles, needed).contains { $0 == role && $1 } }
        let valueGradient =
            needs(.value)
            ? Tensor.matmulWithoutRecording(probabilities, gradient, transposeA: true).summed(toShape: valueValue.shape)
            : nil
        guard needs(.query) || needs(.key) || needs(.mask) else {
            return inputs.gradients(needed) { $0 == .value ? valueGradient : nil }
        }
        let probabilityGradient = Tensor.matmulWithoutRecording(gradient, valueValue, transposeB: true)
        let scoreGradient = Tensor(uninitializedShape: probabilities.shape)
        let level = PointwiseKernels.level
        withPointers(probabilityGradient, probabilities, scoreGradient) { dp, p, ds in
            let rows = probabilities.count / Swift.max(keys, 1)
            parallelChunks(rows, grain: Swift.max(1, 8_192 / Swift.max(keys, 1))) { range in
                for row in range {
                    softmaxGradientRow(dp + row * keys, p + row * keys, ds + row * keys, size: keys, level: level)
                }
            }
        }
        return inputs.gradients(needed) { role in
            switch role {
            case .query:
                (Tensor.matmulWithoutRecording(scoreGradient, keyValue) * scale).summed(toShape: queryValue.shape)
            case .key:
                (Tensor.matmulWithoutRecording(scoreGradient, queryValue, transposeA: true) * scale)
                    .summed(toShape: keyValue.shape)
            case .value: valueGradient
            case .mask: scoreGradient.summed(toShape: mask!.shape)
            }
        }
    }
}

/// The inputs of attention, by role.
enum AttentionInput { case query, key, value, mask }
