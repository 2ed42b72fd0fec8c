// Sum, mean and max over chosen axes (NumPy's `axis=` and `keepdims=`), with pullbacks.

extension Tensor {
    /// Sum over `axes` (all axes when `nil`). Negative axes count from the end.
    ///
    /// - Parameters:
    ///   - axes: the axes to reduce; `nil` reduces all.
    ///   - keepingDimensions: keep reduced axes with size 1, like NumPy's `keepdims`.
    public func sum(alongAxes axes: [Int]? = nil, keepingDimensions: Bool = false) -> Tensor {
        let resolved = resolveAxes(axes)
        let kept = sumWithoutRecording(alongAxes: resolved)
        let output = keepingDimensions ? kept : kept.withShape(Tensor.dropAxes(resolved, from: shape))
        let inputShape = shape, keptShape = kept.shape
        return Tensor.recording(output, inputs: [self]) { gradient, _ in
            [gradient.reshaped(to: keptShape).broadcasted(to: inputShape)]
        }
    }

    /// Mean over `axes` (all axes when `nil`).
    public func mean(alongAxes axes: [Int]? = nil, keepingDimensions: Bool = false) -> Tensor {
        let resolved = resolveAxes(axes)
        let reducedCount = resolved.reduce(1) { $0 * shape[$1] }
        return sum(alongAxes: resolved, keepingDimensions: keepingDimensions) * (1 / Float(Swift.max(reducedCount, 1)))
    }

    /// Maximum over `axes` (all axes when `nil`). The gradient is shared equally among tied
    /// maxima (like PyTorch's `amax`).
    public func max(alongAxes axes: [Int]? = nil, keepingDimensions: Bool = false) -> Tensor {
        let resolved = resolveAxes(axes)
        precondition(count > 0, "max of an empty tensor of shape \(describeShape(shape))")
        let kept = reduceWithoutRecording(
            alongAxes: resolved, initial: -.infinity, combineScalar: { Swift.max($0, $1) })
        let output = keepingDimensions ? kept : kept.withShape(Tensor.dropAxes(resolved, from: shape))
        let input = detached(), keptShape = kept.shape
        return Tensor.recording(output, inputs: [self]) { gradient, _ in
            // The gradient goes to the maxima, shared among ties; the masks are constants (the
            // second derivative of a max is zero almost everywhere).
            let maxima = kept.broadcast(to: input.shape)
            let isMax = Tensor.zipElements(input, maxima) { $0 == $1 ? 1 : 0 }
            let ties = isMax.sumWithoutRecording(alongAxes: resolved)
            return [(gradient.reshaped(to: keptShape) / ties).broadcasted(to: input.shape) * isMax]
        }
    }

    private func resolveAxes(_ axes: [Int]?) -> [Int] {
        guard let axes else { return Array(0..<rank) }
        let resolved = axes.map { normalizeAxis($0, rank: rank) }
        precondition(Set(resolved).count == resolved.count, "duplicate axes \(axes) for shape \(describeShape(shape))")
        return resolved.sorted()
    }

    private static func dropAxes(_ axes: [Int], from shape: [Int]) -> [Int] {
        shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element)
    }

    /// Sum over sorted, resolved axes, keeping them as size 1; records nothing.
    func sumWithoutRecording(alongAxes axes: [Int]) -> Tensor {
        reduceWithoutRecording(alongAxes: axes, initial: 0, combineScalar: +)
    }

    /// The shared reduction loop: walks the input once, row by row, folding each row either
    /// into one output element (inner axis reduced) or elementwise into an output row.
    @inline(__always)
    private func reduceWithoutRecording(
        alongAxes axes: [Int], initial: Float,
        combineScalar: (Float, Float) -> Float
    ) -> Tensor {
        var outputShape = shape
        for axis in axes { outputShape[axis] = 1 }
        let result = Tensor(shape: outputShape, repeating: initial)
        if count == 0 { return result }
        var outputStrides = contiguousStrides(outputShape)
        for axis in axes { outputStrides[axis] = 0 }
        let plan = StridedPlan(shape: shape, strides: [contiguousStrides(shape), outputStrides])
        let inner = plan.inner, innerReduced = plan.strides[1].last == 0
        let source = storage.pointer, target = result.storage.pointer
        plan.forEachRow(0..<plan.rows) { _, offsets in
            let row = source + offsets[0], out = target + offsets[1]
            if innerReduced {
                // Eight partial accumulators keep the dependency chain short and the rounding
                // error closer to pairwise summation than a single running sum.
                var partial = (initial, initial, initial, initial, initial, initial, initial, initial)
                var j = 0
                while j + 8 <= inner {
                    partial.0 = combineScalar(partial.0, row[j]); partial.1 = combineScalar(partial.1, row[j + 1])
                    partial.2 = combineScalar(partial.2, row[j + 2]); partial.3 = combineScalar(partial.3, row[j + 3])
                    partial.4 = combineScalar(partial.4, row[j + 4]); partial.5 = combineScalar(partial.5, row[j + 5])
                    partial.6 = combineScalar(partial.6, row[j + 6]); partial.7 = combineScalar(partial.7, row[j + 7])
                    j += 8
                }
                var total = combineScalar(
                    combineScalar(combineScalar(partial.0, partial.1), combineScalar(partial.2, partial.3)),
                    combineScalar(combineScalar(partial.4, partial.5), combineScalar(partial.6, partial.7)))
                while j < inner { total = combineScalar(total, row[j]); j += 1 }
                out[0] = combineScalar(out[0], total)
            } else {
                for j in 0..<inner { out[j] = combineScalar(out[j], row[j]) }
            }
        }
        return result
    }

    /// Repeats this tensor along its size-1 (or missing leading) axes to `target`; records nothing.
    func broadcast(to target: [Int]) -> Tensor {
        if shape == target { return self }
        precondition(
            broadcastShape(shape, target) == target,
            "cannot broadcast \(describeShape(shape)) to \(describeShape(target))")
        let result = Tensor(uninitializedShape: target)
        if result.count == 0 { return result }
        let plan = StridedPlan(shape: target, strides: [broadcastStrides(shape, to: target)])
        let inner = plan.inner, innerContiguous = plan.strides[0].last == 1
        let source = storage.pointer, output = result.storage.pointer
        plan.forEachRow(0..<plan.rows) { row, offsets in
            let out = output + row * inner
            if innerContiguous {
                out.update(from: source + offsets[0], count: inner)
            } else {
                out.update(repeating: source[offsets[0]], count: inner)
            }
        }
        return result
    }
}
