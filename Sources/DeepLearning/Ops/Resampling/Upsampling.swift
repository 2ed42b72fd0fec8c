// Nearest and bilinear resizing of NHWC tensors with PyTorch's semantics
// (`F.interpolate(mode="nearest")` and `mode="bilinear", align_corners=False`), and their
// pullbacks, the exact adjoints. Both are separable: each output row (column) reads at most two
// input rows (columns) with fixed weights, tabulated once per call in `InterpolationAxis`. The
// pullback gathers: it walks the input, and for each input row and column the transposed tables
// list the output rows and columns that read it, so no two threads write the same element.

/// Nearest-neighbour upsampling by an integer factor in both axes: `[N, H, W, C]` →
/// `[N, s·H, s·W, C]`, each pixel repeated s×s times (PyTorch
/// `F.interpolate(x, scale_factor=s, mode="nearest")`, Keras `UpSampling2D(size=s)`).
public func upsampleNearest2D(_ x: Tensor, scale: Int) -> Tensor {
    upsampleNearest2D(x, scale: (scale, scale))
}

/// Nearest-neighbour upsampling by integer factors (height, width):
/// `[N, H, W, C]` → `[N, sh·H, sw·W, C]`.
public func upsampleNearest2D(_ x: Tensor, scale: (Int, Int)) -> Tensor {
    let (rows, columns) = interpolationAxes("upsampleNearest2D", x, scale: scale, size: nil, linear: false)
    return interpolated(x, rows, columns, op: "upsampleNearest2D")
}

/// Nearest-neighbour resizing to `size` (height, width), up or down: `[N, H, W, C]` →
/// `[N, size.0, size.1, C]` (PyTorch `F.interpolate(x, size=size, mode="nearest")`).
///
/// Output index `o` of an axis reads input index `min(⌊o · (L / Lo)⌋, L − 1)`, the ratio and the
/// product in `Float` as in PyTorch (its legacy "nearest", not "nearest-exact"); `Lo = L` copies and
/// `Lo = 2L` reads `o / 2`. The gradient of each input element is the sum of those of the outputs
/// that copy it.
///
/// - Precondition: `x` is `[N, H, W, C]` with `H, W ≥ 1`; sizes and scales are positive.
public func upsampleNearest2D(_ x: Tensor, size: (Int, Int)) -> Tensor {
    let (rows, columns) = interpolationAxes("upsampleNearest2D", x, scale: nil, size: size, linear: false)
    return interpolated(x, rows, columns, op: "upsampleNearest2D")
}

/// Bilinear upsampling by an integer factor in both axes: `[N, H, W, C]` → `[N, s·H, s·W, C]`
/// (PyTorch `F.interpolate(x, scale_factor=s, mode="bilinear", align_corners=False)`, which
/// equals Keras `UpSampling2D(size=s, interpolation="bilinear")`). See `upsampleBilinear2D(_:size:)`.
public func upsampleBilinear2D(_ x: Tensor, scale: Int) -> Tensor {
    upsampleBilinear2D(x, scale: (scale, scale))
}

/// Bilinear upsampling by integer factors (height, width): `[N, H, W, C]` → `[N, sh·H, sw·W, C]`.
public func upsampleBilinear2D(_ x: Tensor, scale: (Int, Int)) -> Tensor {
    let (rows, columns) = interpolationAxes("upsampleBilinear2D", x, scale: scale, size: nil, linear: true)
    return interpolated(x, rows, columns, op: "upsampleBilinear2D")
}

