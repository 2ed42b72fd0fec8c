// The loops of max and average pooling, forward and backward (Pooling.swift has the ops, their
// semantics and geometry).
//
// Forward: one task per (image, output row, block of up to 64 channels); each task writes only
// its own outputs. Backward scatters each output's gradient into its window. Windows of output
// rows fewer than ⌈kernel / stride⌉ apart can share input rows, so the rows go in that many
// phases (rows ≡ phase mod ⌈k/s⌉) whose windows are disjoint: within a phase no two tasks write
// the same input element (columns overlap only inside one task, which runs them in order), and
// every element receives its contributions in the same order whatever the thread count.
// Channels are contiguous (NHWC), so the inner loops run over 16-lane vectors of a pixel's
// channels.

extension PoolingGeometry {
    /// Channels per task.
    static let channelBlock = 64

    /// Runs `body(image, outputRow, firstChannel, channelCount)` once for every output row of
    /// every image and block of channels, in parallel; with `phases > 1`, only for the rows
    /// ≡ `phase` mod `phases`.
    @inline(__always)
    func forEachOutputRow(phase: Int = 0, of phases: Int = 1, _ body: (Int, Int, Int, Int) -> Void) {
        let blocks = (channels + Self.channelBlock - 1) / Self.channelBlock
        let rowsInPhase = phase < rows.output ? (rows.output - phase + phases - 1) / phases : 0
        let work = columns.output * rows.kernel * columns.kernel * Swift.min(channels, Self.channelBlock)
        parallelChunks(batch * rowsInPhase * blocks, grain: Swift.max(1, 32_768 / Swift.max(work, 1))) { tasks in
            for task in tasks {
                let first = (task % blocks) * Self.channelBlock, rest = task / blocks
                body(
                    rest / rowsInPhase, phase + (rest % rowsInPhase) * phases, first,
                    Swift.min(Self.channelBlock, channels - first))
            }
        }
    }

    /// The maxima `[N, Ho, Wo, C]` and, when `recordingArgmax`, the position `ih·W + iw` of each
    /// in its image (empty otherwise).
    func maxForward(_ x: Tensor, recordingArgmax: Bool) -> (Tensor, [Int32]) {
        let output = Tensor(uninitializedShape: outputShape)
        let (outH, outW, c, imageSize) = (rows.output, columns.output, channels, height * width * channels)
        var argmax: [Int32] = []
        withPointers(x, output) { source, target in
            func run(_ positions: UnsafeMutablePointer<Int32>?) {
                forEachOutputRow { image, oh, first, count in
                    let pixels = source + image * imageSize + first
                    let windowRows = rows.window(oh)
                    var offset = (image * outH + oh) * outW * c + first
                    for ow in 0..<outW {
                        windowMaximum(
                            pixels, width: width, channels: c, rows: windowRows, columns: columns.window(ow),
                            count: count, into: target + offset, positions: positions.map { $0 + offset })
                        offset += c
                    }
                }
            }
            guard recordingArgmax else { return run(nil) }
            argmax = [Int32](unsafeUninitializedCapacity: output.count) { buffer, initialized in
                run(buffer.baseAddress)
                initialized = output.count
            }
        }
        return (output, argmax)
    }

    /// ∂loss/∂x of max pooling: each output's gradient added at its argmax.
    func maxBackward(_ gradient: Tensor, argmax: [Int32]) -> Tensor {
        let result = Tensor(shape: inputShape, repeating: 0)
        let (outH, outW, c, imageSize) = (rows.output, columns.output, channels, height * width * channels)
        withPointers(gradient, result) { g, target in
            argmax.withUnsafeBufferPointer { positions in
                guard let positions = positions.baseAddress else { return }
                for phase in 0..<rows.overlap {
                    forEachOutputRow(phase: phase, of: rows.overlap) { image, oh, first, count in
                        let pixels = target + image * imageSize + first
                        var offset = (image * outH + oh) * outW * c + first
                        for _ in 0..<outW {
                            for k in 0..<count { pixels[Int(positions[offset + k]) * c + k] += g[offset + k] }
                            offset += c
                        }
                    }
                }
            }
        }
        return result
    }

    /// The adjoint of `maxBackward`: output element o of `[N, Ho, Wo, C]` is `upstream`'s element
    /// at its argmax (for a recorded pass through max pooling's pullback).
    func maxGather(_ upstream: Tensor, argmax: [Int32]) -> Tensor {
        let result = Tensor(uninitializedShape: outputShape)
        let (c, imageSize, outputsPerImage) = (
            channels, height * width * channels, rows.output * columns.output * channels
        )
        withPointers(upstream, result) { u, target in
            for o in 0..<result.count {
                target[o] = u[(o / outputsPerImage) * imageSize + Int(argmax[o]) * c + o % c]
            }
        }
        return result
    }

    /// The divisor of output (oh, ow) of average pooling (see `avgPool2D`).
    @inline(__always)
    private func divisor(_ oh: Int, _ ow: Int, countIncludePad: Bool) -> Float {
        if countIncludePad { return Float(rows.paddedSize(oh) * columns.paddedSize(ow)) }
        let (h0, h1) = rows.window(oh), (w0, w1) = columns.window(ow)
        return Float((h1 - h0) * (w1 - w0))
    }

