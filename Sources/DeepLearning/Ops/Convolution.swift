// 2-D convolution and transposed convolution (NHWC, Keras kernel layouts) as OpenBLAS GEMMs.
//
// Both ops relate a "large" grid and a "small" grid through the same patch geometry: a
// convolution reads k×k windows of its input (large) at every output position (small); a
// transposed convolution is that op's adjoint, scattering each input (small) position into a
// k×k window of its output (large). So two primitives serve all four passes:
//   im2col  — large grid → [positions of small grid, k·k·C] patch rows (a gather);
//   col2im  — [positions of small grid, k·k·C] → large grid, summing overlaps (also written
//             as a gather over large-grid pixels, so rows are independent and parallel).
//   conv forward        = im2col(x) · K                  [M, kkCin]·[kkCin, Cout]
//   conv ∂input         = col2im(∂y · Kᵀ)
//   conv ∂kernel        = im2col(x)ᵀ · ∂y
//   convT forward       = col2im(x · Kᵀ)                 K viewed [kkCout, Cin]
//   convT ∂input        = im2col(∂y) · K
//   convT ∂kernel       = im2col(∂y)ᵀ · x

/// Padding of convolutions, with TensorFlow/Keras semantics.
public enum Padding: String, Sendable, Codable {
    /// Output size ⌈in / stride⌉; the total padding `max((out − 1)·stride + k − in, 0)` is split
    /// with the extra pixel at the bottom/right (TensorFlow's rule).
    case same
    /// No padding: output size ⌊(in − k) / stride⌋ + 1.
    case valid
}

/// The shared geometry of a convolution between a large and a small spatial grid.
struct PatchGeometry {
    var batch: Int
    var largeHeight: Int, largeWidth: Int
    var smallHeight: Int, smallWidth: Int
    var kernel: Int, stride: Int
    var padTop: Int, padLeft: Int
    var channels: Int

    var patchLength: Int { kernel * kernel * channels }
    var smallPositions: Int { batch * smallHeight * smallWidth }

    /// Geometry of a convolution reading a `height`×`width` input.
    static func convolution(batch: Int, height: Int, width: Int, channels: Int, kernel: Int, stride: Int,
                            padding: Padding) -> PatchGeometry {
        func along(_ size: Int) -> (output: Int, padBefore: Int) {
            switch padding {
            case .valid:
                return ((size - kernel) / stride + 1, 0)
            case .same:
                let output = (size + stride - 1) / stride
                let total = Swift.max((output - 1) * stride + kernel - size, 0)
                return (output, total / 2)
            }
        }
        let (outH, padTop) = along(height), (outW, padLeft) = along(width)
        return PatchGeometry(batch: batch, largeHeight: height, largeWidth: width, smallHeight: outH, smallWidth: outW,
                             kernel: kernel, stride: stride, padTop: padTop, padLeft: padLeft, channels: channels)
    }

    /// Geometry of a transposed convolution of a `height`×`width` input (TensorFlow's
    /// `deconv_output_length`: same → in·stride, valid → in·stride + max(k − stride, 0)).
    static func transposed(batch: Int, height: Int, width: Int, channels: Int, kernel: Int, stride: Int,
                           padding: Padding) -> PatchGeometry {
        func along(_ size: Int) -> (output: Int, padBefore: Int) {
            switch padding {
            case .valid:
                return (size * stride + Swift.max(kernel - stride, 0), 0)
            case .same:
                let output = size * stride
                let total = Swift.max((size - 1) * stride + kernel - output, 0)
                return (output, total / 2)
            }
        }
        let (outH, padTop) = along(height), (outW, padLeft) = along(width)
        return PatchGeometry(batch: batch, largeHeight: outH, largeWidth: outW, smallHeight: height, smallWidth: width,
                             kernel: kernel, stride: stride, padTop: padTop, padLeft: padLeft, channels: channels)
    }
}

