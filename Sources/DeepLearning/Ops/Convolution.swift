// 2-D convolution as GEMMs on OpenBLAS (DESIGN.md §4).
//
// For a geometry with patch matrix P = im2col(x) of shape [N·Ho·Wo, kh·kw·Cin] and the kernel
// viewed as W [kh·kw·Cin, Cout]:
//   forward          y  = P·W (+ bias)
//   input gradient   dx = col2im(dy·Wᵀ)
//   kernel gradient  dW = Pᵀ·dy
//   bias gradient    db = Σ_{n,h,w} dy
// Rows go through a bounded scratch buffer chunk by chunk (see Im2col.swift). The same three
// kernels serve the transposed convolution with the roles of input and output swapped.

import COpenBLAS

/// How a convolution treats the border, with Keras/TensorFlow semantics.
public enum Padding: String, Sendable, Codable {
    /// Output size ⌈H / stride⌉; zeros are added, the odd one at the bottom/right (TensorFlow).
    case same
    /// No padding: output size ⌊(H − k) / stride⌋ + 1.
    case valid
}

/// y[rows, Cout] = im2col(x)·W (+ bias).
func convolutionForward(input: UnsafePointer<Float>, kernel: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                        output: UnsafeMutablePointer<Float>, geometry g: ConvGeometry) {
    let cout = g.outputChannels, patch = g.patchSize, wo = g.outputWidth
    guard g.rows > 0, cout > 0 else { return }
    guard patch > 0 else {
        fillRows(output, rows: g.rows, with: bias, channels: cout)
        return
    }
    if g.isPointwise {
        fillRows(output, rows: g.rows, with: bias, channels: cout)
        product(transposeA: false, transposeB: false, m: g.rows, n: cout, k: patch,
                a: input, lda: patch, b: kernel, ldb: cout, beta: bias == nil ? 0 : 1, c: output, ldc: cout)
        return
    }
    ScratchPool.shared.withBuffer(g.linesPerChunk * wo * patch) { columns in
        g.forEachChunk { firstLine, lineCount in
            let rows = lineCount * wo, destination = output + firstLine * wo * cout
            g.im2col(input, firstLine: firstLine, lineCount: lineCount, into: columns)
            fillRows(destination, rows: rows, with: bias, channels: cout)
            product(transposeA: false, transposeB: false, m: rows, n: cout, k: patch,
                    a: columns, lda: patch, b: kernel, ldb: cout, beta: bias == nil ? 0 : 1, c: destination, ldc: cout)
        }
    }
}

/// dx = col2im(dy·Wᵀ) (+ `bias` on every pixel), overwriting `inputGradient` ([N, H, W, Cin]).
///
/// `bias` ([Cin]) serves the transposed convolution, whose forward pass this is: starting the
/// accumulation from the bias saves a separate pass over the output.
func convolutionInputGradient(outputGradient: UnsafePointer<Float>, kernel: UnsafePointer<Float>,
                              inputGradient: UnsafeMutablePointer<Float>, geometry g: ConvGeometry,
                              bias: UnsafePointer<Float>? = nil) {
    let cout = g.outputChannels, patch = g.patchSize, wo = g.outputWidth
    let pixels = g.batch * g.inputHeight * g.inputWidth
    if g.isPointwise && cout > 0 {
        fillRows(inputGradient, rows: pixels, with: bias, channels: patch)
        product(transposeA: false, transposeB: true, m: g.rows, n: patch, k: cout,
                a: outputGradient, lda: cout, b: kernel, ldb: cout, beta: bias == nil ? 0 : 1, c: inputGradient, ldc: patch)
        return
    }
    if let bias {
        fillRows(inputGradient, rows: pixels, with: bias, channels: g.inputChannels)
    } else {
        inputGradient.update(repeating: 0, count: pixels * g.inputChannels)
    }
    guard g.rows > 0, cout > 0, patch > 0 else { return }
    ScratchPool.shared.withBuffer(g.linesPerChunk * wo * patch) { columns in
        g.forEachChunk { firstLine, lineCount in
            let rows = lineCount * wo
            product(transposeA: false, transposeB: true, m: rows, n: patch, k: cout,
                    a: outputGradient + firstLine * wo * cout, lda: cout, b: kernel, ldb: cout, c: columns, ldc: patch)
            g.col2imAdding(columns, firstLine: firstLine, lineCount: lineCount, into: inputGradient)
        }
    }
}

