// The data movement around the convolution GEMMs, on raw pointers.
//
// With NHWC activations and Keras [kh, kw, in, out] kernels, the patch of one output pixel
// for one kernel row `ky` is the run input[n, iy, ix0 ..< ix0 + kw, :] — kw·Cin contiguous
// floats — so im2col is a handful of memcpy calls per output pixel, and its adjoint col2im
// is a handful of contiguous vector adds. With dilation or channel groups the runs shrink to
// one pixel's channels of the group (Cin/groups floats).
//
// Patch matrices are never materialised for a whole batch: the 256×256×(4·4·64) one of the
// pix2pix encoder would be 268 MB. Output rows are processed in chunks of whole image lines
// through a pooled scratch buffer (`StoragePool.withScratchBuffer`) of at most
// `ConvGeometry.scratchBudget` floats.

/// How a convolution treats the border.
public enum Padding: Sendable, Codable, Equatable, Hashable {
    /// Output size ⌈H / stride⌉; zeros are added, the odd one at the bottom/right
    /// (Keras/TensorFlow `'same'`).
    case same
    /// No padding: output size ⌊(H − d·(k − 1) − 1) / s⌋ + 1 (Keras `'valid'`, PyTorch `padding=0`).
    case valid
    /// `height` zero rows above and below, `width` zero columns left and right: PyTorch's
    /// `padding=(h, w)`; output size ⌊(H + 2h − d·(k − 1) − 1) / s⌋ + 1.
    case explicit(height: Int, width: Int)
}

/// The index arithmetic of one 2-D convolution (kernel, strides, dilation and channel groups
/// per axis; TensorFlow's or explicit padding). Transposed convolutions use the geometry of
/// the convolution they are the adjoint of: its "input" is their output.
struct ConvGeometry {
    let batch: Int
    let inputHeight: Int, inputWidth: Int, inputChannels: Int
    let outputHeight: Int, outputWidth: Int, outputChannels: Int
    let kernelHeight: Int, kernelWidth: Int
    let strideHeight: Int, strideWidth: Int
    let dilationHeight: Int, dilationWidth: Int
    /// Channel groups: input and output channels split into `groups` blocks convolved apart.
    let groups: Int
    /// Zero rows above / columns left of the input; the bottom/right get the rest.
    let padTop: Int, padLeft: Int

    /// Floats of patch matrix per chunk on the calling thread: big enough for efficient GEMMs
    /// (hundreds of rows even for K = 4·4·512), small enough to keep peak memory flat. Per
    /// thread so tests and benchmarks can force chunking without touching other threads; the
    /// chunking changes the order of the kernel gradient's sums, and so its rounding.
    static var scratchBudget: Int {
        get { ThreadState.current.kernelSettings.scratchBudget }
        set { ThreadState.current.kernelSettings.scratchBudget = Swift.max(1, newValue) }
    }

    init(
        batch: Int, inputHeight: Int, inputWidth: Int, inputChannels: Int, outputChannels: Int,
        kernelSize: (Int, Int), stride: (Int, Int), padding: Padding, dilation: (Int, Int) = (1, 1), groups: Int = 1
    ) {
        self.batch = batch
        self.inputHeight = inputHeight
        self.inputWidth = inputWidth
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        (kernelHeight, kernelWidth) = kernelSize
        (strideHeight, strideWidth) = stride
        (dilationHeight, dilationWidth) = dilation
        self.groups = groups
        func axis(_ size: Int, _ k: Int, _ s: Int, _ d: Int, _ explicit: Int?) -> (output: Int, before: Int) {
            let extent = d * (k - 1) + 1
            switch padding {
            case .valid:
                return (size >= extent ? (size - extent) / s + 1 : 0, 0)
            case .same:
                // TensorFlow: the total padding is split with the odd row at the bottom/right.
                let output = (size + s - 1) / s
                return (output, Swift.max((output - 1) * s + extent - size, 0) / 2)
            case .explicit:
                let padded = size + 2 * explicit!
                return (padded >= extent ? (padded - extent) / s + 1 : 0, explicit!)
            }
        }
        var explicitHeight: Int?, explicitWidth: Int?
        if case let .explicit(height, width) = padding { (explicitHeight, explicitWidth) = (height, width) }
        (outputHeight, padTop) = axis(inputHeight, kernelHeight, strideHeight, dilationHeight, explicitHeight)
        (outputWidth, padLeft) = axis(inputWidth, kernelWidth, strideWidth, dilationWidth, explicitWidth)
    }

