// The affine map of a dense layer on the last axis of any tensor, as products through
// `product` (MatrixProduct.swift): the leading axes are rows.
//   forward          y  = x·W (+ b)          x [rows, in], W [in, out]
//   input gradient   ∂x = ∂y·Wᵀ
//   weight gradient  ∂W = xᵀ·∂y
//   bias gradient    ∂b = Σ_rows ∂y

/// `x·weight + bias` on the last axis (PyTorch's `F.linear`, Keras's `Dense` without activation).
///
/// - Parameters:
///   - x: `[…, in]`, any rank ≥ 1.
///   - weight: `[in, out]` (Keras's `Dense` layout; a PyTorch `nn.Linear.weight` is `[out, in]`,
///     its transpose).
///   - bias: `[out]`, or `nil` (the default).
/// - Returns: `[…, out]`. Differentiable w.r.t. all three.
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil) -> Tensor {
    precondition(
        weight.rank == 2 && x.rank >= 1 && x.shape[x.rank - 1] == weight.shape[0],
        "linear: input \(describeShape(x.shape)) does not end in the \(weight.rank == 2 ? weight.shape[0] : -1) inputs of weight \(describeShape(weight.shape))"
    )
    let (inputs, outputs) = (weight.shape[0], weight.shape[1])
    if let bias {
        precondition(bias.shape == [outputs], "linear: bias \(describeShape(bias.shape)) must be [\(outputs)]")
    }
    let rows = x.count / Swift.max(inputs, 1)
    let outputShape = Array(x.shape.dropLast()) + [outputs]
    let output = Tensor(uninitializedShape: outputShape)
    withPointers(x, weight, bias, output) { px, pw, pb, py in
        product(
            transposeA: false, transposeB: false, m: rows, n: outputs, k: inputs, a: px, lda: inputs, b: pw,
            ldb: outputs, bias: pb, c: py, ldc: outputs)
    }
    let (inputValue, weightValue) = (x.detached(), weight.detached())
    var recorded = RecordedInputs<LinearInput>()
    recorded.append(.input, x)
    recorded.append(.weight, weight)
    recorded.append(.bias, bias)
    return Tensor.recording(output, inputs: recorded.tensors) { gradient, needed in
        if GradientMode.isRecording {
            // The same products as matmuls of [rows, …] matrices, recorded.
            let outputGradient = gradient.reshaped(to: [rows, outputs])
            return recorded.gradients(needed) { role in
                switch role {
                case .input: matmul(outputGradient, weight.transposed()).reshaped(to: x.shape)
                case .weight: matmul(x.reshaped(to: [rows, inputs]).transposed(), outputGradient)
                case .bias: outputGradient.sum(alongAxes: [0])
                }
            }
        }
        var gradients: [Tensor?] = [nil, nil]
        if needed[0] {
            let inputGradient = Tensor(uninitializedShape: inputValue.shape)
            withPointers(gradient, weightValue, inputGradient) { dy, w, dx in
                product(
                    transposeA: false, transposeB: true, m: rows, n: inputs, k: outputs, a: dy, lda: outputs, b: w,
                    ldb: outputs, c: dx, ldc: inputs)
            }
            gradients[0] = inputGradient
        }
        if needed[1] {
            let weightGradient = Tensor(uninitializedShape: weightValue.shape)
            withPointers(inputValue, gradient, weightGradient) { px, dy, dw in
                product(
                    transposeA: true, transposeB: false, m: inputs, n: outputs, k: rows, a: px, lda: inputs, b: dy,
                    ldb: outputs, c: dw, ldc: outputs)
            }
            gradients[1] = weightGradient
        }
        if recorded.has(.bias) {
            gradients.append(needed[2] ? channelSums(gradient, channels: outputs) : nil)
        }
        return gradients
    }
}

/// The inputs of `linear`, by role.
enum LinearInput { case input, weight, bias }
