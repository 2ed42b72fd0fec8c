// The loops every elementwise op and reduction is built from. Each works on raw pointers
// obtained once; the per-element function is a closure that `@inline(__always)` lets the
// optimizer inline into the loop, so release builds run a plain (vectorisable) loop.

extension Tensor {
    /// `f(x)` for every element, on all cores for large tensors.
    @inline(__always)
    func mapElements(_ f: (Float) -> Float) -> Tensor {
        let result = Tensor(uninitializedShape: shape)
        let source = storage.pointer, target = result.storage.pointer
        parallelChunks(count) { range in
            for i in range { target[i] = f(source[i]) }
        }
        return result
    }

    /// `f(a, b)` for tensors of identical shape.
    @inline(__always)
    static func zipElements(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
        precondition(a.shape == b.shape, "zipElements: \(describeShape(a.shape)) vs \(describeShape(b.shape))")
        let result = Tensor(uninitializedShape: a.shape)
        let pa = a.storage.pointer, pb = b.storage.pointer, target = result.storage.pointer
        parallelChunks(a.count) { range in
            for i in range { target[i] = f(pa[i], pb[i]) }
        }
        return result
    }

    /// `f(a, b, c)` for tensors of identical shape (used by pullbacks that need x, y and ∂y).
    @inline(__always)
    static func zipElements(_ a: Tensor, _ b: Tensor, _ c: Tensor, _ f: (Float, Float, Float) -> Float) -> Tensor {
        precondition(a.shape == b.shape && b.shape == c.shape, "zipElements: shapes differ")
        let result = Tensor(uninitializedShape: a.shape)
        let pa = a.storage.pointer, pb = b.storage.pointer, pc = c.storage.pointer
        let target = result.storage.pointer
        parallelChunks(a.count) { range in
            for i in range { target[i] = f(pa[i], pb[i], pc[i]) }
        }
        return result
    }

    /// `f(a, b)` with NumPy broadcasting. Shapes are validated by the caller.
    @inline(__always)
    static func broadcastElements(
        _ a: Tensor, _ b: Tensor, to outputShape: [Int],
        _ f: (Float, Float) -> Float
    ) -> Tensor {
        if a.shape == b.shape { return zipElements(a, b, f) }
        let result = Tensor(uninitializedShape: outputShape)
        let pa = a.storage.pointer, pb = b.storage.pointer, target = result.storage.pointer
        if b.count == 1 {
            let s = pb[0]
            parallelChunks(result.count) { range in for i in range { target[i] = f(pa[i], s) } }
            return result
        }
        if a.count == 1 {
            let s = pa[0]
            parallelChunks(result.count) { range in for i in range { target[i] = f(s, pb[i]) } }
            return result
        }
        let plan = StridedPlan(
            shape: outputShape,
            strides: [
                broadcastStrides(a.shape, to: outputShape), broadcastStrides(b.shape, to: outputShape),
            ])
        let inner = plan.inner
        let innerA = plan.strides[0].last ?? 0, innerB = plan.strides[1].last ?? 0
        parallelChunks(plan.rows, grain: Swift.max(1, 32_768 / Swift.max(inner, 1))) { rows in
            plan.forEachRow(rows) { row, offsets in
                let out = target + row * inner, x = pa + offsets[0], y = pb + offsets[1]
                switch (innerA, innerB) {
                case (1, 1): for j in 0..<inner { out[j] = f(x[j], y[j]) }
                case (1, _): let s = y[0]; for j in 0..<inner { out[j] = f(x[j], s) }
                case (_, 1): let s = x[0]; for j in 0..<inner { out[j] = f(s, y[j]) }
                default: let v = f(x[0], y[0]); for j in 0..<inner { out[j] = v }
                }
            }
        }
        return result
    }

    /// Adds `other` (same shape) into `self`, in place when the buffer is not shared.
    mutating func addInPlace(_ other: Tensor) {
        precondition(shape == other.shape, "addInPlace: \(describeShape(shape)) vs \(describeShape(other.shape))")
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        storage.knownFinite = false
        let target = storage.pointer, source = other.storage.pointer
        parallelChunks(count) { range in
            for i in range { target[i] += source[i] }
        }
    }
}

/// A strided walk over an output shape, reading several operands with their own strides.
///
/// Adjacent axes that every operand traverses contiguously (or all broadcast) are merged,
/// so `[N, H, W, C] + [C]` becomes a walk over `NHW` rows of `C` elements.
struct StridedPlan {
    /// The merged shape; the last axis is the inner loop.
    let shape: [Int]
    /// One stride list per operand, aligned with `shape`.
    let strides: [[Int]]

    init(shape fullShape: [Int], strides fullStrides: [[Int]]) {
        var shape: [Int] = []
        var strides: [[Int]] = Array(repeating: [], count: fullStrides.count)
        for axis in 0..<fullShape.count where fullShape[axis] != 1 {
            if let last = shape.last,
                (0..<fullStrides.count).allSatisfy({ strides[$0].last! == fullStrides[$0][axis] * fullShape[axis] })
            {
                shape[shape.count - 1] = last * fullShape[axis]
                for k in 0..<fullStrides.count { strides[k][strides[k].count - 1] = fullStrides[k][axis] }
            } else {
                shape.append(fullShape[axis])
                for k in 0..<fullStrides.count { strides[k].append(fullStrides[k][axis]) }
            }
        }
        if shape.isEmpty {
            shape = [1]
            strides = strides.map { _ in [0] }
        }
        self.shape = shape
        self.strides = strides
    }

    /// Length of the inner loop.
    var inner: Int { shape[shape.count - 1] }
    /// Number of inner loops.
    var rows: Int { shape.dropLast().reduce(1, *) }

    /// Calls `body(row, offsets)` for each row in `rows`, where `offsets[k]` is operand k's
    /// element offset of that row's first element.
    @inline(__always)
    func forEachRow(_ rows: Range<Int>, _ body: (Int, UnsafeMutableBufferPointer<Int>) -> Void) {
        let outerRank = shape.count - 1
        let operands = strides.count
        withUnsafeTemporaryAllocation(of: Int.self, capacity: outerRank + operands) { scratch in
            let index = UnsafeMutableBufferPointer(rebasing: scratch[0..<outerRank])
            let offsets = UnsafeMutableBufferPointer(rebasing: scratch[outerRank..<(outerRank + operands)])
            var remaining = rows.lowerBound
            for k in 0..<operands { offsets[k] = 0 }
            for axis in stride(from: outerRank - 1, through: 0, by: -1) {
                index[axis] = remaining % shape[axis]
                remaining /= shape[axis]
                for k in 0..<operands { offsets[k] += index[axis] * strides[k][axis] }
            }
            for row in rows {
                body(row, offsets)
                var axis = outerRank - 1
                while axis >= 0 {
                    index[axis] += 1
                    for k in 0..<operands { offsets[k] += strides[k][axis] }
                    if index[axis] < shape[axis] { break }
                    for k in 0..<operands { offsets[k] -= strides[k][axis] * shape[axis] }
                    index[axis] = 0
                    axis -= 1
                }
            }
        }
    }
}