    /// The square-kernel, equal-stride geometry of the pix2pix layers.
    init(
        batch: Int, inputHeight: Int, inputWidth: Int, inputChannels: Int, outputChannels: Int,
        kernelSize: Int, stride: Int, padding: Padding
    ) {
        self.init(
            batch: batch, inputHeight: inputHeight, inputWidth: inputWidth, inputChannels: inputChannels,
            outputChannels: outputChannels, kernelSize: (kernelSize, kernelSize), stride: (stride, stride),
            padding: padding)
    }

    /// Input channels of one group.
    var groupInputChannels: Int { inputChannels / groups }
    /// Output channels of one group.
    var groupOutputChannels: Int { outputChannels / groups }
    /// Columns of one group's patch matrix: kh·kw·Cin/groups.
    var patchSize: Int { kernelHeight * kernelWidth * groupInputChannels }
    /// Rows of the patch matrix: N·Ho·Wo.
    var rows: Int { batch * outputHeight * outputWidth }
    /// 2·N·Ho·Wo·kh·kw·(Cin/groups)·Cout, the FLOPs of one GEMM pass.
    var flops: Double { 2 * Double(rows) * Double(patchSize) * Double(outputChannels) }

    /// A 1×1 stride-1 unpadded ungrouped convolution is a plain matrix product on the input itself.
    var isPointwise: Bool {
        kernelHeight == 1 && kernelWidth == 1 && strideHeight == 1 && strideWidth == 1 && padTop == 0
            && padLeft == 0 && groups == 1
    }

    /// Whether a kernel row's patch is one contiguous run of the input (no dilation, no groups).
    private var contiguousRuns: Bool { dilationWidth == 1 && groups == 1 }

    /// Output image lines (n, oy) per chunk so that one chunk's patch matrix fits the budget.
    var linesPerChunk: Int {
        Swift.max(
            1, Swift.min(batch * outputHeight, ConvGeometry.scratchBudget / Swift.max(1, outputWidth * patchSize)))
    }

    /// Calls `body(firstLine, lineCount)` for consecutive chunks of output lines.
    func forEachChunk(_ body: (_ firstLine: Int, _ lineCount: Int) -> Void) {
        let lines = batch * outputHeight, step = linesPerChunk
        var first = 0
        while first < lines {
            body(first, Swift.min(step, lines - first))
            first += step
        }
    }

    /// Writes the patch matrix rows of output lines `firstLine ..< firstLine + lineCount` of
    /// channel group `group` into `columns` ([lineCount·Wo, kh·kw·Cin/groups], row-major), zeros
    /// where the patch hangs over the padding.
    func im2col(
        _ input: UnsafePointer<Float>, firstLine: Int, lineCount: Int, group: Int = 0,
        into columns: UnsafeMutablePointer<Float>
    ) {
        let (kh, kw, cin, cg, patch) = (kernelHeight, kernelWidth, inputChannels, groupInputChannels, patchSize)
        let (h, w, ho, wo, pt, pl) = (inputHeight, inputWidth, outputHeight, outputWidth, padTop, padLeft)
        let (sh, sw, dh, dw, c0, contiguous) = (
            strideHeight, strideWidth, dilationHeight, dilationWidth, group * cg, contiguousRuns
        )
        parallelChunks(lineCount, grain: Swift.max(1, 32_768 / Swift.max(1, wo * patch))) { range in
            for local in range {
                let line = firstLine + local, n = line / ho, oy = line % ho
                var destination = columns + local * wo * patch
                for ox in 0..<wo {
                    let ix0 = ox * sw - pl
                    for ky in 0..<kh {
                        let iy = oy * sh - pt + ky * dh
                        let row = destination + ky * kw * cg
                        if iy < 0 || iy >= h {
                            row.update(repeating: 0, count: kw * cg)
                            continue
                        }
                        let source = input + (n * h + iy) * w * cin + c0
                        if contiguous {
                            let kxLow = Swift.min(kw, Swift.max(0, -ix0)),
                                kxHigh = Swift.max(kxLow, Swift.min(kw, w - ix0))
                            if kxLow > 0 { row.update(repeating: 0, count: kxLow * cg) }
                            if kxHigh > kxLow {
                                row.advanced(by: kxLow * cg).update(
                                    from: source + (ix0 + kxLow) * cin, count: (kxHigh - kxLow) * cg)
                            }
                            if kxHigh < kw {
                                row.advanced(by: kxHigh * cg).update(repeating: 0, count: (kw - kxHigh) * cg)
                            }
                            continue
                        }
                        for kx in 0..<kw {
                            let ix = ix0 + kx * dw, target = row + kx * cg
                            if ix < 0 || ix >= w {
                                target.update(repeating: 0, count: cg)
                            } else {
                                target.update(from: source + ix * cin, count: cg)
                            }
                        }
                    }
                    destination += patch
                }
            }
        }
    }

