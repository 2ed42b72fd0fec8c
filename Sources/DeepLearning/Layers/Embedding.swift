/// A table of learned vectors looked up by integer index (PyTorch's `nn.Embedding`): token
/// embeddings, class embeddings, timestep embeddings.
///
/// Weights start from N(0, 1), PyTorch's default.
///
/// ```swift
/// let tokens = Embedding(1000, 64)
/// let x = tokens([5, 17, 5, 3], shape: [2, 2])   // [2, 2, 64]
/// ```
public final class Embedding: Layer {
    /// `[count, dimension]`.
    public let weight: Parameter

    /// Creates `count` vectors of `dimension` numbers.
    public init(_ count: Int, _ dimension: Int, initializer: Initializer = .normal(mean: 0, standardDeviation: 1)) {
        precondition(
            count > 0 && dimension > 0, "Embedding: count \(count) and dimension \(dimension) must be positive")
        weight = Parameter(initializer.make([count, dimension]))
    }

    /// The vectors of `indices`, shaped `shape + [dimension]` (default `[indices.count, dimension]`).
    ///
    /// - Precondition: every index is in `0..<count`; `shape` holds `indices.count` elements.
    public func callAsFunction(_ indices: [Int], shape: [Int]? = nil) -> Tensor {
        let shape = shape ?? [indices.count]
        precondition(
            shape.reduce(1, *) == indices.count,
            "Embedding: shape \(describeShape(shape)) does not hold \(indices.count) indices")
        return weight.value.gathering(indices).reshaped(to: shape + [weight.shape[1]])
    }

    /// The vectors of a tensor of whole-number indices: `[…]` → `[…, dimension]`.
    ///
    /// - Precondition: every element is a whole number in `0..<count`.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        let values = input.scalars
        if let bad = values.firstIndex(where: { !$0.isFinite || $0 != $0.rounded() || Swift.abs($0) > 1e9 }) {
            preconditionFailure(
                "Embedding: element \(bad) of \(describeShape(input.shape)) is \(values[bad]), not an index")
        }
        return self(values.map { Int($0) }, shape: input.shape)
    }
}