/// dW[kh·kw·Cin, Cout] = im2col(x)ᵀ·dy, overwriting `kernelGradient`.
func convolutionKernelGradient(input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
                               kernelGradient: UnsafeMutablePointer<Float>, geometry g: ConvGeometry) {
    let cout = g.outputChannels, patch = g.patchSize, wo = g.outputWidth
    guard g.rows > 0, cout > 0, patch > 0 else {
        kernelGradient.update(repeating: 0, count: patch * cout)
        return
    }
    if g.isPointwise {
        product(transposeA: true, transposeB: false, m: patch, n: cout, k: g.rows,
                a: input, lda: patch, b: outputGradient, ldb: cout, c: kernelGradient, ldc: cout)
        return
    }
    // The first chunk overwrites (β = 0), later ones accumulate: no separate zeroing pass,
    // and a single-chunk layer writes its (up to 33 MB) gradient exactly once.
    ScratchPool.shared.withBuffer(g.linesPerChunk * wo * patch) { columns in
        g.forEachChunk { firstLine, lineCount in
            g.im2col(input, firstLine: firstLine, lineCount: lineCount, into: columns)
            product(transposeA: true, transposeB: false, m: patch, n: cout, k: lineCount * wo,
                    a: columns, lda: patch, b: outputGradient + firstLine * wo * cout, ldb: cout,
                    beta: firstLine == 0 ? 0 : 1, c: kernelGradient, ldc: cout)
        }
    }
}

/// The kernel gradient as a new tensor of `shape`. For layers whose kernel dwarfs their
/// activations (the U-Net's bottom) the result is also proved finite from the activations
/// (`kernelGradientIsProvablyFinite`), which spares the NaN check a scan of tens of megabytes.
func convolutionKernelGradient(input: Tensor, outputGradient: Tensor, shape: [Int], geometry: ConvGeometry) -> Tensor {
    let kernelGradient = Tensor(uninitializedShape: shape)
    withExtendedLifetime((input, outputGradient)) {
        convolutionKernelGradient(input: input.storage.pointer, outputGradient: outputGradient.storage.pointer,
                                  kernelGradient: kernelGradient.storage.pointer, geometry: geometry)
    }
    if 4 * (input.count + outputGradient.count) < kernelGradient.count {
        kernelGradient.storage.knownFinite = kernelGradientIsProvablyFinite(input, outputGradient, rows: geometry.rows)
    }
    return kernelGradient
}

/// `sgemm`, except that thin products with a large weight matrix go to `SkinnyProduct`'s
/// streaming kernels, and (where those do not apply) single-row and single-column products to
/// `sgemv` and rank-1 ones to `sger`: OpenBLAS's sgemm packs the whole weight matrix even for
/// one row, which made the 1×1 layers of the U-Net bottleneck (16 MB kernels, one output
/// pixel) 2.5–5× slower.
@inline(__always)
func product(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
             a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
             beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    OpenBLASSetup.configure()
    if SkinnyProduct.run(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                         a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc) {
        return
    }
    if m == 1 && k > 1 {
        // c[0, :] = a-row · op(B); the row of op(A) has stride lda when A is stored transposed.
        let strideA = transposeA ? lda : 1
        cblas_sgemv(CblasRowMajor, transposeB ? CblasNoTrans : CblasTrans, Int32(transposeB ? n : k), Int32(transposeB ? k : n),
                    1, b, Int32(ldb), a, Int32(strideA), beta, c, 1)
    } else if n == 1 && k > 1 {
        // c[:, 0] = op(A) · b-column; the column of op(B) has stride ldb unless B is stored transposed.
        let strideB = transposeB ? 1 : ldb
        cblas_sgemv(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, Int32(transposeA ? k : m), Int32(transposeA ? m : k),
                    1, a, Int32(lda), b, Int32(strideB), beta, c, Int32(ldc))
    } else if k == 1 && m > 1 && n > 1 {
        // An outer product (the kernel gradient of a layer with one output pixel): sger
        // streams C once, where sgemm with k = 1 ran at a fifth of memory speed.
        let strideA = transposeA ? 1 : lda, strideB = transposeB ? ldb : 1
        if beta == 0 && strideB == 1 {
            // Overwriting: write each row a[row]·b once (sger would need C zeroed first).
            parallelChunks(m, grain: Swift.max(1, 65_536 / n)) { rows in
                for row in rows {
                    let scale = a[row * strideA], target = c + row * ldc
                    for j in 0..<n { target[j] = scale * b[j] }
                }
            }
            return
        }
        if beta == 0 { for row in 0..<m { (c + row * ldc).update(repeating: 0, count: n) } }
        cblas_sger(CblasRowMajor, Int32(m), Int32(n), 1, a, Int32(strideA), b, Int32(strideB), c, Int32(ldc))
    } else {
        sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }
}

