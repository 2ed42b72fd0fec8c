import CKernels
import Foundation

// Softmax and log-softmax along one axis, numerically stable (the maximum is subtracted before
// exponentiating). A tensor is viewed as [outer, size, inner] around the axis; for the usual
// last axis inner is 1 and each row is contiguous. Pullbacks, with y = softmax(x):
//   softmax       ∂x = y · (∂y − Σ ∂y·y)
//   log-softmax   ∂x = ∂y − softmax(x) · Σ ∂y

/// The [outer, size, inner] view of `shape` around `axis`.
private func axisView(_ shape: [Int], axis: Int) -> (outer: Int, size: Int, inner: Int) {
    (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
}

/// Writes softmax (or log-softmax) of every line along the axis of `x` into `y`; contiguous
/// lines (the last axis) run on 16-lane vectors.
func softmaxLines(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, outer: Int, size: Int, inner: Int, logarithm: Bool
) {
    let level = PointwiseKernels.level  // read on the calling thread: the setting is per thread
    parallelChunks(outer * inner, grain: Swift.max(1, 8_192 / Swift.max(size, 1))) { lines in
        for line in lines {
            let base = (line / inner) * size * inner + line % inner
            if inner == 1 {
                if level > 0 && size < Int(Int32.max) {
                    dl_softmax_row(Int32(level), x + base, y + base, Int32(size), logarithm ? 1 : 0)
                } else {
                    contiguousSoftmax(x + base, y + base, size: size, logarithm: logarithm)
                }
                continue
            }
            var largest = -Float.infinity
            for k in 0..<size { largest = Swift.max(largest, x[base + k * inner]) }
            if largest == -.infinity { largest = 0 }  // an all −∞ line stays NaN-free until the log
            var total: Float = 0
            for k in 0..<size {
                let e = Foundation.expf(x[base + k * inner] - largest)
                y[base + k * inner] = e
                total += e
            }
            if logarithm {
                let shift = largest + Foundation.logf(total)
                for k in 0..<size { y[base + k * inner] = x[base + k * inner] - shift }
            } else {
                let scale = 1 / total
                for k in 0..<size { y[base + k * inner] *= scale }
            }
        }
    }
}

/// One contiguous line: the maximum, e^(x − max) and its sum, then the scaling, each a vector loop.
@inline(__always)
private func contiguousSoftmax(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, size: Int, logarithm: Bool
) {
    var largestLanes = SIMD16<Float>(repeating: -.infinity)
    var k = 0
    while k + 16 <= size {
        let v = loadVector(x + k)
        largestLanes.replace(with: v, where: v .> largestLanes)
        k += 16
    }
    var largest = largestLanes.max()
    while k < size {
        largest = Swift.max(largest, x[k])
        k += 1
    }
    if largest == -.infinity { largest = 0 }
    var totalLanes = SIMD16<Float>(repeating: 0), total: Float = 0
    k = 0
    while k + 16 <= size {
        let e = vectorExp(loadVector(x + k) - largest)
        if !logarithm { storeVector(e, y + k) }
        totalLanes += e
        k += 16
    }
    while k < size {
        let e = Foundation.expf(x[k] - largest)
        if !logarithm { y[k] = e }
        total += e
        k += 1
    }
    total += totalLanes.sum()
    if logarithm {
        let shift = largest + Foundation.logf(total)
        k = 0
        while k + 16 <= size {
            storeVector(loadVector(x + k) - shift, y + k)
            k += 16
        }
        while k < size {
            y[k] = x[k] - shift
            k += 1
        }
    } else {
        let scale = 1 / total
        k = 0
        while k + 16 <= size {
            storeVector(loadVector(y + k) * scale, y + k)
            k += 16
        }
        while k < size {
            y[k] *= scale
            k += 1
        }
    }
}

/// One contiguous row of a softmax pullback from the output y, ∂x = y·(∂y − Σ ∂y·y) (softmax,
/// and the probabilities inside attention), or with `logarithm` of a log-softmax pullback from
/// its output (log-probabilities), ∂x = ∂y − e^y·Σ ∂y; on 16-lane vectors.
///
/// At `level` > 0 it runs on the C kernel (`PointwiseKernels.level`, read by the caller on its
/// own thread).
@inline(__always)
func softmaxGradientRow(
    _ dy: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, size: Int, level: Int,
    logarithm: Bool = false
) {
    if level > 0 && size < Int(Int32.max) {
        dl_softmax_gradient_row(Int32(level), dy, y, dx, Int32(size), logarithm ? 1 : 0)
        return
    }
    // The row's sum: Σ ∂y·y, or Σ ∂y for log-softmax.
    var lanes = SIMD16<Float>(repeating: 0), total: Float = 0, k = 0
    while k + 16 <= size {
        lanes += logarithm ? loadVector(dy + k) : loadVector(dy + k) * loadVector(y + k)
        k += 16
    }
    while k < size {
        total += logarithm ? dy[k] : dy[k] * y[k]
        k += 1
    }
    total += lanes.sum()
    k = 0
    while k + 16 <= size {
        let (g, out) = (loadVector(dy + k), loadVector(y + k))
        storeVector(logarithm ? g - vectorExp(out) * total : out * (g - total), dx + k)
        k += 16
    }
    while k < size {
        dx[k] = logarithm ? dy[k] - Foundation.expf(y[k]) * total : y[k] * (dy[k] - total)
        k += 1
    }
}

extension Tensor {
    /// Softmax along `axis` (default: the last): `exp(x − max) / Σ exp(x − max)`, stable for any
    /// magnitude. Any shape; the output has the same shape and sums to 1 along `axis`.
    public func softmax(alongAxis axis: Int = -1) -> Tensor {
        let axis = normalizeAxis(axis, rank: rank)
        let (outer, size, inner) = axisView(shape, axis: axis)
        let output = Tensor(uninitializedShape: shape)
        withPointers(self, output) { x, y in
            softmaxLines(x, y, outer: outer, size: size, inner: inner, logarithm: false)
        }
        return Tensor.recording(output, inputs: [self]) { gradient, _, saved in
            if GradientMode.isRecording {  // ∂x = y·(∂y − Σ ∂y·y), recorded
                return [saved * (gradient - (gradient * saved).sum(alongAxes: [axis], keepingDimensions: true))]
            }
            let inputGradient = Tensor(uninitializedShape: saved.shape)
            let level = PointwiseKernels.level
            withPointers(gradient, saved, inputGradient) { dy, y, dx in
                parallelChunks(outer * inner, grain: Swift.max(1, 8_192 / Swift.max(size, 1))) { lines in
                    for line in lines {
                        let base = (line / inner) * size * inner + line % inner
                        if inner == 1 {
                            softmaxGradientRow(dy + base, y + base, dx + base, size: size, level: level)
                            continue
                        }
                        var dot: Float = 0
                        for k in 0..<size { dot += dy[base + k * inner] * y[base + k * inner] }
                        for k in 0..<size {
                            let i = base + k * inner
                            dx[i] = y[i] * (dy[i] - dot)
                        }
                    }
                }
            }
            return [inputGradient]
        }
    }

    /// Log-softmax along `axis` (default: the last): `x − max − log Σ exp(x − max)`, computed
    /// without forming the softmax first, so it is finite wherever the input is.
    public func logSoftmax(alongAxis axis: Int = -1) -> Tensor {
        let axis = normalizeAxis(axis, rank: rank)
        let (outer, size, inner) = axisView(shape, axis: axis)
        let output = Tensor(uninitializedShape: shape)
        withPointers(self, output) { x, y in
            softmaxLines(x, y, outer: outer, size: size, inner: inner, logarithm: true)
        }
        return Tensor.recording(output, inputs: [self]) { gradient, _, saved in
            if GradientMode.isRecording {  // ∂x = ∂y − eʸ·Σ ∂y, recorded
                return [gradient - saved.exp() * gradient.sum(alongAxes: [axis], keepingDimensions: true)]
            }
            let inputGradient = Tensor(uninitializedShape: saved.shape)
            let level = PointwiseKernels.level
            withPointers(gradient, saved, inputGradient) { dy, logY, dx in
                parallelChunks(outer * inner, grain: Swift.max(1, 8_192 / Swift.max(size, 1))) { lines in
                    for line in lines {
                        let base = (line / inner) * size * inner + line % inner
                        if inner == 1 {
                            softmaxGradientRow(
                                dy + base, logY + base, dx + base, size: size, level: level, logarithm: true)
                            continue
                        }
                        var total: Float = 0
                        for k in 0..<size { total += dy[base + k * inner] }
                        for k in 0..<size {
                            let i = base + k * inner
                            dx[i] = dy[i] - Foundation.expf(logY[i]) * total
                        }
                    }
                }
            }
            return [inputGradient]
        }
    }

    /// The index of the largest element of every line along `axis` (default: the last); the
    /// first one on ties, as PyTorch. The result lists the lines in row-major order of the
    /// other axes (for `[N, C]` logits: one class per sample).
    public func argmax(alongAxis axis: Int = -1) -> [Int] {
        let axis = normalizeAxis(axis, rank: rank)
        let (outer, size, inner) = axisView(shape, axis: axis)
        precondition(size > 0, "argmax: axis \(axis) of \(describeShape(shape)) is empty")
        return withPointer { x in
            (0..<(outer * inner)).map { line in
                let base = (line / inner) * size * inner + line % inner
                var best = 0
                for k in 1..<size where x[base + k * inner] > x[base + best * inner] { best = k }
                return best
            }
        }
    }
}

/// Softmax along `axis` (default: the last).
public func softmax(_ x: Tensor, axis: Int = -1) -> Tensor { x.softmax(alongAxis: axis) }
/// Log-softmax along `axis` (default: the last).
public func logSoftmax(_ x: Tensor, axis: Int = -1) -> Tensor { x.logSoftmax(alongAxis: axis) }
