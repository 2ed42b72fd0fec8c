/// Layer normalisation over the last axis (PyTorch's `nn.LayerNorm(C)`, the transformer's
/// norm): each row `[…, C]` is normalised by its own statistics, so training and inference
/// behave the same and the batch size does not matter.
///
/// Defaults are PyTorch's: ε = 1e-5, learnable γ (ones) and β (zeros).
public final class LayerNorm: Layer {
    /// Scale γ `[C]`, or `nil` without `elementwiseAffine`.
    public let gamma: Parameter?
    /// Offset β `[C]`, or `nil` without `elementwiseAffine`.
    public let beta: Parameter?
    /// Added to the variance.
    public var epsilon: Float

    /// Creates a layer normalising `features` features.
    public init(_ features: Int, epsilon: Float = 1e-5, elementwiseAffine: Bool = true) {
        precondition(features > 0, "LayerNorm: features \(features) must be positive")
        gamma = elementwiseAffine ? Parameter(.ones([features])) : nil
        beta = elementwiseAffine ? Parameter(.zeros([features])) : nil
        self.epsilon = epsilon
    }

    /// `[…, C]` → `[…, C]`.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        layerNormalized(input, gamma: gamma?.value, beta: beta?.value, epsilon: epsilon)
    }
}

/// Group normalisation (PyTorch's `nn.GroupNorm(G, C)`, the norm of diffusion U-Nets): the
/// channels of `[N, H, W, C]` are split into G groups, each normalised per sample over its
/// positions and channels.
///
/// Defaults are PyTorch's: ε = 1e-5, learnable γ (ones) and β (zeros).
public final class GroupNorm: Layer {
    /// The number of channel groups G.
    public let groups: Int
    /// Scale γ `[C]`, or `nil` without `affine`.
    public let gamma: Parameter?
    /// Offset β `[C]`, or `nil` without `affine`.
    public let beta: Parameter?
    /// Added to the variance.
    public var epsilon: Float

    /// Creates a layer for `channels` channels in `groups` groups.
    ///
    /// - Precondition: `groups` divides `channels`.
    public init(groups: Int, channels: Int, epsilon: Float = 1e-5, affine: Bool = true) {
        precondition(
            groups > 0 && channels > 0 && channels % groups == 0,
            "GroupNorm: \(groups) groups do not divide \(channels) channels")
        self.groups = groups
        gamma = affine ? Parameter(.ones([channels])) : nil
        beta = affine ? Parameter(.zeros([channels])) : nil
        self.epsilon = epsilon
    }

    /// `[N, …, C]` → the same shape.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        groupNormalized(input, groups: groups, gamma: gamma?.value, beta: beta?.value, epsilon: epsilon)
    }
}
