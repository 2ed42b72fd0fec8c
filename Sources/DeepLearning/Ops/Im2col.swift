// The data movement around the convolution GEMMs, on raw pointers.
//
// With NHWC activations and Keras [kh, kw, in, out] kernels, the patch of one output pixel
// for one kernel row `ky` is the run input[n, iy, ix0 ..< ix0 + kw, :] — kw·Cin contiguous
// floats — so im2col is a handful of memcpy calls per output pixel, and its adjoint col2im
// is a handful of contiguous vector adds.
//
// Patch matrices are never materialised for a whole batch: the 256×256×(4·4·64) one of the
// pix2pix encoder would be 268 MB. Output rows are processed in chunks of whole image lines
// through a pooled scratch buffer (`StoragePool.withScratchBuffer`) of at most
// `ConvGeometry.scratchBudget` floats.

/// The index arithmetic of one 2-D convolution (square kernel, equal strides), TensorFlow
/// padding rules. Transposed convolutions use the geometry of the convolution they are the
/// adjoint of: its "input" is their output.
struct ConvGeometry {
    let batch: Int
    let inputHeight: Int, inputWidth: Int, inputChannels: Int
    let outputHeight: Int, outputWidth: Int, outputChannels: Int
    let kernelSize: Int, stride: Int
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
        kernelSize: Int, stride: Int, padding: Padding
    ) {
        self.batch = batch
        self.inputHeight = inputHeight
        self.inputWidth = inputWidth
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.kernelSize = kernelSize
        self.stride = stride
        switch padding {
        case .valid:
            outputHeight = inputHeight >= kernelSize ? (inputHeight - kernelSize) / stride + 1 : 0
            outputWidth = inputWidth >= kernelSize ? (inputWidth - kernelSize) / stride + 1 : 0
            padTop = 0
            padLeft = 0
        case .same:
            outputHeight = (inputHeight + stride - 1) / stride
            outputWidth = (inputWidth + stride - 1) / stride
            // TensorFlow: the total padding is split with the odd row at the bottom/right.
            padTop = Swift.max((outputHeight - 1) * stride + kernelSize - inputHeight, 0) / 2
            padLeft = Swift.max((outputWidth - 1) * stride + kernelSize - inputWidth, 0) / 2
        }
    }

    /// Columns of the patch matrix: kh·kw·Cin.
    var patchSize: Int { kernelSize * kernelSize * inputChannels }
    /// Rows of the patch matrix: N·Ho·Wo.
    var rows: Int { batch * outputHeight * outputWidth }
    /// 2·N·Ho·Wo·kh·kw·Cin·Cout, the FLOPs of one GEMM pass.
    var flops: Double { 2 * Double(rows) * Double(patchSize) * Double(outputChannels) }

    /// A 1×1 stride-1 unpadded convolution is a plain matrix product on the input itself.
    var isPointwise: Bool { kernelSize == 1 && stride == 1 && padTop == 0 && padLeft == 0 }

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

    /// Writes the patch matrix rows of output lines `firstLine ..< firstLine + lineCount`
    /// into `columns` ([lineCount·Wo, kh·kw·Cin], row-major), zeros where the patch hangs
    /// over the padding.
    func im2col(
        _ input: UnsafePointer<Float>, firstLine: Int, lineCount: Int, into columns: UnsafeMutablePointer<Float>
    ) {
        let k = kernelSize, cin = inputChannels, run = k * cin, patch = patchSize
        let (h, w, ho, wo, s, pt, pl) = (inputHeight, inputWidth, outputHeight, outputWidth, stride, padTop, padLeft)
        parallelChunks(lineCount, grain: Swift.max(1, 32_768 / Swift.max(1, wo * patch))) { range in
            for local in range {
                let line = firstLine + local, n = line / ho, oy = line % ho
                var destination = columns + local * wo * patch
                for ox in 0..<wo {
                    let ix0 = ox * s - pl
                    let kxLow = Swift.max(0, -ix0), kxHigh = Swift.min(k, w - ix0)
                    for ky in 0..<k {
                        let iy = oy * s - pt + ky
                        let row = destination + ky * run
                        if iy < 0 || iy >= h || kxLow >= kxHigh {
                            row.update(repeating: 0, count: run)
                            continue
                        }
                        if kxLow > 0 { row.update(repeating: 0, count: kxLow * cin) }
                        row.advanced(by: kxLow * cin).update(
                            from: input + ((n * h + iy) * w + ix0 + kxLow) * cin, count: (kxHigh - kxLow) * cin)
                        if kxHigh < k { row.advanced(by: kxHigh * cin).update(repeating: 0, count: (k - kxHigh) * cin) }
                    }
                    destination += patch
                }
            }
        }
    }

    /// Adds the patch-matrix rows of output lines `firstLine ..< firstLine + lineCount` back
    /// into the image they were taken from (the adjoint of `im2col`): `image += col2im(columns)`.
    ///
    /// Runs as a gather over the touched input lines, so threads never write the same pixel.
    func col2imAdding(
        _ columns: UnsafePointer<Float>, firstLine: Int, lineCount: Int, into image: UnsafeMutablePointer<Float>
    ) {
        let k = kernelSize, cin = inputChannels, patch = patchSize
        let (h, w, ho, wo, s, pt, pl) = (inputHeight, inputWidth, outputHeight, outputWidth, stride, padTop, padLeft)
        let lastLine = firstLine + lineCount - 1
        // Input lines (n·H + iy) that the chunk's patches touch.
        let (firstImage, firstOy) = (firstLine / ho, firstLine % ho)
        let (lastImage, lastOy) = (lastLine / ho, lastLine % ho)
        let low = firstImage * h + Swift.max(0, firstOy * s - pt)
        let high = lastImage * h + Swift.min(h - 1, lastOy * s - pt + k - 1)
        guard high >= low else { return }
        parallelChunks(high - low + 1, grain: Swift.max(1, 32_768 / Swift.max(1, w * cin * k))) { range in
            for inputLine in range {
                let n = (low + inputLine) / h, iy = (low + inputLine) % h
                let imageRow = image + (n * h + iy) * w * cin
                for ky in 0..<k {
                    let t = iy + pt - ky
                    guard t >= 0, t % s == 0, t / s < ho else { continue }
                    let line = n * ho + t / s
                    guard line >= firstLine, line <= lastLine else { continue }
                    var source = columns + (line - firstLine) * wo * patch + ky * k * cin
                    for ox in 0..<wo {
                        let ix0 = ox * s - pl
                        let kxLow = Swift.max(0, -ix0), kxHigh = Swift.min(k, w - ix0)
                        if kxLow < kxHigh {
                            let from = source + kxLow * cin, to = imageRow + (ix0 + kxLow) * cin
                            for i in 0..<(kxHigh - kxLow) * cin { to[i] += from[i] }
                        }
                        source += patch
                    }
                }
            }
        }
    }
}