/// Bilinear resizing to `size` (height, width), up or down, with half-pixel centres (PyTorch
/// `F.interpolate(x, size=size, mode="bilinear", align_corners=False)`; no antialiasing).
///
/// Along each axis (input `L`, output `Lo`, ratio `r = L / Lo`, or `1 / s` for a scale `s`, in
/// `Float`), output `o` samples the source coordinate `u = max(r·(o + ½) − ½, 0)` (clamped at 0,
/// as PyTorch's `upsample_bilinear2d`), between `i = min(⌊u⌋, L − 1)` and `i + 1` (or `i` again
/// at the last index) with weights `1 − λ` and `λ = clamp(u − i, 0, 1)`. The output is
/// `(1 − λh)·((1 − λw)·x₀₀ + λw·x₀₁) + λh·((1 − λw)·x₁₀ + λw·x₁₁)`. The gradient is the
/// exact adjoint: every input element receives each output's gradient times its weight there.
///
/// - Precondition: `x` is `[N, H, W, C]` with `H, W ≥ 1`; sizes and scales are positive.
public func upsampleBilinear2D(_ x: Tensor, size: (Int, Int)) -> Tensor {
    let (rows, columns) = interpolationAxes("upsampleBilinear2D", x, scale: nil, size: size, linear: true)
    return interpolated(x, rows, columns, op: "upsampleBilinear2D")
}

/// One axis of a resize: which input indices each output index reads, with what weights, and the
/// transpose of that table for the pullback.
struct InterpolationAxis {
    let input: Int, output: Int
    /// Whether outputs blend two inputs (bilinear) or copy one (nearest).
    let linear: Bool
    /// The tables, packed so that two buffers hold them all (see `withTables`):
    /// `[first (output) | second (output) | start (input + 1) | readers]` and
    /// `[firstWeight (output) | secondWeight (output) | readerWeights]`.
    private var indices: [Int] = [], weights: [Float] = []

    /// PyTorch's `nearest_idx` (see `upsampleNearest2D(_:size:)`).
    init(nearestFrom input: Int, to output: Int, ratio: Float) {
        (self.input, self.output, linear) = (input, output, false)
        let first = (0..<output).map { o in
            if output == input { return o }
            if output == 2 * input { return o >> 1 }
            return Swift.min(Int((Float(o) * ratio).rounded(.down)), input - 1)
        }
        pack(first: first, second: first, firstWeight: Array(repeating: 1, count: output))
    }

    /// PyTorch's `compute_source_index_and_lambda` without `align_corners` (see
    /// `upsampleBilinear2D(_:size:)`).
    init(linearFrom input: Int, to output: Int, ratio: Float) {
        (self.input, self.output, linear) = (input, output, true)
        var first: [Int] = [], second: [Int] = [], firstWeight: [Float] = [], secondWeight: [Float] = []
        for o in 0..<output {
            var index = o, lambda: Float = 0
            if output != input {
                let u = Swift.max(ratio * (Float(o) + 0.5) - 0.5, 0)
                index = Swift.min(Int(u.rounded(.down)), input - 1)
                lambda = Swift.min(Swift.max(u - Float(index), 0), 1)
            }
            first.append(index)
            second.append(index + (index < input - 1 ? 1 : 0))
            firstWeight.append(1 - lambda)
            secondWeight.append(lambda)
        }
        pack(first: first, second: second, firstWeight: firstWeight, secondWeight: secondWeight)
    }

    /// Stores the forward taps and their transpose: input `i` is read by the outputs
    /// `readers[start[i]..<start[i + 1]]`, in increasing order, with `readerWeights[…]` (a
    /// counting sort by input index; nearest outputs have one reader entry, linear ones two).
    private mutating func pack(first: [Int], second: [Int], firstWeight: [Float], secondWeight: [Float]? = nil) {
        var start = [Int](repeating: 0, count: input + 1)
        for o in 0..<output {
            start[first[o] + 1] += 1
            if linear { start[second[o] + 1] += 1 }
        }
        for i in 0..<input { start[i + 1] += start[i] }
        var next = start, readers = [Int](repeating: 0, count: start[input])
        var readerWeights = [Float](repeating: 0, count: start[input])
        func add(_ i: Int, _ o: Int, _ weight: Float) {
            (readers[next[i]], readerWeights[next[i]]) = (o, weight)
            next[i] += 1
        }
        for o in 0..<output {
            add(first[o], o, firstWeight[o])
            if let secondWeight { add(second[o], o, secondWeight[o]) }
        }
        indices = first + second + start + readers
        weights = firstWeight + (secondWeight ?? Array(repeating: 0, count: output)) + readerWeights
    }

