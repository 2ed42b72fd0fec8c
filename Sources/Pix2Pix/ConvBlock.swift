import DeepLearning

/// conv → norm? → LeakyReLU(0.2), the paper's `Ck` block: every encoder block of the U-Net and
/// every stage of the PatchGAN discriminator.
///
/// The convolution is k×k with 'same' padding and N(0, 0.02) weights; normalisation and the
/// activation run as one fused pass.
public final class ConvBlock: Layer {
    /// The convolution.
    public let conv: Conv2D
    /// Batch or instance normalisation; absent in the first block of either network.
    public let norm: (any NormalizationLayer)?

    /// Creates a block mapping `inChannels` to `outChannels`.
    ///
    /// - Parameters:
    ///   - kernelSize: the convolution's size; default 4.
    ///   - stride: default 2 (halves height and width); the discriminator's last stage uses 1.
    ///   - norm: the normalisation after the convolution.
    ///   - useBias: whether the convolution has a bias; default true (junyanz's PyTorch code
    ///     drops it under batch norm).
    ///   - batchNormEpsilon: Keras's 1e-3 unless given (PyTorch's is 1e-5).
    ///   - padding: Keras's `.same` unless given (junyanz's stride-1 convolutions pad by 1).
    ///   - instanceNormAffine: whether instance norm has learnable γ and β; default true (the
    ///     seed's), junyanz's has none.
    public init(
        _ inChannels: Int, _ outChannels: Int, kernelSize: Int = 4, stride: Int = 2, norm: NormalizationKind,
        useBias: Bool = true, batchNormEpsilon: Float = 1e-3, padding: Padding = .same,
        instanceNormAffine: Bool = true
    ) {
        conv = Conv2D(
            inChannels, outChannels, kernelSize: kernelSize, stride: stride, padding: padding, useBias: useBias,
            kernelInitializer: pix2pixKernelInitializer)
        self.norm = norm.make(outChannels, epsilon: batchNormEpsilon, instanceNormAffine: instanceNormAffine)
    }

    /// `[N, H, W, in]` → `[N, ⌈H/stride⌉, ⌈W/stride⌉, out]`.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let y = conv(x), activation = Activation.leakyReLU(slope: 0.2)
        return norm?(y, activation: activation) ?? activation(y)
    }
}
