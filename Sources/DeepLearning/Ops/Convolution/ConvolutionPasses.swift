// The three GEMM passes of a 2-D convolution on raw pointers, and how a transposed convolution
// reuses them.
//
// For a geometry with patch matrix P = im2col(x) of shape [N·Ho·Wo, kh·kw·Cin] and the kernel
// viewed as W [kh·kw·Cin, Cout]:
//   forward          y  = P·W (+ bias)
//   input gradient   dx = col2im(dy·Wᵀ)
//   kernel gradient  dW = Pᵀ·dy
// Rows go through a bounded scratch buffer chunk by chunk (see Im2col.swift).
//
// A transposed convolution with kernel [k, k, Cout, Cin] is the adjoint of the convolution from
// its output back to its input, whose kernel layout [k, k, in, out] is the same array. In that
// convolution's geometry (its "input" is our output) the roles swap:
//   forward          y  = col2im(x·Wᵀ)      the convolution's input-gradient pass
//   input gradient   dx = im2col(dy)·W      the convolution's forward pass
//   kernel gradient  dW = im2col(dy)ᵀ·x     the convolution's kernel-gradient pass, x and dy swapped

/// One of the three passes of a convolution's training step.
@_spi(Benchmarks) public enum ConvolutionPass: String, CaseIterable, Sendable {
    /// y from x.
    case forward
    /// ∂x from ∂y.
    case inputGradient
    /// ∂kernel from x and ∂y.
    case kernelGradient
}

extension ConvGeometry {
    /// y from x (+ `bias` per output channel): the forward pass of the convolution of this
    /// geometry, or of the transposed convolution that is its adjoint.
    func forward(
        transposed: Bool, input x: UnsafePointer<Float>, kernel w: UnsafePointer<Float>,
        bias: UnsafePointer<Float>?, output y: UnsafeMutablePointer<Float>
    ) {
        if transposed {
            convolutionInputGradient(outputGradient: x, kernel: w, inputGradient: y, bias: bias)
        } else {
            convolutionForward(input: x, kernel: w, bias: bias, output: y)
        }
    }

    /// ∂x from ∂y, overwriting `inputGradient`.
    func inputGradient(
        transposed: Bool, outputGradient dy: UnsafePointer<Float>, kernel w: UnsafePointer<Float>,
        inputGradient dx: UnsafeMutablePointer<Float>
    ) {
        if transposed {
            convolutionForward(input: dy, kernel: w, bias: nil, output: dx)
        } else {
            convolutionInputGradient(outputGradient: dy, kernel: w, inputGradient: dx)
        }
    }

    /// ∂kernel from x and ∂y, overwriting `kernelGradient`.
    func kernelGradient(
        transposed: Bool, input x: UnsafePointer<Float>, outputGradient dy: UnsafePointer<Float>,
        kernelGradient dw: UnsafeMutablePointer<Float>
    ) {
        if transposed {
            convolutionKernelGradient(input: dy, outputGradient: x, kernelGradient: dw)
        } else {
            convolutionKernelGradient(input: x, outputGradient: dy, kernelGradient: dw)
        }
    }

    /// y[rows, Cout] = im2col(x)·W (+ bias).
    private func convolutionForward(
        input: UnsafePointer<Float>, kernel: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        output: UnsafeMutablePointer<Float>
    ) {
        let cout = outputChannels, patch = patchSize, wo = outputWidth
        guard rows > 0, cout > 0 else { return }
        if usesWinograd {
            winogradForward(input: input, kernel: kernel, bias: bias, output: output)
            return
        }
        if usesThinOutputKernels {
            thinOutputForward(input: input, kernel: kernel, bias: bias, output: output)
            return
        }
        if isPointwise || patch == 0 {
            // A 1×1 convolution is a product on the input itself (k = 0: the bias, or zeros).
            product(
                transposeA: false, transposeB: false, m: rows, n: cout, k: patch,
                a: input, lda: patch, b: kernel, ldb: cout, bias: bias, c: output, ldc: cout)
            return
        }
        let groupOut = groupOutputChannels
        StoragePool.withScratchBuffer(linesPerChunk * wo * patch) { columns in
            forEachChunk { firstLine, lineCount in
                let destination = output + firstLine * wo * cout
                // One product per channel group, on its slice of the kernel's and the output's columns.
                for group in 0..<groups {
                    im2col(input, firstLine: firstLine, lineCount: lineCount, group: group, into: columns)
                    product(
                        transposeA: false, transposeB: false, m: lineCount * wo, n: groupOut, k: patch,
                        a: columns, lda: patch, b: kernel + group * groupOut, ldb: cout,
                        bias: bias.map { $0 + group * groupOut }, c: destination + group * groupOut, ldc: cout)
                }
            }
        }
    }

