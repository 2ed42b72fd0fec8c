// Selecting slices by integer index (PyTorch's `index_select`, the lookup of an embedding) and
// its pullback, which adds each output slice's gradient back to the slice it came from
// (indices may repeat).

extension Tensor {
    /// The slices at `indices` along `axis` (default 0), in that order: PyTorch's
    /// `x.index_select(axis, indices)`.
    ///
    /// - Parameters:
    ///   - indices: positions in `0..<shape[axis]`; repeats allowed.
    ///   - axis: the axis to select along.
    /// - Returns: `shape` with `shape[axis]` replaced by `indices.count`. Differentiable w.r.t.
    ///   `self` (repeated indices accumulate).
    public func gathering(_ indices: [Int], alongAxis axis: Int = 0) -> Tensor {
        let axis = normalizeAxis(axis, rank: rank)
        let size = shape[axis]
        if let bad = indices.firstIndex(where: { $0 < 0 || $0 >= size }) {
            preconditionFailure(
                "gathering: index \(indices[bad]) at position \(bad) is outside 0..<\(size) (axis \(axis) of \(describeShape(shape)))"
            )
        }
        let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *)
        var outputShape = shape
        outputShape[axis] = indices.count
        let output = Tensor(uninitializedShape: outputShape)
        let count = indices.count
        withPointers(self, output) { x, y in
            parallelChunks(outer * count, grain: Swift.max(1, 16_384 / Swift.max(inner, 1))) { rows in
                for row in rows {
                    let (o, j) = (row / count, row % count)
                    (y + row * inner).update(from: x + (o * size + indices[j]) * inner, count: inner)
                }
            }
        }
        let inputShape = shape
        // The pullback adds each slice back (repeats accumulate); its adjoint is this op again.
        let scatter: (Tensor) -> Tensor = { gradient in
            let inputGradient = Tensor(shape: inputShape, repeating: 0)
            withPointers(gradient, inputGradient) { dy, dx in
                // Parallel over the outer axis only: repeated indices write the same slice.
                parallelChunks(outer, grain: Swift.max(1, 16_384 / Swift.max(count * inner, 1))) { range in
                    for o in range {
                        for j in 0..<count {
                            let source = dy + (o * count + j) * inner, target = dx + (o * size + indices[j]) * inner
                            for i in 0..<inner { target[i] += source[i] }
                        }
                    }
                }
            }
            return inputGradient
        }
        return Tensor.recording(output, inputs: [self]) { gradient, _ in
            [gradient.linearMap(scatter) { $0.gathering(indices, alongAxis: axis) }]
        }
    }
}
