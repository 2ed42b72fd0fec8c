import DeepLearning

/// How `resize` computes each output pixel.
public enum ResizeMethod: Sendable {
    /// The input pixel under the output pixel's centre: `src = floor((dst + 0.5) · in/out)`.
    /// Same as `tf.image.resize(…, "nearest")`, and as PIL's `Image.NEAREST` (Keras
    /// `load_img(target_size:)`'s default) for the seed's 1200×600 → 512×256 — checked
    /// index by index. PIL differs only where `(dst + 0.5) · in/out` is an exact integer,
    /// which its float stepping can land just below (one column of 256 → 286).
    case nearest
    /// Linear interpolation between the 2×2 nearest input pixels with half-pixel centres,
    /// `src = (dst + 0.5) · in/out − 0.5`, clamped at the edges: `tf.image.resize(…,
    /// "bilinear", antialias=False)`. No antialiasing, so strong downscales alias; use
    /// `.area` for those. (PIL's bilinear agrees when upscaling, not when downscaling.)
    case bilinear
    /// The average of the input area each output pixel covers, weighting partly covered
    /// pixels by their covered fraction: `tf.image.resize(…, "area")`. Exact box
    /// averaging for integer downscale factors.
    case area
    /// PIL's `Image.BICUBIC` (Keys' cubic, a = −0.5, over 4 input pixels when upscaling, widened
    /// by the scale factor when downscaling, so it antialiases), the weights normalised to sum
    /// to 1 at the edges: what torchvision's `Resize` does to PIL images, and so junyanz's
    /// `resize_and_crop` preprocessing.
    case bicubic
}

/// Resizes images to `height × width`.
///
/// - Parameters:
///   - image: `[H, W, C]` or `[N, H, W, C]`.
///   - height: Output height in pixels.
///   - width: Output width in pixels.
///   - method: `.bilinear` (default), `.nearest`, `.area` or `.bicubic`.
/// - Returns: `[height, width, C]` or `[N, height, width, C]`; not recorded for autodiff.
public func resize(_ image: Tensor, height: Int, width: Int, method: ResizeMethod = .bilinear) -> Tensor {
    precondition(
        image.rank == 3 || image.rank == 4,
        "resize expects [H, W, C] or [N, H, W, C], got \(describeShape(image.shape))")
    precondition(height > 0 && width > 0, "resize target \(height)×\(width) must be positive")
    let batched = image.rank == 4
    let (n, inH, inW, c) =
        batched
        ? (image.shape[0], image.shape[1], image.shape[2], image.shape[3])
        : (1, image.shape[0], image.shape[1], image.shape[2])
    let outShape = batched ? [n, height, width, c] : [height, width, c]
    if inH == height && inW == width { return image.detached() }
    var output = Tensor(shape: outShape, repeating: 0)
    precondition(inH > 0 && inW > 0, "cannot resize an empty image \(describeShape(image.shape))")
    let rows = AxisWeights(method: method, input: inH, output: height)
    let columns = AxisWeights(method: method, input: inW, output: width)
    image.withUnsafeBufferPointer { inBuffer in
        output.withUnsafeMutableBufferPointer { outBuffer in
            rows.withPointers { rowStarts, rowIndices, rowWeights in
                columns.withPointers { columnStarts, columnIndices, columnWeights in
                    let source = inBuffer.baseAddress!, destination = outBuffer.baseAddress!
                    let rowLength = width * c
                    // One work item per output row of one image. Separable: the row is a
                    // weighted sum of input rows, each first reduced along x into `horizontal`.
                    Parallelism.forEachChunk(of: n * height, grain: max(1, 16_384 / max(rowLength, 1))) { range in
                        let horizontal = UnsafeMutablePointer<Float>.allocate(capacity: rowLength)
                        defer { horizontal.deallocate() }
                        for item in range {
                            let (b, y) = item.quotientAndRemainder(dividingBy: height)
                            let out = destination + item * rowLength
                            out.initialize(repeating: 0, count: rowLength)
                            for tap in rowStarts[y]..<rowStarts[y + 1] {
                                let inRow = source + (b * inH + rowIndices[tap]) * inW * c
                                horizontal.initialize(repeating: 0, count: rowLength)
                                for x in 0..<width {
                                    let h = horizontal + x * c
                                    for columnTap in columnStarts[x]..<columnStarts[x + 1] {
                                        let pixel = inRow + columnIndices[columnTap] * c
                                        let wx = columnWeights[columnTap]
                                        for ch in 0..<c { h[ch] += wx * pixel[ch] }
                                    }
                                }
                                let wy = rowWeights[tap]
                                for i in 0..<rowLength { out[i] += wy * horizontal[i] }
                            }
                        }
                    }
                }
            }
        }
    }
    return output
}

/// For each output index along one axis, the input indices it reads and their weights
/// (which sum to 1), precomputed once per call.
private struct AxisWeights {
    var starts: [Int] = []  // offset of output i's taps in `indices`/`weights`
    var indices: [Int] = []
    var weights: [Float] = []

    init(method: ResizeMethod, input: Int, output: Int) {
        let scale = Double(input) / Double(output)
        for i in 0..<output {
            starts.append(indices.count)
            switch method {
            case .nearest:
                append(min(Int(((Double(i) + 0.5) * scale).rounded(.down)), input - 1), 1)
            case .bilinear:
                let center = max((Double(i) + 0.5) * scale - 0.5, 0)
                let low = min(Int(center), input - 1)
                let high = min(low + 1, input - 1)
                let fraction = Float(center - Double(low))
                if high == low || fraction == 0 {
                    append(low, 1)
                } else {
                    append(low, 1 - fraction)
                    append(high, fraction)
                }
            case .bicubic:
                // PIL's precompute_coeffs: the filter's support grows with a downscale factor.
                let filterScale = max(scale, 1), support = 2 * filterScale
                let center = (Double(i) + 0.5) * scale
                let first = max(Int(center - support + 0.5), 0), last = min(Int(center + support + 0.5), input)
                let taps = (first..<last).map { j in Self.cubic((Double(j) - center + 0.5) / filterScale) }
                let total = taps.reduce(0, +)
                for (j, weight) in zip(first..<last, taps) where weight != 0 { append(j, Float(weight / total)) }
            case .area:
                // Output i covers [i·scale, (i+1)·scale) in input coordinates.
                let begin = Double(i) * scale, end = Double(i + 1) * scale
                var j = Int(begin.rounded(.down))
                while j < input && Double(j) < end {
                    let covered = min(end, Double(j + 1)) - max(begin, Double(j))
                    if covered > 1e-9 { append(j, Float(covered / scale)) }
                    j += 1
                }
            }
        }
        starts.append(indices.count)
    }

    /// Keys' cubic convolution kernel with a = −0.5 (PIL's bicubic filter).
    private static func cubic(_ x: Double) -> Double {
        let a = -0.5, x = abs(x)
        if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
        if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
        return 0
    }

    private mutating func append(_ index: Int, _ weight: Float) {
        indices.append(index)
        weights.append(weight)
    }

    /// Calls `body` with raw pointers to `starts`, `indices` and `weights`: output i's
    /// taps are `starts[i]..<starts[i + 1]`.
    func withPointers<R>(_ body: (UnsafePointer<Int>, UnsafePointer<Int>, UnsafePointer<Float>) -> R) -> R {
        starts.withUnsafeBufferPointer { s in
            indices.withUnsafeBufferPointer { i in
                weights.withUnsafeBufferPointer { w in body(s.baseAddress!, i.baseAddress!, w.baseAddress!) }
            }
        }
    }
}
