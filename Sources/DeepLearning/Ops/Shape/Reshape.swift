// Ops that move elements without arithmetic: reshape, permute/transpose, slice, and
// broadcasting to a shape. Concatenation lives in Concat.swift.

extension Tensor {
    /// The same elements viewed with a new shape of equal element count. One axis may be −1
    /// and is then inferred. O(1): the buffer is shared.
    public func reshaped(to newShape: [Int]) -> Tensor {
        var resolved = newShape
        if let inferred = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != inferred }.reduce(1) { $0 * $1.element }
            precondition(
                known > 0 && count % known == 0,
                "reshape: cannot infer an axis of \(describeShape(newShape)) for \(count) elements")
            resolved[inferred] = count / known
        }
        precondition(
            elementCount(resolved) == count && resolved.allSatisfy { $0 >= 0 },
            "reshape: shape \(describeShape(shape)) (\(count) elements) cannot become \(describeShape(newShape))")
        let inputShape = shape
        return Tensor.recording(withShape(resolved), inputs: [self]) { gradient, _ in
            [gradient.reshaped(to: inputShape)]
        }
    }

    /// Reorders the axes: output axis i is input axis `permutation[i]` (NumPy's `transpose(axes)`).
    public func permuted(_ permutation: [Int]) -> Tensor {
        precondition(
            permutation.sorted() == Array(0..<rank),
            "permuted: \(permutation) is not a permutation of the axes of \(describeShape(shape))")
        let output = permutedWithoutRecording(permutation)
        var inverse = [Int](repeating: 0, count: rank)
        for (i, axis) in permutation.enumerated() { inverse[axis] = i }
        return Tensor.recording(output, inputs: [self]) { gradient, _ in
            [gradient.permuted(inverse)]
        }
    }

    /// Swaps the last two axes (a matrix transpose for rank 2).
    public func transposed() -> Tensor {
        precondition(rank >= 2, "transposed: needs rank ≥ 2, got \(describeShape(shape))")
        var permutation = Array(0..<rank)
        permutation.swapAt(rank - 1, rank - 2)
        return permuted(permutation)
    }

    func permutedWithoutRecording(_ permutation: [Int]) -> Tensor {
        if permutation == Array(0..<rank) { return detached() }
        let outputShape = permutation.map { shape[$0] }
        let strides = contiguousStrides(shape)
        let result = Tensor(uninitializedShape: outputShape)
        if count == 0 { return result }
        let plan = StridedPlan(shape: outputShape, strides: [permutation.map { strides[$0] }])
        let inner = plan.inner, innerStride = plan.strides[0].last!
        let source = storage.pointer, output = result.storage.pointer
        parallelChunks(plan.rows, grain: Swift.max(1, 32_768 / inner)) { rows in
            plan.forEachRow(rows) { row, offsets in
                let out = output + row * inner, input = source + offsets[0]
                for j in 0..<inner { out[j] = input[j * innerStride] }
            }
        }
        return result
    }

    /// The elements whose index along `axis` lies in `range` (NumPy's `x[..., a:b, ...]`), copied.
    public func slice(axis: Int, _ range: Range<Int>) -> Tensor {
        let axis = normalizeAxis(axis, rank: rank)
        precondition(
            range.lowerBound >= 0 && range.upperBound <= shape[axis],
            "slice: range \(range) is outside axis \(axis) of shape \(describeShape(shape))")
        var outputShape = shape
        outputShape[axis] = range.count
        let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *)
        let result = Tensor(uninitializedShape: outputShape)
        let source = storage.pointer, output = result.storage.pointer
        let block = range.count * inner, sourceBlock = shape[axis] * inner, start = range.lowerBound * inner
        for o in 0..<outer {
            (output + o * block).update(from: source + o * sourceBlock + start, count: block)
        }
        let inputShape = shape
        return Tensor.recording(result, inputs: [self]) { gradient, _ in
            [gradient.unsliced(axis: axis, range, into: inputShape)]
        }
    }

    /// The adjoint of `slice(axis:_:)`: this tensor placed at `range` of `axis` in zeros of
    /// `shape` (the slice's gradient, recorded so that it can be differentiated again).
    func unsliced(axis: Int, _ range: Range<Int>, into shape: [Int]) -> Tensor {
        let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *)
        let block = range.count * inner, targetBlock = shape[axis] * inner, start = range.lowerBound * inner
        let padded = Tensor(shape: shape, repeating: 0)
        let source = storage.pointer, target = padded.storage.pointer
        for o in 0..<outer {
            (target + o * targetBlock + start).update(from: source + o * block, count: block)
        }
        return Tensor.recording(padded, inputs: [self]) { gradient, _ in [gradient.slice(axis: axis, range)] }
    }

    /// Repeats the tensor along size-1 or missing leading axes to `shape` (NumPy's
    /// `broadcast_to`, copied). The gradient sums back.
    public func broadcasted(to target: [Int]) -> Tensor {
        let inputShape = shape
        return Tensor.recording(broadcast(to: target), inputs: [self]) { gradient, _ in
            [gradient.summed(toShape: inputShape)]
        }
    }
}
