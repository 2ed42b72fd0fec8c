/// A 2-D convolution layer over NHWC images, like Keras's `Conv2D`.
///
/// ```swift
/// let conv = Conv2D(3, 64, kernelSize: 4, stride: 2)   // [1, 256, 256, 3] -> [1, 128, 128, 64]
/// ```
public final class Conv2D: Layer {
    /// `[k, k, in, out]` (Keras layout).
    public let kernel: Parameter
    /// `[out]`, or `nil` when created with `useBias: false`.
    public let bias: Parameter?
    /// The step in both spatial axes.
    public let stride: Int
    /// How the border is handled (TensorFlow semantics).
    public let padding: Padding

    /// Creates a convolution with a square `kernelSize`×`kernelSize` kernel.
    ///
    /// - Parameters:
    ///   - inChannels: channels of the input (last axis).
    ///   - outChannels: channels of the output.
    ///   - kernelSize: the kernel's height and width.
    ///   - stride: the step in both axes; default 1.
    ///   - padding: default `.same` (output ⌈H / stride⌉).
    ///   - useBias: whether to add a learned bias; default `true`.
    ///   - kernelInitializer: default `.glorotUniform` (Keras's); pix2pix uses `.normal(standardDeviation: 0.02)`.
    ///   - biasInitializer: default `.zeros`.
    ///
    /// Random initializers draw from `RandomState`, so `RandomState.seed(_:)` makes models reproducible.
    public init(
        _ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Padding = .same,
        useBias: Bool = true, kernelInitializer: Initializer = .glorotUniform, biasInitializer: Initializer = .zeros
    ) {
        (kernel, bias) = convolutionParameters(
            "Conv2D", inChannels, outChannels, kernelSize: kernelSize, stride: stride,
            kernelShape: [kernelSize, kernelSize, inChannels, outChannels], useBias: useBias,
            kernelInitializer: kernelInitializer, biasInitializer: biasInitializer)
        self.stride = stride
        self.padding = padding
    }

    /// Convolves `input` `[N, H, W, in]` into `[N, Ho, Wo, out]`.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        conv2D(input, kernel: kernel.value, bias: bias?.value, stride: stride, padding: padding)
    }
}

/// The kernel and optional bias of a convolution layer, after checking its settings.
func convolutionParameters(
    _ layer: String, _ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int,
    kernelShape: [Int], useBias: Bool, kernelInitializer: Initializer,
    biasInitializer: Initializer
) -> (kernel: Parameter, bias: Parameter?) {
    precondition(
        inChannels > 0 && outChannels > 0 && kernelSize > 0 && stride > 0,
        "\(layer): channels (\(inChannels), \(outChannels)), kernel size \(kernelSize) and stride \(stride) must be positive"
    )
    return (
        Parameter(kernelInitializer.make(kernelShape)), useBias ? Parameter(biasInitializer.make([outChannels])) : nil
    )
}
