// Transposed 2-D convolution: the adjoint of `conv2D` with the same kernel, stride and padding,
// recorded through the convolution's passes in swapped roles (ConvolutionPasses.swift).

/// The output size of a transposed convolution along one axis: Keras's for `.same` (H·s) and
/// `.valid` (H·s + max(k' − s, 0), k' = d·(k − 1) + 1), PyTorch's for explicit padding
/// ((H − 1)·s − 2p + d·(k − 1) + 1); plus `outputPadding` (not with `.same`).
func transposedOutputSize(
    _ size: Int, kernelSize: Int, stride: Int, padding: Padding, dilation: Int = 1, outputPadding: Int = 0,
    explicit: Int = 0
) -> Int {
    let extent = dilation * (kernelSize - 1) + 1
    switch padding {
    case .same: return size * stride
    case .valid:
        return outputPadding == 0
            ? size * stride + Swift.max(extent - stride, 0) : (size - 1) * stride + extent + outputPadding
    case .explicit: return (size - 1) * stride - 2 * explicit + extent + outputPadding
    }
}

/// A transposed 2-D convolution ("deconvolution") over NHWC images, as Keras's `Conv2DTranspose`,
/// with a square kernel and equal strides; see the overload with `strides:` for the rest.
///
/// It is the adjoint (gradient w.r.t. the input) of `conv2D` with the same kernel, stride and
/// padding applied to an image of the output size. For k = 4, s = 2, `.same` it equals
/// PyTorch's `ConvTranspose2d(kernel_size: 4, stride: 2, padding: 1)`.
///
/// - Parameters:
///   - input: `[N, H, W, Cin]`.
///   - kernel: `[k, k, Cout, Cin]` (Keras Conv2DTranspose layout).
///   - bias: `[Cout]`, or `nil` (the default) for none.
///   - stride: the upsampling factor in both spatial axes; default 1.
///   - padding: `.valid` (the default; Ho = H·s + max(k − s, 0), i.e. (H − 1)·s + k for k ≥ s),
///     `.same` (Ho = H·s) or `.explicit` (PyTorch's `padding=`).
/// - Returns: `[N, Ho, Wo, Cout]`. Differentiable w.r.t. input, kernel and bias.
public func conv2DTranspose(
    _ input: Tensor, kernel: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Padding = .valid
) -> Tensor {
    conv2DTranspose(input, kernel: kernel, bias: bias, strides: (stride, stride), padding: padding)
}

/// A transposed 2-D convolution with any kernel size, strides, dilation and output padding
/// (PyTorch's `F.conv_transpose2d(x, w, b, stride, padding, output_padding, dilation=…)`, one
/// group).
///
/// A PyTorch `ConvTranspose2d` weight `[Cin, Cout, kh, kw]` is this kernel permuted by
/// `(2, 3, 1, 0)`; its `padding=p` is `.explicit(height: p, width: p)`.
///
/// - Parameters:
///   - input: `[N, H, W, Cin]`.
///   - kernel: `[kh, kw, Cout, Cin]`.
///   - strides: the upsampling factors (height, width).
///   - padding: `.valid` (default), `.same` or `.explicit(height:width:)`.
///   - dilation: the spacing of the kernel's taps; default (1, 1).
///   - outputPadding: rows and columns added at the bottom and right to pick among the output
///     sizes that map to the same input size (`.valid` or `.explicit` padding only; PyTorch's
///     `output_padding`, each less than its
///     stride); default (0, 0).
/// - Returns: `[N, Ho, Wo, Cout]`, Ho = (H − 1)·sh − 2·ph + dh·(kh − 1) + 1 + oph for explicit
///   padding.
public func conv2DTranspose(
    _ input: Tensor, kernel: Tensor, bias: Tensor? = nil, strides: (Int, Int), padding: Padding = .valid,
    dilation: (Int, Int) = (1, 1), outputPadding: (Int, Int) = (0, 0)
) -> Tensor {
    validateConvolution(
        "conv2DTranspose", input: input, kernel: kernel, bias: bias, strides: strides, dilation: dilation, groups: 1,
        inputChannels: kernel.rank == 4 ? kernel.shape[3] : -1, outputChannels: kernel.rank == 4 ? kernel.shape[2] : -1)
    precondition(
        outputPadding.0 >= 0 && outputPadding.0 < strides.0 && outputPadding.1 >= 0 && outputPadding.1 < strides.1,
        "conv2DTranspose: outputPadding \(outputPadding) must be below the strides \(strides)")
    precondition(
        padding != .same || outputPadding == (0, 0),
        "conv2DTranspose: outputPadding \(outputPadding) needs .valid or .explicit padding (.same fixes the output at H·stride)"
    )
    let (batch, height, width) = (input.shape[0], input.shape[1], input.shape[2])
    let outputChannels = kernel.shape[2]
    var explicit = (0, 0)
    if case let .explicit(h, w) = padding { explicit = (h, w) }
    let outputHeight = transposedOutputSize(
        height, kernelSize: kernel.shape[0], stride: strides.0, padding: padding, dilation: dilation.0,
        outputPadding: outputPadding.0, explicit: explicit.0)
    let outputWidth = transposedOutputSize(
        width, kernelSize: kernel.shape[1], stride: strides.1, padding: padding, dilation: dilation.1,
        outputPadding: outputPadding.1, explicit: explicit.1)
    precondition(
        outputHeight > 0 && outputWidth > 0,
        "conv2DTranspose: input \(describeShape(input.shape)) with kernel \(describeShape(kernel.shape)) and padding \(padding) has no output"
    )
    // The convolution this op is the adjoint of: from our output back to our input.
    let geometry = ConvGeometry(
        batch: batch, inputHeight: outputHeight, inputWidth: outputWidth, inputChannels: outputChannels,
        outputChannels: input.shape[3], kernelSize: (kernel.shape[0], kernel.shape[1]), stride: strides,
        padding: padding, dilation: dilation)
    precondition(
        geometry.outputHeight == height && geometry.outputWidth == width,
        "conv2DTranspose: internal size mismatch for input \(describeShape(input.shape)), kernel \(describeShape(kernel.shape))"
    )
    return recordedConvolution(
        input, kernel: kernel, bias: bias, geometry: geometry, transposed: true,
        outputShape: [batch, outputHeight, outputWidth, outputChannels])
}