/// Copies every k×k×C window of the large grid into one row of `columns` (zeros outside).
func im2col(_ large: UnsafePointer<Float>, _ columns: UnsafeMutablePointer<Float>, _ g: PatchGeometry) {
    let c = g.channels, k = g.kernel, rowLength = g.patchLength
    parallelChunks(g.batch * g.smallHeight, grain: Swift.max(1, 16_384 / Swift.max(g.smallWidth * rowLength, 1))) { rows in
        for row in rows {
            let n = row / g.smallHeight, sy = row % g.smallHeight
            let image = large + n * g.largeHeight * g.largeWidth * c
            for sx in 0..<g.smallWidth {
                var out = columns + (row * g.smallWidth + sx) * rowLength
                for ky in 0..<k {
                    let y = sy * g.stride - g.padTop + ky
                    if y < 0 || y >= g.largeHeight {
                        out.update(repeating: 0, count: k * c)
                        out += k * c
                        continue
                    }
                    let x0 = sx * g.stride - g.padLeft
                    if x0 >= 0 && x0 + k <= g.largeWidth {
                        // The whole kernel row is inside: k·C contiguous floats in NHWC.
                        out.update(from: image + (y * g.largeWidth + x0) * c, count: k * c)
                        out += k * c
                    } else {
                        for kx in 0..<k {
                            let x = x0 + kx
                            if x < 0 || x >= g.largeWidth {
                                out.update(repeating: 0, count: c)
                            } else {
                                out.update(from: image + (y * g.largeWidth + x) * c, count: c)
                            }
                            out += c
                        }
                    }
                }
            }
        }
    }
}

/// Sums patch rows back onto the large grid: `large[p] = Σ columns[(q, window offset)]` over
/// every small position q whose window covers p. Written as a gather per large row, so rows
/// are independent and run in parallel without atomics.
func col2im(_ columns: UnsafePointer<Float>, _ large: UnsafeMutablePointer<Float>, _ g: PatchGeometry) {
    let c = g.channels, k = g.kernel, s = g.stride, rowLength = g.patchLength
    parallelChunks(g.batch * g.largeHeight, grain: Swift.max(1, 16_384 / Swift.max(g.largeWidth * c * k, 1))) { rows in
        for row in rows {
            let n = row / g.largeHeight, y = row % g.largeHeight
            let out = large + row * g.largeWidth * c
            out.update(repeating: 0, count: g.largeWidth * c)
            // Kernel rows ky with (y + padTop − ky) divisible by s map to small row sy.
            for ky in 0..<k {
                let shifted = y + g.padTop - ky
                if shifted < 0 || shifted % s != 0 { continue }
                let sy = shifted / s
                if sy >= g.smallHeight { continue }
                let smallRow = columns + ((n * g.smallHeight + sy) * g.smallWidth) * rowLength + ky * k * c
                for x in 0..<g.largeWidth {
                    let target = out + x * c
                    for kx in 0..<k {
                        let shiftedX = x + g.padLeft - kx
                        if shiftedX < 0 || shiftedX % s != 0 { continue }
                        let sx = shiftedX / s
                        if sx >= g.smallWidth { continue }
                        let source = smallRow + sx * rowLength + kx * c
                        for ch in 0..<c { target[ch] += source[ch] }
                    }
                }
            }
        }
    }
}

/// Adds `bias[c]` to every row of a [rows, C] buffer.
func addBias(_ output: UnsafeMutablePointer<Float>, rows: Int, _ bias: UnsafePointer<Float>, channels: Int) {
    parallelChunks(rows, grain: Swift.max(1, 32_768 / Swift.max(channels, 1))) { range in
        for r in range {
            let row = output + r * channels
            for ch in 0..<channels { row[ch] += bias[ch] }
        }
    }
}

/// Column sums of a [rows, C] buffer (the bias gradient).
func columnSums(_ values: UnsafePointer<Float>, rows: Int, channels: Int) -> Tensor {
    Tensor(shape: [channels], scalars: channelSums(rows: rows, channels: channels) { r, accumulator in
        let row = values + r * channels
        for ch in 0..<channels { accumulator[ch] += row[ch] }
    })
}

