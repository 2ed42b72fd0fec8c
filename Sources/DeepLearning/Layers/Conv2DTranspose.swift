/// A transposed 2-D convolution layer ("deconvolution") over NHWC images, like Keras's
/// `Conv2DTranspose` and PyTorch's `nn.ConvTranspose2d` (one group): upsamples by `stride`.
///
/// ```swift
/// let up = Conv2DTranspose(128, 3, kernelSize: 4, stride: 2, padding: .same)   // [1, 128, 128, 128] -> [1, 256, 256, 3]
/// ```
///
/// The kernel is `[kh, kw, out, in]`; a PyTorch weight `[in, out, kh, kw]` converts with
/// `permuted([2, 3, 1, 0])`.
public final class Conv2DTranspose: Layer {
    /// `[kh, kw, out, in]` (Keras Conv2DTranspose layout).
    public let kernel: Parameter
    /// `[out]`, or `nil` when created with `useBias: false`.
    public let bias: Parameter?
    /// The upsampling factors (height, width).
    public let strides: (height: Int, width: Int)
    /// How output sizes are computed (Keras's for `.same`/`.valid`, PyTorch's for `.explicit`).
    public let padding: Padding
    /// The spacing of the kernel's taps (height, width).
    public let dilation: (height: Int, width: Int)
    /// Extra rows and columns at the bottom and right (PyTorch's `output_padding`).
    public let outputPadding: (height: Int, width: Int)

    /// Creates a transposed convolution with a square `kernelSize`×`kernelSize` kernel.
    ///
    /// - Parameters:
    ///   - inChannels: channels of the input (last axis).
    ///   - outChannels: channels of the output.
    ///   - kernelSize: the kernel's height and width.
    ///   - stride: the upsampling factor; default 1.
    ///   - padding: default `.valid` (Keras's and PyTorch's default): output H·stride + max(k − stride, 0),
    ///     i.e. (H − 1)·stride + k; `.same` gives H·stride.
    ///   - useBias: whether to add a learned bias; default `true`.
    ///   - kernelInitializer: default `.glorotUniform` (Keras's; fans from the `[k, k, out, in]`
    ///     shape as Keras computes them); pix2pix uses `.normal(standardDeviation: 0.02)`.
    ///   - biasInitializer: default `.zeros`.
    public convenience init(
        _ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Padding = .valid,
        useBias: Bool = true, kernelInitializer: Initializer = .glorotUniform, biasInitializer: Initializer = .zeros
    ) {
        self.init(
            inChannels, outChannels, kernelSize: (kernelSize, kernelSize), stride: (stride, stride), padding: padding,
            useBias: useBias, kernelInitializer: kernelInitializer, biasInitializer: biasInitializer)
    }

    /// Creates a transposed convolution with any kernel size, strides, dilation and output padding.
    ///
    /// - Parameters:
    ///   - kernelSize: (height, width).
    ///   - stride: (height, width); default (1, 1).
    ///   - padding: default `.valid` (Keras's and PyTorch's default); `.same` or
    ///     `.explicit(height:width:)` (PyTorch's `padding=`).
    ///   - dilation: (height, width); default (1, 1).
    ///   - outputPadding: (height, width), each below its stride, with `.valid` or `.explicit`
    ///     padding; default (0, 0).
    public init(
        _ inChannels: Int, _ outChannels: Int, kernelSize: (Int, Int), stride: (Int, Int) = (1, 1),
        padding: Padding = .valid, dilation: (Int, Int) = (1, 1), outputPadding: (Int, Int) = (0, 0),
        useBias: Bool = true, kernelInitializer: Initializer = .glorotUniform, biasInitializer: Initializer = .zeros
    ) {
        precondition(
            padding != .same || outputPadding == (0, 0),
            "Conv2DTranspose: outputPadding \(outputPadding) needs .valid or .explicit padding (.same fixes the output at H·stride)"
        )
        (kernel, bias) = convolutionParameters(
            "Conv2DTranspose", inChannels, outChannels, kernelSize: kernelSize, stride: stride, dilation: dilation,
            kernelShape: [kernelSize.0, kernelSize.1, outChannels, inChannels], useBias: useBias,
            kernelInitializer: kernelInitializer, biasInitializer: biasInitializer)
        (strides, self.padding, self.dilation, self.outputPadding) = (stride, padding, dilation, outputPadding)
    }

    /// Upsamples `input` `[N, H, W, in]` into `[N, Ho, Wo, out]`.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        conv2DTranspose(
            input, kernel: kernel.value, bias: bias?.value, strides: strides, padding: padding, dilation: dilation,
            outputPadding: outputPadding)
    }
}
