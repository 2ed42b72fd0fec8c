// 2-D convolution and its transposed twin as differentiable ops over NHWC images, on the GEMM
// passes of ConvolutionPasses.swift:
//   forward          y  = im2col(x)·W (+ bias)
//   input gradient   dx = col2im(dy·Wᵀ)
//   kernel gradient  dW = im2col(x)ᵀ·dy
//   bias gradient    db = Σ_{n,h,w} dy
// `conv2DTranspose` (ConvolutionTranspose.swift) records through the same function with the
// roles of input and output swapped.

/// A 2-D convolution (cross-correlation, as in Keras/TensorFlow and PyTorch) over NHWC images,
/// with a square kernel and equal strides; see the overload with `strides:` for the rest.
///
/// - Parameters:
///   - input: `[N, H, W, Cin]`.
///   - kernel: `[k, k, Cin, Cout]` (Keras layout).
///   - bias: `[Cout]`, or `nil` (the default) for none.
///   - stride: the step in both spatial axes; default 1.
///   - padding: `.valid` (the default; Ho = ⌊(H − k) / s⌋ + 1), `.same` (Ho = ⌈H / s⌉,
///     TensorFlow's split: the odd padding row/column goes to the bottom/right) or
///     `.explicit(height:width:)` (PyTorch's symmetric `padding=`).
/// - Returns: `[N, Ho, Wo, Cout]`. Differentiable w.r.t. input, kernel and bias.
public func conv2D(
    _ input: Tensor, kernel: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Padding = .valid
) -> Tensor {
    conv2D(input, kernel: kernel, bias: bias, strides: (stride, stride), padding: padding)
}