/// Sets every row of `rows`×`channels` to `bias` (or leaves it alone when there is none).
func fillRows(_ destination: UnsafeMutablePointer<Float>, rows: Int, with bias: UnsafePointer<Float>?, channels: Int) {
    guard let bias else { return }
    parallelChunks(rows, grain: Swift.max(1, 65_536 / Swift.max(channels, 1))) { range in
        for row in range {
            let target = destination + row * channels
            for c in 0..<channels { target[c] = bias[c] }
        }
    }
}

/// Σ over all leading axes of a tensor whose last axis has `channels` elements: the bias gradient.
/// Uses the blocked, parallel per-channel reduction that normalisation uses.
func channelSums(_ gradient: Tensor, channels: Int) -> Tensor {
    let rows = channels == 0 ? 0 : gradient.count / channels
    let source = gradient.storage.pointer
    let sums = withExtendedLifetime(gradient) {
        channelSums(rows: rows, channels: channels) { row, accumulator in
            let values = source + row * channels
            for c in 0..<channels { accumulator[c] += values[c] }
        }
    }
    return Tensor(shape: [channels], scalars: sums)
}

/// Checks ranks and channel counts; `role` names the op in messages.
func validateConvolution(_ role: String, input: Tensor, kernel: Tensor, bias: Tensor?, stride: Int,
                         kernelInputAxis: Int, kernelOutputAxis: Int) {
    precondition(input.rank == 4, "\(role): input must be [N, H, W, C]; got \(describeShape(input.shape)) with kernel \(describeShape(kernel.shape))")
    precondition(kernel.rank == 4 && kernel.shape[0] == kernel.shape[1],
                 "\(role): kernel must be square and rank 4; got \(describeShape(kernel.shape)) for input \(describeShape(input.shape))")
    precondition(input.shape[3] == kernel.shape[kernelInputAxis],
                 "\(role): input channels \(input.shape[3]) of \(describeShape(input.shape)) differ from kernel \(describeShape(kernel.shape)) axis \(kernelInputAxis)")
    precondition(stride >= 1, "\(role): stride must be positive; got \(stride)")
    if let bias {
        precondition(bias.shape == [kernel.shape[kernelOutputAxis]],
                     "\(role): bias \(describeShape(bias.shape)) must be [\(kernel.shape[kernelOutputAxis])] for kernel \(describeShape(kernel.shape))")
    }
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
public func conv2D(_ input: Tensor, kernel: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Padding = .valid) -> Tensor {
    validateConvolution("conv2D", input: input, kernel: kernel, bias: bias, stride: stride, kernelInputAxis: 2, kernelOutputAxis: 3)
    let geometry = ConvGeometry(batch: input.shape[0], inputHeight: input.shape[1], inputWidth: input.shape[2],
                                inputChannels: input.shape[3], outputChannels: kernel.shape[3],
                                kernelSize: kernel.shape[0], stride: stride, padding: padding)
    precondition(geometry.outputHeight > 0 && geometry.outputWidth > 0,
                 "conv2D: input \(describeShape(input.shape)) is smaller than kernel \(describeShape(kernel.shape)) with 'valid' padding")
    let output = Tensor(uninitializedShape: [geometry.batch, geometry.outputHeight, geometry.outputWidth, geometry.outputChannels])
    withExtendedLifetime((input, kernel, bias)) {
        convolutionForward(input: input.storage.pointer, kernel: kernel.storage.pointer, bias: bias.map { UnsafePointer($0.storage.pointer) },
                           output: output.storage.pointer, geometry: geometry)
    }
    let (inputValue, kernelValue) = (input.detached(), kernel.detached())
    return Tensor.recording(output, inputs: bias.map { [input, kernel, $0] } ?? [input, kernel],
                            detail: "\(describeShape(input.shape)) → \(describeShape(output.shape))") { gradient, needed in
        var gradients: [Tensor?] = [nil, nil]
        if needed[0] {
            let inputGradient = Tensor(uninitializedShape: inputValue.shape)
            withExtendedLifetime((gradient, kernelValue)) {
                convolutionInputGradient(outputGradient: gradient.storage.pointer, kernel: kernelValue.storage.pointer,
                                         inputGradient: inputGradient.storage.pointer, geometry: geometry)
            }
            gradients[0] = inputGradient
        }
        if needed[1] {
            gradients[1] = convolutionKernelGradient(input: inputValue, outputGradient: gradient, shape: kernelValue.shape, geometry: geometry)
        }
        if needed.count == 3 {
            gradients.append(needed[2] ? channelSums(gradient, channels: geometry.outputChannels) : nil)
        }
        return gradients
    }
}
