/// Instance normalisation (Ulyanov et al.; pix2pix's `--norm instance`): each sample and
/// channel is normalised over its spatial positions. No running statistics, so training and
/// inference behave the same.
///
/// Input `[N, H, W, C]`; output has the same shape.
public final class InstanceNorm: NormalizationLayer {
    /// Scale γ `[C]` (ones), or `nil` without `affine`.
    public let gamma: Parameter?
    /// Offset β `[C]` (zeros), or `nil` without `affine`.
    public let beta: Parameter?
    /// Added to the variance (PyTorch's default 1e-5).
    public var epsilon: Float

    /// Creates an instance normalisation layer; `affine` adds learnable γ and β. The defaults
    /// are PyTorch's `nn.InstanceNorm2d`: ε = 1e-5 and no affine parameters (junyanz's
    /// `--norm instance`); the seed-convention pix2pix models pass `affine: true`.
    public init(_ channels: Int, epsilon: Float = 1e-5, affine: Bool = false) {
        gamma = affine ? Parameter(.ones([channels])) : nil
        beta = affine ? Parameter(.zeros([channels])) : nil
        self.epsilon = epsilon
    }

    /// Normalises `input` (`[N, …, C]`).
    public func callAsFunction(_ input: Tensor) -> Tensor { self(input, activation: .identity) }

    /// Normalises `input` and applies `activation` in the same pass (= `activation(self(input))`).
    public func callAsFunction(_ input: Tensor, activation: Activation) -> Tensor {
        instanceNormalized(input, gamma: gamma?.value, beta: beta?.value, epsilon: epsilon, activation: activation)
    }
}