    /// Runs `body` with the tables borrowed as pointers (`output ≥ 1`, so neither buffer is empty).
    func withTables<R>(_ body: (AxisTables) -> R) -> R {
        indices.withUnsafeBufferPointer { indices in
            weights.withUnsafeBufferPointer { weights in
                let i = indices.baseAddress!, w = weights.baseAddress!
                return body(
                    AxisTables(
                        first: i, second: i + output, start: i + 2 * output, readers: i + 2 * output + input + 1,
                        firstWeight: w, secondWeight: w + output, readerWeights: w + 2 * output))
            }
        }
    }
}

/// An `InterpolationAxis`'s tables as pointers, for the loops.
struct AxisTables {
    let first: UnsafePointer<Int>, second: UnsafePointer<Int>, start: UnsafePointer<Int>
    let readers: UnsafePointer<Int>
    let firstWeight: UnsafePointer<Float>, secondWeight: UnsafePointer<Float>, readerWeights: UnsafePointer<Float>
}

/// The checked axes of a resize to `size`, or by `scale` (ratio `1 / scale`, as PyTorch computes
/// it from `scale_factor`; equal to `L / (s·L)` in `Float`).
private func interpolationAxes(
    _ op: String, _ x: Tensor, scale: (Int, Int)?, size: (Int, Int)?, linear: Bool
) -> (InterpolationAxis, InterpolationAxis) {
    precondition(
        x.rank == 4 && x.shape[1] > 0 && x.shape[2] > 0,
        "\(op): needs an [N, H, W, C] input with H, W ≥ 1, got \(describeShape(x.shape))")
    let (h, w) = (x.shape[1], x.shape[2])
    let outputs: (Int, Int), ratios: (Float, Float)
    if let scale {
        precondition(scale.0 > 0 && scale.1 > 0, "\(op): scale \(scale) must be positive")
        outputs = (h * scale.0, w * scale.1)
        ratios = (Float(1 / Double(scale.0)), Float(1 / Double(scale.1)))
    } else {
        let size = size!
        precondition(
            size.0 > 0 && size.1 > 0, "\(op): output size \(size) for input \(describeShape(x.shape)) must be positive")
        outputs = size
        ratios = (Float(h) / Float(size.0), Float(w) / Float(size.1))
    }
    if linear {
        return (
            InterpolationAxis(linearFrom: h, to: outputs.0, ratio: ratios.0),
            InterpolationAxis(linearFrom: w, to: outputs.1, ratio: ratios.1)
        )
    }
    return (
        InterpolationAxis(nearestFrom: h, to: outputs.0, ratio: ratios.0),
        InterpolationAxis(nearestFrom: w, to: outputs.1, ratio: ratios.1)
    )
}

