/// Multi-head attention (Vaswani et al.; PyTorch's `nn.MultiheadAttention(E, heads,
/// batch_first=True)` without dropout): project query, key and value, attend in `heads` heads
/// of E/heads features each, concatenate and project back.
///
/// Weights are Keras-layout `Linear`s (`[in, out]`). To load a PyTorch module, split its
/// `in_proj_weight` (`[3E, E]`) into three `[E, E]` blocks for query, key and value, and
/// transpose each (and `out_proj.weight`); the biases split the same way.
///
/// ```swift
/// let attention = MultiHeadAttention(embedding: 64, heads: 8)
/// let y = attention(x)                           // self-attention, [N, T, 64] -> [N, T, 64]
/// let z = attention(query: x, key: memory, value: memory, causal: false)
/// ```
public final class MultiHeadAttention: Module {
    /// The number of heads.
    public let heads: Int
    /// Query projection, `[E, E]`.
    public let queryProjection: Linear
    /// Key projection, `[E_k, E]`.
    public let keyProjection: Linear
    /// Value projection, `[E_v, E]`.
    public let valueProjection: Linear
    /// Output projection, `[E, E]`.
    public let outputProjection: Linear

    /// Creates the layer for `embedding` (E) features split into `heads` heads.
    ///
    /// - Parameters:
    ///   - keyFeatures: features of the keys (default E; PyTorch's `kdim`).
    ///   - valueFeatures: features of the values (default E; `vdim`).
    ///   - useBias: biases on all four projections (default `true`, as PyTorch).
    /// - Precondition: `heads` divides `embedding`.
    public init(embedding: Int, heads: Int, keyFeatures: Int? = nil, valueFeatures: Int? = nil, useBias: Bool = true) {
        precondition(
            heads > 0 && embedding % heads == 0,
            "MultiHeadAttention: \(heads) heads do not divide the embedding of \(embedding)")
        self.heads = heads
        queryProjection = Linear(embedding, embedding, useBias: useBias)
        keyProjection = Linear(keyFeatures ?? embedding, embedding, useBias: useBias)
        valueProjection = Linear(valueFeatures ?? embedding, embedding, useBias: useBias)
        outputProjection = Linear(embedding, embedding, useBias: useBias)
    }

    /// Attention of `query` (`[N, Tq, E]`) over `key` (`[N, Tk, E_k]`) and `value`
    /// (`[N, Tk, E_v]`), with an optional additive `mask` broadcastable to `[N, heads, Tq, Tk]`
    /// (or `[Tq, Tk]`) and an optional causal mask. Returns `[N, Tq, E]`.
    public func callAsFunction(
        query: Tensor, key: Tensor, value: Tensor, mask: Tensor? = nil, causal: Bool = false
    ) -> Tensor {
        precondition(
            query.rank == 3 && key.rank == 3 && value.rank == 3,
            "MultiHeadAttention: query, key and value must be [N, T, E]; got \(describeShape(query.shape)), \(describeShape(key.shape)), \(describeShape(value.shape))"
        )
        let (batch, queries) = (query.shape[0], query.shape[1])
        let embedding = queryProjection.weight.shape[1], depth = embedding / heads
        func split(_ x: Tensor) -> Tensor {  // [N, T, E] -> [N, heads, T, depth]
            x.reshaped(to: [x.shape[0], x.shape[1], heads, depth]).permuted([0, 2, 1, 3])
        }
        let attended = scaledDotProductAttention(
            query: split(queryProjection(query)), key: split(keyProjection(key)), value: split(valueProjection(value)),
            mask: mask, causal: causal)
        return outputProjection(attended.permuted([0, 2, 1, 3]).reshaped(to: [batch, queries, embedding]))
    }

    /// Self-attention: `self(query: x, key: x, value: x)`.
    public func callAsFunction(_ x: Tensor, mask: Tensor? = nil, causal: Bool = false) -> Tensor {
        self(query: x, key: x, value: x, mask: mask, causal: causal)
    }
}
