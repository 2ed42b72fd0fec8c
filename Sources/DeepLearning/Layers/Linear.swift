/// A fully connected layer on the last axis (PyTorch's `nn.Linear`, Keras's `Dense`).
///
/// ```swift
/// let head = Linear(512, 10)   // [N, 512] -> [N, 10]; also [N, T, 512] -> [N, T, 10]
/// ```
///
/// The weight is `[in, out]`, Keras's layout; to load a PyTorch `nn.Linear`, transpose its
/// `weight` (`[out, in]`). Defaults follow Keras: Glorot-uniform weights, zero bias (PyTorch
/// draws both from U(−1/√in, 1/√in): pass `.uniform(lowerBound: -b, upperBound: b)` with
/// b = 1/√in for that).
public final class Linear: Layer {
    /// `[in, out]`.
    public let weight: Parameter
    /// `[out]`, or `nil` when created with `useBias: false`.
    public let bias: Parameter?

    /// Creates a layer mapping `inFeatures` to `outFeatures`.
    ///
    /// - Parameters:
    ///   - useBias: add a learned bias; default `true`.
    ///   - weightInitializer: default `.glorotUniform` (Keras's).
    ///   - biasInitializer: default `.zeros`.
    public init(
        _ inFeatures: Int, _ outFeatures: Int, useBias: Bool = true, weightInitializer: Initializer = .glorotUniform,
        biasInitializer: Initializer = .zeros
    ) {
        precondition(
            inFeatures > 0 && outFeatures > 0, "Linear: features (\(inFeatures), \(outFeatures)) must be positive")
        weight = Parameter(weightInitializer.make([inFeatures, outFeatures]))
        bias = useBias ? Parameter(biasInitializer.make([outFeatures])) : nil
    }

    /// `[…, in]` → `[…, out]`.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        linear(input, weight: weight.value, bias: bias?.value)
    }
}

/// Flattens every axis but the first: `[N, d₁, …, dₖ]` → `[N, d₁·…·dₖ]` (Keras's `Flatten`).
///
/// In NHWC the order is height, width, channels — not PyTorch's channels-first order, so a
/// `Linear` after `Flatten` has its input features permuted relative to a PyTorch model's:
/// reorder the PyTorch weight's `in` axis from (C, H, W) to (H, W, C) when converting.
public final class Flatten: Layer {
    /// Creates the layer.
    public init() {}

    /// `[N, …]` → `[N, product of the rest]`.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        precondition(input.rank >= 1, "Flatten: needs a batch axis; got \(describeShape(input.shape))")
        return input.reshaped(to: [input.shape[0], input.shape.dropFirst().reduce(1, *)])
    }
}
