/// A 2-D convolution layer over NHWC images, like Keras's `Conv2D` and PyTorch's `nn.Conv2d`.
///
/// ```swift
/// let conv = Conv2D(3, 64, kernelSize: 4, stride: 2, padding: .same)   // [1, 256, 256, 3] -> [1, 128, 128, 64]
/// let depthwise = Conv2D(32, 32, kernelSize: (3, 3), padding: .explicit(height: 1, width: 1), groups: 32)
/// ```
///
/// The kernel is `[kh, kw, in/groups, out]`, Keras's layout; a PyTorch weight
/// `[out, in/groups, kh, kw]` converts with `permuted([2, 3, 1, 0])`.
public final class Conv2D: Layer {
    /// `[kh, kw, in/groups, out]` (Keras layout).
    public let kernel: Parameter
    /// `[out]`, or `nil` when created with `useBias: false`.
    public let bias: Parameter?
    /// The steps (height, width).
    public let strides: (height: Int, width: Int)
    /// How the border is handled.
    public let padding: Padding
    /// The spacing of the kernel's taps (height, width).
    public let dilation: (height: Int, width: Int)
    /// Channel groups (in/groups input channels per filter).
    public let groups: Int

    /// Creates a convolution with a square `kernelSize`×`kernelSize` kernel.
    ///
    /// - Parameters:
    ///   - inChannels: channels of the input (last axis).
    ///   - outChannels: channels of the output.
    ///   - kernelSize: the kernel's height and width.
    ///   - stride: the step in both axes; default 1.
    ///   - padding: default `.valid` (no padding, as Keras's and PyTorch's default); `.same` keeps
    ///     ⌈H / stride⌉.
    ///   - useBias: whether to add a learned bias; default `true`.
    ///   - kernelInitializer: default `.glorotUniform` (Keras's); pix2pix uses `.normal(standardDeviation: 0.02)`.
    ///   - biasInitializer: default `.zeros`.
    ///
    /// Random initializers draw from `RandomState`, so `RandomState.seed(_:)` makes models reproducible.
    public convenience init(
        _ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Padding = .valid,
        useBias: Bool = true, kernelInitializer: Initializer = .glorotUniform, biasInitializer: Initializer = .zeros
    ) {
        self.init(
            inChannels, outChannels, kernelSize: (kernelSize, kernelSize), stride: (stride, stride), padding: padding,
            useBias: useBias, kernelInitializer: kernelInitializer, biasInitializer: biasInitializer)
    }

    /// Creates a convolution with any kernel size, strides, dilation and channel groups.
    ///
    /// - Parameters:
    ///   - kernelSize: (height, width).
    ///   - stride: (height, width); default (1, 1).
    ///   - padding: default `.valid` (Keras's and PyTorch's default); `.same` (Keras's `'same'`)
    ///     or `.explicit(height:width:)` (PyTorch's `padding=`).
    ///   - dilation: (height, width); default (1, 1).
    ///   - groups: default 1; `inChannels` for a depthwise convolution. Must divide both channel counts.
    public init(
        _ inChannels: Int, _ outChannels: Int, kernelSize: (Int, Int), stride: (Int, Int) = (1, 1),
        padding: Padding = .valid, dilation: (Int, Int) = (1, 1), groups: Int = 1, useBias: Bool = true,
        kernelInitializer: Initializer = .glorotUniform, biasInitializer: Initializer = .zeros
    ) {
        precondition(
            groups > 0 && inChannels % groups == 0 && outChannels % groups == 0,
            "Conv2D: \(groups) groups do not divide the channels (\(inChannels), \(outChannels))")
        (kernel, bias) = convolutionParameters(
            "Conv2D", inChannels, outChannels, kernelSize: kernelSize, stride: stride, dilation: dilation,
            kernelShape: [kernelSize.0, kernelSize.1, inChannels / groups, outChannels], useBias: useBias,
            kernelInitializer: kernelInitializer, biasInitializer: biasInitializer)
        (strides, self.padding, self.dilation, self.groups) = (stride, padding, dilation, groups)
    }

    /// Convolves `input` `[N, H, W, in]` into `[N, Ho, Wo, out]`.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        conv2D(
            input, kernel: kernel.value, bias: bias?.value, strides: strides, padding: padding, dilation: dilation,
            groups: groups)
    }
}

/// The kernel and optional bias of a convolution layer, after checking its settings.
func convolutionParameters(
    _ layer: String, _ inChannels: Int, _ outChannels: Int, kernelSize: (Int, Int), stride: (Int, Int),
    dilation: (Int, Int), kernelShape: [Int], useBias: Bool, kernelInitializer: Initializer,
    biasInitializer: Initializer
) -> (kernel: Parameter, bias: Parameter?) {
    precondition(
        inChannels > 0 && outChannels > 0 && kernelSize.0 > 0 && kernelSize.1 > 0 && stride.0 > 0 && stride.1 > 0
            && dilation.0 > 0 && dilation.1 > 0,
        "\(layer): channels (\(inChannels), \(outChannels)), kernel size \(kernelSize), stride \(stride) and dilation \(dilation) must be positive"
    )
    return (
        Parameter(kernelInitializer.make(kernelShape)), useBias ? Parameter(biasInitializer.make([outChannels])) : nil
    )
}
