// Concatenation along any axis (the U-Net skip connections join along channels) and its
// pullback, which slices the gradient back into the inputs' pieces.

extension Tensor {
    /// Joins tensors along `axis`; all other axes must match.
    ///
    /// - Throws: `ShapeError` naming every shape when they do not fit together.
    public static func concatenating(_ tensors: [Tensor], alongAxis axis: Int) throws -> Tensor {
        try concatenating(tensors, alongAxis: axis, activation: .identity)
    }

    /// Joins tensors along `axis` and applies `activation` while copying: the same values and
    /// gradients as `activation(concatenate(tensors))` without a separate pass (the U-Net
    /// decoder's concat → ReLU).
    ///
    /// - Throws: `ShapeError` naming every shape when they do not fit together.
    public static func concatenating(_ tensors: [Tensor], alongAxis axis: Int, activation: Activation) throws -> Tensor
    {
        let op = ConcatenateOp(tensors: tensors, axis: axis)
        if let result = activation.withKernel(op) { return try result.get() }
        return activation(try op(IdentityFunction()).get())
    }

    fileprivate static func concatenating<A: ElementwiseFunction>(
        _ tensors: [Tensor], alongAxis axis: Int, _ activation: A
    ) throws -> Tensor {
        guard let first = tensors.first else { throw ShapeError("concatenate: no tensors given") }
        let axis = normalizeAxis(axis, rank: first.rank)
        for t in tensors {
            var a = t.shape, b = first.shape
            guard a.count == b.count else {
                throw ShapeError(
                    "concatenate along axis \(axis): ranks differ in shapes \(tensors.map { describeShape($0.shape) }.joined(separator: ", "))"
                )
            }
            a[axis] = 0; b[axis] = 0
            guard a == b else {
                throw ShapeError(
                    "concatenate along axis \(axis): shapes \(tensors.map { describeShape($0.shape) }.joined(separator: ", ")) differ off that axis"
                )
            }
        }
        let sizes = tensors.map { $0.shape[axis] }
        var outputShape = first.shape
        outputShape[axis] = sizes.reduce(0, +)
        let outer = first.shape[..<axis].reduce(1, *), inner = first.shape[(axis + 1)...].reduce(1, *)
        let result = Tensor(uninitializedShape: outputShape)
        let outputBlock = outputShape[axis] * inner
        let isIdentity = A.self == IdentityFunction.self
        let blocks = sizes.map { $0 * inner }
        withPointers(tensors, result) { sources, output in
            parallelChunks(outer, grain: Swift.max(1, 16_384 / Swift.max(outputBlock, 1))) { range in
                for o in range {
                    var offset = o * outputBlock
                    for (block, start) in zip(blocks, sources) {
                        let source = start + o * block, target = output + offset
                        if isIdentity {
                            target.update(from: source, count: block)
                        } else {
                            // Written out: calling `applyActivation` here (a parallel loop nested in
                            // this one) made the whole copy several times slower (Docs/Performance.md).
                            var i = 0
                            while i + 16 <= block {
                                storeVector(activation(loadVector(source + i)), target + i)
                                i += 16
                            }
                            while i < block {
                                target[i] = activation(source[i])
                                i += 1
                            }
                        }
                        offset += block
                    }
                }
            }
        }
        let saved = isIdentity ? nil : result.detached()
        return recording(result, inputs: tensors, op: "concatenating(_:alongAxis:)") { gradient, needed in
            if GradientMode.isRecording, saved != nil {
                return compositePullback(inputs: tensors, gradient: gradient, needed: needed) {
                    concatenate($0, axis: axis).applying(activation)
                }
            }
            // Slice ∂y back into the pieces, through the activation's derivative at the output.
            var start = 0
            return sizes.enumerated().map { index, size in
                defer { start += size }
                guard needed[index] else { return nil }
                guard let saved else { return gradient.slice(axis: axis, start..<(start + size)) }
                let piece = Tensor(uninitializedShape: tensors[index].shape)
                let block = size * inner, offset = start * inner
                withPointers(gradient, saved, piece) { g, y, target in
                    parallelChunks(outer, grain: Swift.max(1, 16_384 / Swift.max(block, 1))) { range in
                        for o in range {
                            let dy = g + o * outputBlock + offset, out = y + o * outputBlock + offset,
                                dx = target + o * block
                            var i = 0
                            while i + 16 <= block {
                                storeVector(
                                    activation.derivative(loadVector(dy + i), at: loadVector(out + i)), dx + i)
                                i += 16
                            }
                            while i < block {
                                dx[i] = activation.derivative(dy[i], at: out[i])
                                i += 1
                            }
                        }
                    }
                }
                return piece
            }
        }
    }
}

/// Joins tensors along `axis` (default: the last, i.e. channels in NHWC), then applies
/// `activation` in the same pass (default none).
///
/// - Precondition: shapes agree off `axis`; use `Tensor.concatenating(_:alongAxis:)` to get
///   a thrown `ShapeError` instead.
public func concatenate(_ tensors: [Tensor], axis: Int = -1, activation: Activation = .identity) -> Tensor {
    do {
        return try Tensor.concatenating(tensors, alongAxis: axis, activation: activation)
    } catch {
        preconditionFailure("\(error)")
    }
}

/// `concatenating` with the arguments bound, run once the activation's kernel is known.
private struct ConcatenateOp: ActivationKernelUser {
    let tensors: [Tensor], axis: Int

    func callAsFunction<A: ElementwiseFunction>(_ activation: A) -> Result<Tensor, any Error> {
        Result { try Tensor.concatenating(tensors, alongAxis: axis, activation) }
    }
}
