/// A transposed 2-D convolution layer ("deconvolution") over NHWC images, like Keras's
/// `Conv2DTranspose`: upsamples by `stride`.
///
/// ```swift
/// let up = Conv2DTranspose(128, 3, kernelSize: 4, stride: 2)   // [1, 128, 128, 128] -> [1, 256, 256, 3]
/// ```
public final class Conv2DTranspose: Layer {
    /// `[k, k, out, in]` (Keras Conv2DTranspose layout).
    public let kernel: Parameter
    /// `[out]`, or `nil` when created with `useBias: false`.
    public let bias: Parameter?
    /// The upsampling factor in both spatial axes.
    public let stride: Int
    /// How output sizes are computed (Keras semantics; `.same` gives H·stride).
    public let padding: Padding

    /// Creates a transposed convolution with a square `kernelSize`×`kernelSize` kernel.
    ///
    /// - Parameters:
    ///   - inChannels: channels of the input (last axis).
    ///   - outChannels: channels of the output.
    ///   - kernelSize: the kernel's height and width.
    ///   - stride: the upsampling factor; default 1.
    ///   - padding: default `.same` (output H·stride); `.valid` gives H·stride + max(k − stride, 0).
    ///   - useBias: whether to add a learned bias; default `true`.
    ///   - kernelInitializer: default `.glorotUniform` (Keras's; fans from the `[k, k, out, in]`
    ///     shape as Keras computes them); pix2pix uses `.normal(standardDeviation: 0.02)`.
    ///   - biasInitializer: default `.zeros`.
    public init(
        _ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Padding = .same,
        useBias: Bool = true, kernelInitializer: Initializer = .glorotUniform, biasInitializer: Initializer = .zeros
    ) {
        (kernel, bias) = convolutionParameters(
            "Conv2DTranspose", inChannels, outChannels, kernelSize: kernelSize, stride: stride,
            kernelShape: [kernelSize, kernelSize, outChannels, inChannels], useBias: useBias,
            kernelInitializer: kernelInitializer, biasInitializer: biasInitializer)
        self.stride = stride
        self.padding = padding
    }

    /// Upsamples `input` `[N, H, W, in]` into `[N, Ho, Wo, out]`.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        conv2DTranspose(input, kernel: kernel.value, bias: bias?.value, stride: stride, padding: padding)
    }
}
