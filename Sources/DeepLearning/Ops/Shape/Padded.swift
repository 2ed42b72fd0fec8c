// Spatial padding of NHWC tensors: zeros and reflection (ResNet generators pad by reflection
// before 7×7 and 3×3 convolutions to avoid border artefacts).

/// How `padded(_:_:mode:)` fills the border.
public enum PaddingMode: String, Sendable, Codable {
    /// Zeros.
    case zeros
    /// Mirror without repeating the edge pixel: `[a b c d]` padded by 2 → `c b [a b c d] c b`
    /// (NumPy's `reflect`, PyTorch's `ReflectionPad2d`).
    case reflect
}

extension Tensor {
    /// Pads the height and width axes of `[N, H, W, C]` by `top`, `bottom`, `left`, `right`.
    ///
    /// Reflection requires each pad to be smaller than the axis it reflects.
    public func padded(top: Int, bottom: Int, left: Int, right: Int, mode: PaddingMode = .zeros) -> Tensor {
        precondition(rank == 4, "padded: needs [N, H, W, C], got \(describeShape(shape))")
        let (n, h, w, c) = (shape[0], shape[1], shape[2], shape[3])
        precondition([top, bottom, left, right].allSatisfy { $0 >= 0 }, "padded: negative padding")
        if mode == .reflect {
            precondition(
                top < h && bottom < h && left < w && right < w,
                "padded: reflection by (\(top), \(bottom), \(left), \(right)) needs pads smaller than \(h)×\(w)")
        }
        let (outH, outW) = (h + top + bottom, w + left + right)
        // Source row/column of every output row/column; −1 marks a zero border.
        func sourceIndex(_ i: Int, before: Int, size: Int) -> Int {
            let j = i - before
            if j >= 0 && j < size { return j }
            guard mode == .reflect else { return -1 }
            return j < 0 ? -j : 2 * (size - 1) - j
        }
        let rows = (0..<outH).map { sourceIndex($0, before: top, size: h) }
        let columns = (0..<outW).map { sourceIndex($0, before: left, size: w) }
        let result = Tensor(uninitializedShape: [n, outH, outW, c])
        let source = storage.pointer, output = result.storage.pointer
        rows.withUnsafeBufferPointer { rows in
            columns.withUnsafeBufferPointer { columns in
                parallelChunks(n * outH, grain: Swift.max(1, 8192 / Swift.max(outW * c, 1))) { range in
                    for r in range {
                        let (image, y) = (r / outH, r % outH)
                        let out = output + r * outW * c
                        let sy = rows[y]
                        for x in 0..<outW {
                            let sx = columns[x]
                            if sy < 0 || sx < 0 {
                                (out + x * c).update(repeating: 0, count: c)
                            } else {
                                (out + x * c).update(from: source + ((image * h + sy) * w + sx) * c, count: c)
                            }
                        }
                    }
                }
            }
        }
        let inputShape = shape
        let scatter: (Tensor) -> Tensor = { gradient in
            // Each output element came from one input element (or none): scatter-add back.
            let inputGradient = Tensor(shape: inputShape, repeating: 0)
            let g = gradient.storage.pointer, target = inputGradient.storage.pointer
            rows.withUnsafeBufferPointer { rows in
                columns.withUnsafeBufferPointer { columns in
                    // Parallel over images only: reflected rows of one image overlap.
                    parallelChunks(n, grain: 1) { images in
                        for image in images {
                            for y in 0..<outH where rows[y] >= 0 {
                                let from = g + (image * outH + y) * outW * c
                                for x in 0..<outW where columns[x] >= 0 {
                                    let to = target + ((image * h + rows[y]) * w + columns[x]) * c
                                    for k in 0..<c { to[k] += from[x * c + k] }
                                }
                            }
                        }
                    }
                }
            }
            return inputGradient
        }
        // Linear: the pullback's adjoint is this op again.
        return Tensor.recording(result, inputs: [self]) { gradient, _ in
            [gradient.linearMap(scatter) { $0.padded(top: top, bottom: bottom, left: left, right: right, mode: mode) }]
        }
    }
}
