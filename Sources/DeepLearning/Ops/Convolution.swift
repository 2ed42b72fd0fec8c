// 2-D convolution and its transposed twin as differentiable ops over NHWC images, on the GEMM
// passes of ConvolutionPasses.swift:
//   forward          y  = im2col(x)·W (+ bias)
//   input gradient   dx = col2im(dy·Wᵀ)
//   kernel gradient  dW = im2col(x)ᵀ·dy
//   bias gradient    db = Σ_{n,h,w} dy
// `conv2DTranspose` (ConvolutionTranspose.swift) records through the same function with the
// roles of input and output swapped.

/// How a convolution treats the border, with Keras/TensorFlow semantics.
public enum Padding: String, Sendable, Codable {
    /// Output size ⌈H / stride⌉; zeros are added, the odd one at the bottom/right (TensorFlow).
    case same
    /// No padding: output size ⌊(H − k) / stride⌋ + 1.
    case valid
}

/// A 2-D convolution (cross-correlation, as in Keras/TensorFlow) over NHWC images.
///
/// - Parameters:
///   - input: `[N, H, W, Cin]`.
///   - kernel: `[k, k, Cin, Cout]` (Keras layout; square).
///   - bias: `[Cout]`, or `nil` (the default) for none.
///   - stride: the step in both spatial axes; default 1.
///   - padding: `.valid` (the default; Ho = ⌊(H − k) / s⌋ + 1) or `.same` (Ho = ⌈H / s⌉,
///     TensorFlow's split: the odd padding row/column goes to the bottom/right).
/// - Returns: `[N, Ho, Wo, Cout]`. Differentiable w.r.t. input, kernel and bias.
public func conv2D(
    _ input: Tensor, kernel: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Padding = .valid
) -> Tensor {
    validateConvolution(
        "conv2D", input: input, kernel: kernel, bias: bias, stride: stride, kernelInputAxis: 2, kernelOutputAxis: 3)
    let geometry = ConvGeometry(
        batch: input.shape[0], inputHeight: input.shape[1], inputWidth: input.shape[2],
        inputChannels: input.shape[3], outputChannels: kernel.shape[3],
        kernelSize: kernel.shape[0], stride: stride, padding: padding)
    precondition(
        geometry.outputHeight > 0 && geometry.outputWidth > 0,
        "conv2D: input \(describeShape(input.shape)) is smaller than kernel \(describeShape(kernel.shape)) with 'valid' padding"
    )
    return recordedConvolution(
        input, kernel: kernel, bias: bias, geometry: geometry, transposed: false,
        outputShape: [geometry.batch, geometry.outputHeight, geometry.outputWidth, geometry.outputChannels])
}

/// Runs the forward pass of a convolution (or, when `transposed`, of the transposed
/// convolution that is the adjoint of `geometry`) and records its pullback.
func recordedConvolution(
    _ input: Tensor, kernel: Tensor, bias: Tensor?, geometry: ConvGeometry, transposed: Bool,
    outputShape: [Int], op: StaticString = #function
) -> Tensor {
    let output = Tensor(uninitializedShape: outputShape)
    withPointers(input, kernel, bias, output) { x, w, b, y in
        geometry.forward(transposed: transposed, input: x, kernel: w, bias: b, output: y)
    }
    let (inputValue, kernelValue) = (input.detached(), kernel.detached())
    return Tensor.recording(
        output, inputs: bias.map { [input, kernel, $0] } ?? [input, kernel], op: op,
        detail: "\(describeShape(input.shape)) → \(describeShape(outputShape))"
    ) { gradient, needed in
        var gradients: [Tensor?] = [nil, nil]
        if needed[0] {
            let inputGradient = Tensor(uninitializedShape: inputValue.shape)
            withPointers(gradient, kernelValue, inputGradient) { dy, w, dx in
                geometry.inputGradient(transposed: transposed, outputGradient: dy, kernel: w, inputGradient: dx)
            }
            gradients[0] = inputGradient
        }
        if needed[1] {
            gradients[1] = kernelGradient(
                input: inputValue, outputGradient: gradient, shape: kernelValue.shape,
                geometry: geometry, transposed: transposed)
        }
        if needed.count == 3 {
            gradients.append(needed[2] ? channelSums(gradient, channels: outputShape[3]) : nil)
        }
        return gradients
    }
}

/// The kernel gradient as a new tensor of `shape`. For layers whose kernel dwarfs their
/// activations (the U-Net's bottom) the result is also proved finite from the activations
/// (`kernelGradientIsProvablyFinite`), which spares the NaN check a scan of tens of megabytes.
private func kernelGradient(
    input: Tensor, outputGradient: Tensor, shape: [Int], geometry: ConvGeometry,
    transposed: Bool
) -> Tensor {
    let kernelGradient = Tensor(uninitializedShape: shape)
    withPointers(input, outputGradient, kernelGradient) { x, dy, dw in
        geometry.kernelGradient(transposed: transposed, input: x, outputGradient: dy, kernelGradient: dw)
    }
    if 4 * (input.count + outputGradient.count) < kernelGradient.count {
        kernelGradient.storage.knownFinite = kernelGradientIsProvablyFinite(input, outputGradient, rows: geometry.rows)
    }
    return kernelGradient
}

/// Σ over all leading axes of a tensor whose last axis has `channels` elements: the bias gradient.
/// Uses the blocked, parallel per-channel reduction that normalisation uses.
func channelSums(_ gradient: Tensor, channels: Int) -> Tensor {
    let rows = channels == 0 ? 0 : gradient.count / channels
    let sums = gradient.withPointer { source in
        channelSums(rows: rows, channels: channels) { row, accumulator in
            let values = source + row * channels
            for c in 0..<channels { accumulator[c] += values[c] }
        }
    }
    return Tensor(shape: [channels], scalars: sums)
}

/// Checks ranks and channel counts; `role` names the op in messages.
func validateConvolution(
    _ role: String, input: Tensor, kernel: Tensor, bias: Tensor?, stride: Int,
    kernelInputAxis: Int, kernelOutputAxis: Int
) {
    precondition(
        input.rank == 4,
        "\(role): input must be [N, H, W, C]; got \(describeShape(input.shape)) with kernel \(describeShape(kernel.shape))"
    )
    precondition(
        kernel.rank == 4 && kernel.shape[0] == kernel.shape[1],
        "\(role): kernel must be square and rank 4; got \(describeShape(kernel.shape)) for input \(describeShape(input.shape))"
    )
    precondition(
        input.shape[3] == kernel.shape[kernelInputAxis],
        "\(role): input channels \(input.shape[3]) of \(describeShape(input.shape)) differ from kernel \(describeShape(kernel.shape)) axis \(kernelInputAxis)"
    )
    precondition(stride >= 1, "\(role): stride must be positive; got \(stride)")
    if let bias {
        precondition(
            bias.shape == [kernel.shape[kernelOutputAxis]],
            "\(role): bias \(describeShape(bias.shape)) must be [\(kernel.shape[kernelOutputAxis])] for kernel \(describeShape(kernel.shape))"
        )
    }
}
