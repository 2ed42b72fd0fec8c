// Concatenation along any axis (the U-Net skip connections join along channels) and its
// pullback, which slices the gradient back into the inputs' pieces.

extension Tensor {
    /// Joins tensors along `axis`; all other axes must match.
    ///
    /// - Throws: `ShapeError` naming every shape when they do not fit together.
    public static func concatenating(_ tensors: [Tensor], alongAxis axis: Int) throws -> Tensor {
        guard let first = tensors.first else { throw ShapeError("concatenate: no tensors given") }
        let axis = normalizeAxis(axis, rank: first.rank)
        for t in tensors {
            var a = t.shape, b = first.shape
            guard a.count == b.count else {
                throw ShapeError("concatenate along axis \(axis): ranks differ in shapes \(tensors.map { describeShape($0.shape) }.joined(separator: ", "))")
            }
            a[axis] = 0; b[axis] = 0
            guard a == b else {
                throw ShapeError("concatenate along axis \(axis): shapes \(tensors.map { describeShape($0.shape) }.joined(separator: ", ")) differ off that axis")
            }
        }
        let sizes = tensors.map { $0.shape[axis] }
        var outputShape = first.shape
        outputShape[axis] = sizes.reduce(0, +)
        let outer = first.shape[..<axis].reduce(1, *), inner = first.shape[(axis + 1)...].reduce(1, *)
        let result = Tensor(uninitializedShape: outputShape)
        let outputBlock = outputShape[axis] * inner
        let output = result.storage.pointer
        parallelChunks(outer, grain: Swift.max(1, 16_384 / Swift.max(outputBlock, 1))) { range in
            for o in range {
                var offset = o * outputBlock
                for t in tensors {
                    let block = t.shape[axis] * inner
                    (output + offset).update(from: t.storage.pointer + o * block, count: block)
                    offset += block
                }
            }
        }
        return recording(result, inputs: tensors) { gradient, needed in
            var start = 0
            return sizes.enumerated().map { index, size in
                defer { start += size }
                return needed[index] ? gradient.slice(axis: axis, start..<(start + size)) : nil
            }
        }
    }
}

/// Joins tensors along `axis` (default: the last, i.e. channels in NHWC).
///
/// - Precondition: shapes agree off `axis`; use `Tensor.concatenating(_:alongAxis:)` to get
///   a thrown `ShapeError` instead.
public func concatenate(_ tensors: [Tensor], axis: Int = -1) -> Tensor {
    do {
        return try Tensor.concatenating(tensors, alongAxis: axis)
    } catch {
        preconditionFailure("\(error)")
    }
}