/// Resizes `x` along `rows` and `columns`, with the adjoint as pullback.
private func interpolated(
    _ x: Tensor, _ rows: InterpolationAxis, _ columns: InterpolationAxis, op: StaticString
) -> Tensor {
    let (n, c) = (x.shape[0], x.shape[3])
    let (h, w, outH, outW) = (rows.input, columns.input, rows.output, columns.output)
    let linear = rows.linear
    // Elements each output row (forward) or input row (pullback) task reads.
    let taps = linear ? 4 : 1
    let forwardGrain = Swift.max(1, 16_384 / Swift.max(outW * c * taps, 1))
    let backwardGrain = Swift.max(1, 16_384 / Swift.max(outW * c * taps * Swift.max(outH / h, 1), 1))
    let output = Tensor(uninitializedShape: [n, outH, outW, c])
    withPointers(x, output) { source, target in
        withTables(rows, columns) { r, q in
            // One task per output row; each writes its own row only.
            parallelChunks(n * outH, grain: forwardGrain) { range in
                for task in range {
                    let (image, oh) = (task / outH, task % outH)
                    let out = target + task * outW * c
                    let row0 = source + (image * h + r.first[oh]) * w * c
                    guard linear else {
                        for ow in 0..<outW { (out + ow * c).update(from: row0 + q.first[ow] * c, count: c) }
                        continue
                    }
                    let row1 = source + (image * h + r.second[oh]) * w * c
                    let (a0, a1) = (r.firstWeight[oh], r.secondWeight[oh])
                    for ow in 0..<outW {
                        let (j0, j1) = (q.first[ow] * c, q.second[ow] * c)
                        bilinearPixel(
                            row0 + j0, row0 + j1, row1 + j0, row1 + j1, rowWeights: (a0, a1),
                            columnWeights: (q.firstWeight[ow], q.secondWeight[ow]), count: c, into: out + ow * c)
                    }
                }
            }
        }
    }
    let backward: (Tensor) -> Tensor = { gradient in
        let result = Tensor(uninitializedShape: [n, h, w, c])
        withPointers(gradient, result) { g, target in
            withTables(rows, columns) { r, q in
                // One task per input row, gathering from the output rows and columns that read it.
                parallelChunks(n * h, grain: backwardGrain) { range in
                    for task in range {
                        let (image, ih) = (task / h, task % h)
                        for iw in 0..<w {
                            let dx = target + (task * w + iw) * c
                            dx.update(repeating: 0, count: c)
                            for a in r.start[ih]..<r.start[ih + 1] {
                                let dyRow = g + (image * outH + r.readers[a]) * outW * c
                                for b in q.start[iw]..<q.start[iw + 1] {
                                    addScaled(
                                        dyRow + q.readers[b] * c, r.readerWeights[a] * q.readerWeights[b], count: c,
                                        into: dx)
                                }
                            }
                        }
                    }
                }
            }
        }
        return result
    }
    // Linear: the pullback's adjoint is this op again.
    return Tensor.recording(output, inputs: [x], op: op) { gradient, _ in
        [gradient.linearMap(backward) { interpolated($0, rows, columns, op: op) }]
    }
}

/// Runs `body` with the tables of both axes borrowed as pointers.
private func withTables<R>(
    _ rows: InterpolationAxis, _ columns: InterpolationAxis, _ body: (AxisTables, AxisTables) -> R
) -> R {
    rows.withTables { r in columns.withTables { q in body(r, q) } }
}

/// `out = a0·(b0·p00 + b1·p01) + a1·(b0·p10 + b1·p11)` over `count` channels (PyTorch's order).
@inline(__always)
private func bilinearPixel(
    _ p00: UnsafePointer<Float>, _ p01: UnsafePointer<Float>, _ p10: UnsafePointer<Float>,
    _ p11: UnsafePointer<Float>, rowWeights: (Float, Float), columnWeights: (Float, Float), count: Int,
    into out: UnsafeMutablePointer<Float>
) {
    let (a0, a1) = rowWeights, (b0, b1) = columnWeights
    var k = 0
    while k + 16 <= count {
        let top = b0 * loadVector(p00 + k) + b1 * loadVector(p01 + k)
        let bottom = b0 * loadVector(p10 + k) + b1 * loadVector(p11 + k)
        storeVector(a0 * top + a1 * bottom, out + k)
        k += 16
    }
    while k < count {
        out[k] = a0 * (b0 * p00[k] + b1 * p01[k]) + a1 * (b0 * p10[k] + b1 * p11[k])
        k += 1
    }
}

/// `out += weight · source` over `count` channels.
@inline(__always)
private func addScaled(
    _ source: UnsafePointer<Float>, _ weight: Float, count: Int, into out: UnsafeMutablePointer<Float>
) {
    var k = 0
    while k + 16 <= count {
        storeVector(loadVector(out + k) + weight * loadVector(source + k), out + k)
        k += 16
    }
    while k < count {
        out[k] += weight * source[k]
        k += 1
    }
}
