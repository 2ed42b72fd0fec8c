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

extension ConvGeometry {
    /// Whether a kernel row's patch is one contiguous run of the input (no dilation, no groups).
    private var contiguousRuns: Bool { dilationWidth == 1 && groups == 1 }

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