/// A 2-D convolution over NHWC images with any kernel size, strides, dilation and channel
/// groups (PyTorch's `F.conv2d(x, w, b, stride, padding, dilation, groups)`).
///
/// A PyTorch weight `[Cout, Cin/groups, kh, kw]` is this kernel permuted by `(2, 3, 1, 0)`;
/// PyTorch's `padding=p` is `.explicit(height: p, width: p)` (and `'same'` for stride 1 and odd
/// kernels is `.same` here too).
///
/// - Parameters:
///   - input: `[N, H, W, Cin]`.
///   - kernel: `[kh, kw, Cin/groups, Cout]` (Keras layout).
///   - bias: `[Cout]`, or `nil` (the default).
///   - strides: the steps (height, width).
///   - padding: `.valid` (default), `.same` or `.explicit(height:width:)`.
///   - dilation: the spacing of the kernel's taps (height, width); default (1, 1).
///   - groups: channel groups, each convolved with its own Cout/groups filters (Cin for a
///     depthwise convolution); default 1. Must divide Cin and Cout.
/// - Returns: `[N, Ho, Wo, Cout]` with Ho = ⌊(H + pads − dh·(kh − 1) − 1) / sh⌋ + 1.
public func conv2D(
    _ input: Tensor, kernel: Tensor, bias: Tensor? = nil, strides: (Int, Int), padding: Padding = .valid,
    dilation: (Int, Int) = (1, 1), groups: Int = 1
) -> Tensor {
    validateConvolution(
        "conv2D", input: input, kernel: kernel, bias: bias, strides: strides, dilation: dilation, groups: groups,
        inputChannels: kernel.rank == 4 ? kernel.shape[2] * groups : -1,
        outputChannels: kernel.rank == 4 ? kernel.shape[3] : -1)
    let geometry = ConvGeometry(
        batch: input.shape[0], inputHeight: input.shape[1], inputWidth: input.shape[2],
        inputChannels: input.shape[3], outputChannels: kernel.shape[3],
        kernelSize: (kernel.shape[0], kernel.shape[1]), stride: strides, padding: padding, dilation: dilation,
        groups: groups)
    precondition(
        geometry.outputHeight > 0 && geometry.outputWidth > 0,
        "conv2D: input \(describeShape(input.shape)) is smaller than kernel \(describeShape(kernel.shape)) (dilation \(dilation)) with padding \(padding)"
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
    var inputs = RecordedInputs<ConvolutionInput>()
    inputs.append(.input, input)
    inputs.append(.kernel, kernel)
    inputs.append(.bias, bias)
    return Tensor.recording(
        output, inputs: inputs.tensors, op: op,
        detail: "\(describeShape(input.shape)) → \(describeShape(outputShape))"
    ) { gradient, needed in
        if GradientMode.isRecording {
            // Recorded: the input gradient is the adjoint convolution of ∂y with the kernel, the
            // kernel gradient an op whose own derivatives are again two convolutions.
            return inputs.gradients(needed) { role in
                switch role {
                case .input:
                    recordedConvolution(
                        gradient, kernel: kernel, bias: nil, geometry: geometry, transposed: !transposed,
                        outputShape: input.shape)
                case .kernel:
                    recordedKernelGradient(
                        input: input, outputGradient: gradient, shape: kernel.shape, geometry: geometry,
                        transposed: transposed)
                case .bias: gradient.sum(alongAxes: [0, 1, 2])
                }
            }
        }
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
        if inputs.has(.bias) {
            gradients.append(needed[2] ? channelSums(gradient, channels: outputShape[3]) : nil)
        }
        return gradients
    }
}

/// The inputs of a convolution, by role.
enum ConvolutionInput { case input, kernel, bias }

/// The kernel gradient as a recorded op of the input and the output gradient, for recorded
/// passes. It is bilinear, ⟨U, K(x, ∂y)⟩ = ⟨conv(x, U), ∂y⟩, so its derivatives are
/// convolutions with U as the kernel (StyleGAN2's `conv2d_gradfix`): ∂x = the adjoint convolution
/// of ∂y, ∂(∂y) = the convolution of x.
private func recordedKernelGradient(
    input: Tensor, outputGradient: Tensor, shape: [Int], geometry: ConvGeometry, transposed: Bool
) -> Tensor {
    let value = kernelGradient(
        input: input, outputGradient: outputGradient, shape: shape, geometry: geometry, transposed: transposed)
    return Tensor.recording(value, inputs: [input, outputGradient]) { upstream, needed in
        [
            needed[0]
                ? recordedConvolution(
                    outputGradient, kernel: upstream, bias: nil, geometry: geometry, transposed: !transposed,
                    outputShape: input.shape) : nil,
            needed[1]
                ? recordedConvolution(
                    input, kernel: upstream, bias: nil, geometry: geometry, transposed: transposed,
                    outputShape: outputGradient.shape) : nil,
        ]
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

/// Checks ranks, channel counts and settings; `role` names the op in messages.
/// `inputChannels`/`outputChannels` are the ones the kernel implies.
func validateConvolution(
    _ role: String, input: Tensor, kernel: Tensor, bias: Tensor?, strides: (Int, Int), dilation: (Int, Int),
    groups: Int, inputChannels: Int, outputChannels: Int
) {
    precondition(
        input.rank == 4,
        "\(role): input must be [N, H, W, C]; got \(describeShape(input.shape)) with kernel \(describeShape(kernel.shape))"
    )
    precondition(kernel.rank == 4, "\(role): kernel must be rank 4; got \(describeShape(kernel.shape))")
    precondition(
        strides.0 >= 1 && strides.1 >= 1 && dilation.0 >= 1 && dilation.1 >= 1,
        "\(role): strides \(strides) and dilation \(dilation) must be positive")
    precondition(
        groups >= 1 && input.shape[3] % groups == 0 && outputChannels % groups == 0,
        "\(role): \(groups) groups do not divide the input channels \(input.shape[3]) and the output channels \(outputChannels)"
    )
    precondition(
        input.shape[3] == inputChannels,
        "\(role): input channels \(input.shape[3]) of \(describeShape(input.shape)) do not fit kernel \(describeShape(kernel.shape)) with \(groups) group(s)"
    )
    if let bias {
        precondition(
            bias.shape == [outputChannels],
            "\(role): bias \(describeShape(bias.shape)) must be [\(outputChannels)] for kernel \(describeShape(kernel.shape))"
        )
    }
}