    /// The averages `[N, Ho, Wo, C]`: each window's sum in row-major order over its real
    /// elements, divided by its divisor (PyTorch's order of operations).
    func averageForward(_ x: Tensor, countIncludePad: Bool) -> Tensor {
        let output = Tensor(uninitializedShape: outputShape)
        let (outH, outW, c, imageSize) = (rows.output, columns.output, channels, height * width * channels)
        withPointers(x, output) { source, target in
            forEachOutputRow { image, oh, first, count in
                let pixels = source + image * imageSize + first
                let (h0, h1) = rows.window(oh)
                var offset = (image * outH + oh) * outW * c + first
                for ow in 0..<outW {
                    let (w0, w1) = columns.window(ow)
                    let divisor = divisor(oh, ow, countIncludePad: countIncludePad)
                    let out = target + offset
                    var k = 0
                    while k + 16 <= count {
                        var sum = SIMD16<Float>()
                        for ih in h0..<h1 {
                            for iw in w0..<w1 { sum += loadVector(pixels + (ih * width + iw) * c + k) }
                        }
                        storeVector(sum / divisor, out + k)
                        k += 16
                    }
                    while k < count {
                        var sum: Float = 0
                        for ih in h0..<h1 {
                            for iw in w0..<w1 { sum += pixels[(ih * width + iw) * c + k] }
                        }
                        out[k] = sum / divisor
                        k += 1
                    }
                    offset += c
                }
            }
        }
        return output
    }

    /// ∂loss/∂x of average pooling: each output's gradient over its divisor, added to every real
    /// element of its window.
    func averageBackward(_ gradient: Tensor, countIncludePad: Bool) -> Tensor {
        let result = Tensor(shape: inputShape, repeating: 0)
        let (outH, outW, c, imageSize) = (rows.output, columns.output, channels, height * width * channels)
        withPointers(gradient, result) { g, target in
            for phase in 0..<rows.overlap {
                forEachOutputRow(phase: phase, of: rows.overlap) { image, oh, first, count in
                    let pixels = target + image * imageSize + first
                    let (h0, h1) = rows.window(oh)
                    var offset = (image * outH + oh) * outW * c + first
                    for ow in 0..<outW {
                        let (w0, w1) = columns.window(ow)
                        let divisor = divisor(oh, ow, countIncludePad: countIncludePad)
                        let dy = g + offset
                        var k = 0
                        while k + 16 <= count {
                            let share = loadVector(dy + k) / divisor
                            for ih in h0..<h1 {
                                for iw in w0..<w1 {
                                    let p = pixels + (ih * width + iw) * c + k
                                    storeVector(loadVector(p) + share, p)
                                }
                            }
                            k += 16
                        }
                        while k < count {
                            let share = dy[k] / divisor
                            for ih in h0..<h1 {
                                for iw in w0..<w1 { pixels[(ih * width + iw) * c + k] += share }
                            }
                            k += 1
                        }
                        offset += c
                    }
                }
            }
        }
        return result
    }
}

/// Writes the maximum over window rows × columns of `count` channels to `out` and, with
/// `positions`, the position `ih·width + iw` of each maximum. `pixels` points at the block's
/// first channel in pixel (0, 0); pixel (ih, iw) is `(ih·width + iw)·channels` further on.
/// Strictly larger values win, so ties keep the first in row-major order; a NaN replaces
/// anything and is never replaced by a number (PyTorch's `val > max || isnan(val)`).
@inline(__always)
private func windowMaximum(
    _ pixels: UnsafePointer<Float>, width: Int, channels: Int, rows: (lower: Int, upper: Int),
    columns: (lower: Int, upper: Int), count: Int, into out: UnsafeMutablePointer<Float>,
    positions: UnsafeMutablePointer<Int32>?
) {
    let firstPosition = Int32(rows.lower * width + columns.lower)
    var k = 0
    while k + 16 <= count {
        var best = SIMD16<Float>(repeating: -.infinity)
        var position = SIMD16<Int32>(repeating: firstPosition)
        for ih in rows.lower..<rows.upper {
            for iw in columns.lower..<columns.upper {
                let p = ih * width + iw
                let v = loadVector(pixels + p * channels + k)
                let larger = v .> best, nan = v .!= v
                best.replace(with: v, where: larger)
                best.replace(with: v, where: nan)
                if positions != nil {
                    let here = SIMD16<Int32>(repeating: Int32(p))
                    position.replace(with: here, where: larger)
                    position.replace(with: here, where: nan)
                }
            }
        }
        storeVector(best, out + k)
        if let positions {
            UnsafeMutableRawPointer(positions + k).storeBytes(of: position, as: SIMD16<Int32>.self)
        }
        k += 16
    }
    while k < count {
        var best = -Float.infinity, position = firstPosition
        for ih in rows.lower..<rows.upper {
            for iw in columns.lower..<columns.upper {
                let p = ih * width + iw, v = pixels[p * channels + k]
                if v > best || v.isNaN { (best, position) = (v, Int32(p)) }
            }
        }
        out[k] = best
        positions?[k] = position
        k += 1
    }
}