private func checkConvolutionShapes(_ name: String, _ input: Tensor, _ kernel: Tensor, _ bias: Tensor?,
                                    inputChannelAxis: Int, outputChannelAxis: Int) {
    precondition(input.rank == 4, "\(name): input must be [N, H, W, C], got \(describeShape(input.shape))")
    precondition(kernel.rank == 4 && kernel.shape[0] == kernel.shape[1],
                 "\(name): kernel must be square [k, k, ·, ·], got \(describeShape(kernel.shape))")
    precondition(input.shape[3] == kernel.shape[inputChannelAxis],
                 "\(name): input \(describeShape(input.shape)) has \(input.shape[3]) channels but kernel \(describeShape(kernel.shape)) expects \(kernel.shape[inputChannelAxis])")
    if let bias {
        precondition(bias.shape == [kernel.shape[outputChannelAxis]],
                     "\(name): bias \(describeShape(bias.shape)) does not match kernel \(describeShape(kernel.shape))")
    }
}

/// 2-D convolution (cross-correlation, as in every deep-learning framework).
///
/// - Parameters:
///   - input: `[N, H, W, Cin]`.
///   - kernel: `[k, k, Cin, Cout]` (Keras layout).
///   - bias: `[Cout]` or `nil`.
///   - stride: the same in both axes.
///   - padding: `.same` (TensorFlow's split) or `.valid`.
/// - Returns: `[N, Ho, Wo, Cout]`.
public func conv2D(_ input: Tensor, kernel: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Padding = .valid) -> Tensor {
    checkConvolutionShapes("conv2D", input, kernel, bias, inputChannelAxis: 2, outputChannelAxis: 3)
    precondition(stride >= 1, "conv2D: stride \(stride) must be positive")
    let k = kernel.shape[0], outChannels = kernel.shape[3]
    let g = PatchGeometry.convolution(batch: input.shape[0], height: input.shape[1], width: input.shape[2],
                                      channels: input.shape[3], kernel: k, stride: stride, padding: padding)
    precondition(g.smallHeight > 0 && g.smallWidth > 0,
                 "conv2D: kernel \(k) does not fit input \(describeShape(input.shape)) with \(padding) padding")
    let m = g.smallPositions, patch = g.patchLength
    let output = Tensor(uninitializedShape: [g.batch, g.smallHeight, g.smallWidth, outChannels])
    let columns = Tensor(uninitializedShape: [m, patch])
    im2col(input.storage.pointer, columns.storage.pointer, g)
    sgemm(transposeA: false, transposeB: false, m: m, n: outChannels, k: patch,
          a: columns.storage.pointer, lda: patch, b: kernel.storage.pointer, ldb: outChannels,
          c: output.storage.pointer, ldc: outChannels)
    if let bias { addBias(output.storage.pointer, rows: m, bias.storage.pointer, channels: outChannels) }

    var inputs = [input, kernel]
    if let bias { inputs.append(bias) }
    let (inputValue, kernelValue) = (input.detached(), kernel.detached())
    return Tensor.recording(output, inputs: inputs) { gradient, needed in
        let dy = gradient.storage.pointer
        var inputGradient: Tensor?
        if needed[0] {
            // ∂x = col2im(∂y · Kᵀ)
            let gradientColumns = Tensor(uninitializedShape: [m, patch])
            sgemm(transposeA: false, transposeB: true, m: m, n: patch, k: outChannels,
                  a: dy, lda: outChannels, b: kernelValue.storage.pointer, ldb: outChannels,
                  c: gradientColumns.storage.pointer, ldc: patch)
            let result = Tensor(uninitializedShape: inputValue.shape)
            col2im(gradientColumns.storage.pointer, result.storage.pointer, g)
            inputGradient = result
        }
        var kernelGradient: Tensor?
        if needed[1] {
            // ∂K = im2col(x)ᵀ · ∂y  (patches recomputed: cheaper in memory than keeping them)
            let patches = Tensor(uninitializedShape: [m, patch])
            im2col(inputValue.storage.pointer, patches.storage.pointer, g)
            let result = Tensor(uninitializedShape: kernelValue.shape)
            sgemm(transposeA: true, transposeB: false, m: patch, n: outChannels, k: m,
                  a: patches.storage.pointer, lda: patch, b: dy, ldb: outChannels,
                  c: result.storage.pointer, ldc: outChannels)
            kernelGradient = result
        }
        var gradients: [Tensor?] = [inputGradient, kernelGradient]
        if needed.count > 2 { gradients.append(needed[2] ? columnSums(dy, rows: m, channels: outChannels) : nil) }
        return gradients
    }
}

