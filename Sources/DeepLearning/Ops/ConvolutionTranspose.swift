// Transposed 2-D convolution: the adjoint of `conv2D` with the same kernel, stride and padding,
// recorded through the convolution's passes in swapped roles (ConvolutionPasses.swift).

/// The output size of a transposed convolution along one axis, as Keras computes it.
func transposedOutputSize(_ size: Int, kernelSize: Int, stride: Int, padding: Padding) -> Int {
    switch padding {
    case .same: return size * stride
    case .valid: return size * stride + Swift.max(kernelSize - stride, 0)
    }
}

/// A transposed 2-D convolution ("deconvolution") over NHWC images, as Keras's `Conv2DTranspose`.
///
/// It is the adjoint (gradient w.r.t. the input) of `conv2D` with the same kernel, stride and
/// padding applied to an image of the output size. For k = 4, s = 2, `.same` it equals
/// PyTorch's `ConvTranspose2d(kernel_size: 4, stride: 2, padding: 1)`.
///
/// - Parameters:
///   - input: `[N, H, W, Cin]`.
///   - kernel: `[k, k, Cout, Cin]` (Keras Conv2DTranspose layout; square).
///   - bias: `[Cout]`, or `nil` (the default) for none.
///   - stride: the upsampling factor in both spatial axes; default 1.
///   - padding: `.valid` (the default; Ho = H·s + max(k − s, 0), i.e. (H − 1)·s + k for k ≥ s)
///     or `.same` (Ho = H·s).
/// - Returns: `[N, Ho, Wo, Cout]`. Differentiable w.r.t. input, kernel and bias.
public func conv2DTranspose(
    _ input: Tensor, kernel: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Padding = .valid
) -> Tensor {
    validateConvolution(
        "conv2DTranspose", input: input, kernel: kernel, bias: bias, stride: stride, kernelInputAxis: 3,
        kernelOutputAxis: 2)
    let (batch, height, width) = (input.shape[0], input.shape[1], input.shape[2])
    let kernelSize = kernel.shape[0], outputChannels = kernel.shape[2]
    let outputHeight = transposedOutputSize(height, kernelSize: kernelSize, stride: stride, padding: padding)
    let outputWidth = transposedOutputSize(width, kernelSize: kernelSize, stride: stride, padding: padding)
    // The convolution this op is the adjoint of: from our output back to our input.
    let geometry = ConvGeometry(
        batch: batch, inputHeight: outputHeight, inputWidth: outputWidth,
        inputChannels: outputChannels, outputChannels: input.shape[3],
        kernelSize: kernelSize, stride: stride, padding: padding)
    precondition(
        geometry.outputHeight == height && geometry.outputWidth == width,
        "conv2DTranspose: internal size mismatch for input \(describeShape(input.shape)), kernel \(describeShape(kernel.shape))"
    )
    return recordedConvolution(
        input, kernel: kernel, bias: bias, geometry: geometry, transposed: true,
        outputShape: [batch, outputHeight, outputWidth, outputChannels])
}
