// Transposed 2-D convolution: the adjoint of `conv2D` with the same kernel, stride and padding.
//
// Its kernel layout [k, k, Cout, Cin] (Keras Conv2DTranspose) is exactly the [k, k, in, out]
// layout of the convolution it inverts, whose "input" is our output and whose "output" is our
// input. So, with that convolution's geometry:
//   forward          y  = convolutionInputGradient(x)      (x·Wᵀ then col2im)
//   input gradient   dx = convolutionForward(dy)           (im2col(dy)·W)
//   kernel gradient  dW = convolutionKernelGradient(input: dy, outputGradient: x)

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
public func conv2DTranspose(_ input: Tensor, kernel: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Padding = .valid) -> Tensor {
    validateConvolution("conv2DTranspose", input: input, kernel: kernel, bias: bias, stride: stride, kernelInputAxis: 3, kernelOutputAxis: 2)
    let (batch, height, width) = (input.shape[0], input.shape[1], input.shape[2])
    let kernelSize = kernel.shape[0], outputChannels = kernel.shape[2]
    let outputHeight = transposedOutputSize(height, kernelSize: kernelSize, stride: stride, padding: padding)
    let outputWidth = transposedOutputSize(width, kernelSize: kernelSize, stride: stride, padding: padding)
    // The convolution this op is the adjoint of: from our output back to our input.
    let geometry = ConvGeometry(batch: batch, inputHeight: outputHeight, inputWidth: outputWidth,
                                inputChannels: outputChannels, outputChannels: input.shape[3],
                                kernelSize: kernelSize, stride: stride, padding: padding)
    precondition(geometry.outputHeight == height && geometry.outputWidth == width,
                 "conv2DTranspose: internal size mismatch for input \(describeShape(input.shape)), kernel \(describeShape(kernel.shape))")
    let output = Tensor(uninitializedShape: [batch, outputHeight, outputWidth, outputChannels])
    withExtendedLifetime((input, kernel, bias)) {
        transposedForward(input: input.storage.pointer, kernel: kernel.storage.pointer, output: output.storage.pointer,
                          geometry: geometry, bias: bias.map { UnsafePointer($0.storage.pointer) })
    }
    let (inputValue, kernelValue) = (input.detached(), kernel.detached())
    return Tensor.recording(output, inputs: bias.map { [input, kernel, $0] } ?? [input, kernel],
                            detail: "\(describeShape(input.shape)) → \(describeShape(output.shape))") { gradient, needed in
        var gradients: [Tensor?] = [nil, nil]
        if needed[0] {
            let inputGradient = Tensor(uninitializedShape: inputValue.shape)
            withExtendedLifetime((gradient, kernelValue)) {
                convolutionForward(input: gradient.storage.pointer, kernel: kernelValue.storage.pointer, bias: nil,
                                   output: inputGradient.storage.pointer, geometry: geometry)
            }
            gradients[0] = inputGradient
        }
        if needed[1] {
            // The roles of the underlying convolution: our output gradient is its input.
            gradients[1] = convolutionKernelGradient(input: gradient, outputGradient: inputValue, shape: kernelValue.shape, geometry: geometry)
        }
        if needed.count == 3 {
            gradients.append(needed[2] ? channelSums(gradient, channels: outputChannels) : nil)
        }
        return gradients
    }
}

/// The forward pass of a transposed convolution: `output = col2im(input·Wᵀ) (+ bias)` in `geometry`
/// (the geometry of the convolution from `output` to `input`).
func transposedForward(input: UnsafePointer<Float>, kernel: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                       geometry: ConvGeometry, bias: UnsafePointer<Float>? = nil) {
    convolutionInputGradient(outputGradient: input, kernel: kernel, inputGradient: output, geometry: geometry, bias: bias)
}