    /// dx = col2im(dy·Wᵀ) (+ `bias` on every pixel), overwriting `inputGradient` ([N, H, W, Cin]).
    ///
    /// `bias` ([Cin]) serves the transposed convolution, whose forward pass this is: starting the
    /// accumulation from the bias saves a separate pass over the output.
    private func convolutionInputGradient(
        outputGradient: UnsafePointer<Float>, kernel: UnsafePointer<Float>,
        inputGradient: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>? = nil
    ) {
        let cout = outputChannels, patch = patchSize, wo = outputWidth
        let pixels = batch * inputHeight * inputWidth
        if isPointwise && cout > 0 {
            product(
                transposeA: false, transposeB: true, m: rows, n: patch, k: cout,
                a: outputGradient, lda: cout, b: kernel, ldb: cout, bias: bias, c: inputGradient, ldc: patch)
            return
        }
        if bias == nil && usesWinograd {
            winogradInputGradient(outputGradient: outputGradient, kernel: kernel, inputGradient: inputGradient)
            return
        }
        if bias == nil && usesThinOutputKernels {
            thinOutputInputGradient(outputGradient: outputGradient, kernel: kernel, inputGradient: inputGradient)
            return
        }
        if let bias {
            fillRows(inputGradient, rows: pixels, columns: inputChannels, stride: inputChannels, with: bias)
        } else {
            inputGradient.update(repeating: 0, count: pixels * inputChannels)
        }
        guard rows > 0, cout > 0, patch > 0 else { return }
        let groupOut = groupOutputChannels
        StoragePool.withScratchBuffer(linesPerChunk * wo * patch) { columns in
            forEachChunk { firstLine, lineCount in
                for group in 0..<groups {
                    product(
                        transposeA: false, transposeB: true, m: lineCount * wo, n: patch, k: groupOut,
                        a: outputGradient + firstLine * wo * cout + group * groupOut, lda: cout,
                        b: kernel + group * groupOut, ldb: cout, c: columns, ldc: patch)
                    col2imAdding(columns, firstLine: firstLine, lineCount: lineCount, group: group, into: inputGradient)
                }
            }
        }
    }

    /// dW[kh·kw·Cin, Cout] = im2col(x)ᵀ·dy, overwriting `kernelGradient`.
    private func convolutionKernelGradient(
        input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
        kernelGradient: UnsafeMutablePointer<Float>
    ) {
        let cout = outputChannels, patch = patchSize, wo = outputWidth
        guard rows > 0, cout > 0, patch > 0 else {
            kernelGradient.update(repeating: 0, count: patch * cout)
            return
        }
        if usesWinograd {
            winogradKernelGradient(input: input, outputGradient: outputGradient, kernelGradient: kernelGradient)
            return
        }
        if usesThinOutputKernels {
            thinOutputKernelGradient(input: input, outputGradient: outputGradient, kernelGradient: kernelGradient)
            return
        }
        if isPointwise {
            product(
                transposeA: true, transposeB: false, m: patch, n: cout, k: rows,
                a: input, lda: patch, b: outputGradient, ldb: cout, c: kernelGradient, ldc: cout)
            return
        }
        // The first chunk overwrites (β = 0), later ones accumulate: no separate zeroing pass,
        // and a single-chunk layer writes its gradient exactly once.
        let groupOut = groupOutputChannels
        StoragePool.withScratchBuffer(linesPerChunk * wo * patch) { columns in
            forEachChunk { firstLine, lineCount in
                for group in 0..<groups {
                    im2col(input, firstLine: firstLine, lineCount: lineCount, group: group, into: columns)
                    product(
                        transposeA: true, transposeB: false, m: patch, n: groupOut, k: lineCount * wo,
                        a: columns, lda: patch, b: outputGradient + firstLine * wo * cout + group * groupOut, ldb: cout,
                        beta: firstLine == 0 ? 0 : 1, c: kernelGradient + group * groupOut, ldc: cout)
                }
            }
        }
    }
}