/// 2-D transposed convolution (the adjoint of `conv2D`; "deconvolution"), Keras semantics.
///
/// - Parameters:
///   - input: `[N, H, W, Cin]`.
///   - kernel: `[k, k, Cout, Cin]` (Keras `Conv2DTranspose` layout).
///   - bias: `[Cout]` or `nil`.
///   - stride: the same in both axes.
///   - padding: `.same` → `H·stride`; `.valid` → `H·stride + max(k − stride, 0)`.
/// - Returns: `[N, Ho, Wo, Cout]`.
public func conv2DTranspose(_ input: Tensor, kernel: Tensor, bias: Tensor? = nil, stride: Int = 1,
                            padding: Padding = .valid) -> Tensor {
    checkConvolutionShapes("conv2DTranspose", input, kernel, bias, inputChannelAxis: 3, outputChannelAxis: 2)
    precondition(stride >= 1, "conv2DTranspose: stride \(stride) must be positive")
    let k = kernel.shape[0], outChannels = kernel.shape[2], inChannels = kernel.shape[3]
    let g = PatchGeometry.transposed(batch: input.shape[0], height: input.shape[1], width: input.shape[2],
                                     channels: outChannels, kernel: k, stride: stride, padding: padding)
    let m = g.smallPositions, patch = g.patchLength
    // x · Kᵀ: [NHW, Cin] · [Cin, kkCout], with K stored as [kkCout, Cin].
    let columns = Tensor(uninitializedShape: [m, patch])
    sgemm(transposeA: false, transposeB: true, m: m, n: patch, k: inChannels,
          a: input.storage.pointer, lda: inChannels, b: kernel.storage.pointer, ldb: inChannels,
          c: columns.storage.pointer, ldc: patch)
    let output = Tensor(uninitializedShape: [g.batch, g.largeHeight, g.largeWidth, outChannels])
    col2im(columns.storage.pointer, output.storage.pointer, g)
    if let bias {
        addBias(output.storage.pointer, rows: output.count / outChannels, bias.storage.pointer, channels: outChannels)
    }

    var inputs = [input, kernel]
    if let bias { inputs.append(bias) }
    let (inputValue, kernelValue) = (input.detached(), kernel.detached())
    return Tensor.recording(output, inputs: inputs) { gradient, needed in
        let dy = gradient.storage.pointer
        // Both ∂x and ∂K read the windows of ∂y at the input positions.
        let patches = Tensor(uninitializedShape: [m, patch])
        if needed[0] || needed[1] { im2col(dy, patches.storage.pointer, g) }
        var inputGradient: Tensor?
        if needed[0] {
            // ∂x = im2col(∂y) · K   ([NHW, kkCout] · [kkCout, Cin])
            let result = Tensor(uninitializedShape: inputValue.shape)
            sgemm(transposeA: false, transposeB: false, m: m, n: inChannels, k: patch,
                  a: patches.storage.pointer, lda: patch, b: kernelValue.storage.pointer, ldb: inChannels,
                  c: result.storage.pointer, ldc: inChannels)
            inputGradient = result
        }
        var kernelGradient: Tensor?
        if needed[1] {
            // ∂K = im2col(∂y)ᵀ · x   ([kkCout, NHW] · [NHW, Cin])
            let result = Tensor(uninitializedShape: kernelValue.shape)
            sgemm(transposeA: true, transposeB: false, m: patch, n: inChannels, k: m,
                  a: patches.storage.pointer, lda: patch, b: inputValue.storage.pointer, ldb: inChannels,
                  c: result.storage.pointer, ldc: inChannels)
            kernelGradient = result
        }
        var gradients: [Tensor?] = [inputGradient, kernelGradient]
        if needed.count > 2 {
            gradients.append(needed[2] ? columnSums(dy, rows: gradient.count / outChannels, channels: outChannels) : nil)
        }
        return gradients
    }
}