    /// Adds the patch-matrix rows of output lines `firstLine ..< firstLine + lineCount` of
    /// channel group `group` back into the image they were taken from (the adjoint of
    /// `im2col`): `image += col2im(columns)`.
    ///
    /// Runs as a gather over the touched input lines, so threads never write the same pixel.
    func col2imAdding(
        _ columns: UnsafePointer<Float>, firstLine: Int, lineCount: Int, group: Int = 0,
        into image: UnsafeMutablePointer<Float>
    ) {
        let (kh, kw, cin, cg, patch) = (kernelHeight, kernelWidth, inputChannels, groupInputChannels, patchSize)
        let (h, w, ho, wo, pt, pl) = (inputHeight, inputWidth, outputHeight, outputWidth, padTop, padLeft)
        let (sh, sw, dh, dw, c0, contiguous) = (
            strideHeight, strideWidth, dilationHeight, dilationWidth, group * cg, contiguousRuns
        )
        let lastLine = firstLine + lineCount - 1
        // Input lines (n·H + iy) that the chunk's patches touch.
        let (firstImage, firstOy) = (firstLine / ho, firstLine % ho)
        let (lastImage, lastOy) = (lastLine / ho, lastLine % ho)
        let low = firstImage * h + Swift.max(0, firstOy * sh - pt)
        let high = lastImage * h + Swift.min(h - 1, lastOy * sh - pt + (kh - 1) * dh)
        guard high >= low else { return }
        parallelChunks(high - low + 1, grain: Swift.max(1, 32_768 / Swift.max(1, w * cg * kw))) { range in
            for inputLine in range {
                let n = (low + inputLine) / h, iy = (low + inputLine) % h
                let imageRow = image + (n * h + iy) * w * cin + c0
                for ky in 0..<kh {
                    let t = iy + pt - ky * dh
                    guard t >= 0, t % sh == 0, t / sh < ho else { continue }
                    let line = n * ho + t / sh
                    guard line >= firstLine, line <= lastLine else { continue }
                    var source = columns + (line - firstLine) * wo * patch + ky * kw * cg
                    for ox in 0..<wo {
                        let ix0 = ox * sw - pl
                        if contiguous {
                            let kxLow = Swift.max(0, -ix0), kxHigh = Swift.min(kw, w - ix0)
                            if kxLow < kxHigh {
                                let from = source + kxLow * cg, to = imageRow + (ix0 + kxLow) * cin
                                for i in 0..<(kxHigh - kxLow) * cg { to[i] += from[i] }
                            }
                        } else {
                            for kx in 0..<kw {
                                let ix = ix0 + kx * dw
                                guard ix >= 0, ix < w else { continue }
                                let from = source + kx * cg, to = imageRow + ix * cin
                                for i in 0..<cg { to[i] += from[i] }
                            }
                        }
                        source += patch
                    }
                }
            }
        }
    }
}
