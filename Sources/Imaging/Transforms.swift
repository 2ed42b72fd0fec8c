import DeepLearning

/// The `height × width` window whose top-left pixel is (`top`, `left`).
///
/// - Parameters:
///   - image: `[H, W, C]` or `[N, H, W, C]`.
///   - top: First row of the window.
///   - left: First column of the window.
///   - height: Rows in the window.
///   - width: Columns in the window.
/// - Returns: `[height, width, C]` or `[N, height, width, C]`.
/// - Precondition: the window lies inside the image.
public func crop(_ image: Tensor, top: Int, left: Int, height: Int, width: Int) -> Tensor {
    precondition(
        image.rank == 3 || image.rank == 4, "crop expects [H, W, C] or [N, H, W, C], got \(describeShape(image.shape))")
    let batched = image.rank == 4
    let (n, inH, inW, c) =
        batched
        ? (image.shape[0], image.shape[1], image.shape[2], image.shape[3])
        : (1, image.shape[0], image.shape[1], image.shape[2])
    precondition(
        top >= 0 && left >= 0 && height >= 0 && width >= 0 && top + height <= inH && left + width <= inW,
        "crop window top \(top) left \(left) size \(height)×\(width) is outside a \(inH)×\(inW) image")
    var output = Tensor(shape: batched ? [n, height, width, c] : [height, width, c], repeating: 0)
    image.withUnsafeBufferPointer { input in
        output.withUnsafeMutableBufferPointer { out in
            let source = input.baseAddress!, destination = out.baseAddress!
            let rowLength = width * c
            for b in 0..<n {
                for y in 0..<height {
                    let from = source + ((b * inH + top + y) * inW + left) * c
                    (destination + (b * height + y) * rowLength).update(from: from, count: rowLength)
                }
            }
        }
    }
    return output
}

/// The image flipped left to right (`x → W − 1 − x`).
///
/// - Parameter image: `[H, W, C]` or `[N, H, W, C]`; the result has the same shape.
public func mirrored(_ image: Tensor) -> Tensor {
    precondition(
        image.rank == 3 || image.rank == 4,
        "mirrored expects [H, W, C] or [N, H, W, C], got \(describeShape(image.shape))")
    let c = image.shape[image.rank - 1], w = image.shape[image.rank - 2]
    let rows = image.count / max(w * c, 1)
    var output = Tensor(shape: image.shape, repeating: 0)
    image.withUnsafeBufferPointer { input in
        output.withUnsafeMutableBufferPointer { out in
            let source = input.baseAddress!, destination = out.baseAddress!
            for row in 0..<rows {
                let from = source + row * w * c, to = destination + row * w * c
                for x in 0..<w {
                    (to + (w - 1 - x) * c).update(from: from + x * c, count: c)
                }
            }
        }
    }
    return output
}

/// Maps pixel values 0…255 to the generator's range [-1, 1]: `x / 127.5 − 1`.
/// Any shape; elementwise, and recorded for autodiff like any op.
public func toUnitRange(_ pixels: Tensor) -> Tensor {
    pixels / 127.5 - 1
}

/// Maps [-1, 1] back to pixel values 0…255: `(x + 1) · 127.5`. Not clamped: `saveImage`
/// clamps and rounds when writing.
public func fromUnitRange(_ x: Tensor) -> Tensor {
    (x + 1) * 127.5
}

/// Tiles images into one picture, row by row, e.g. `[[source, generated, target], …]` for
/// a sample grid.
///
/// - Parameters:
///   - rows: Images `[H, W, C]`; all must share the channel count, sizes may differ (each
///     cell is as tall as its row's tallest image and as wide as its column's widest).
///   - padding: Pixels of `background` around and between cells.
///   - background: The fill value (255 = white in 0…255 pixels; pass 1 for [-1, 1] images).
/// - Returns: `[totalHeight, totalWidth, C]`.
public func imageGrid(_ rows: [[Tensor]], padding: Int = 2, background: Float = 255) -> Tensor {
    let images = rows.flatMap { $0 }
    precondition(!images.isEmpty, "imageGrid needs at least one image")
    precondition(
        images.allSatisfy { $0.rank == 3 && $0.shape[2] == images[0].shape[2] },
        "imageGrid expects [H, W, C] images with equal C, got \(images.map { describeShape($0.shape) })")
    let c = images[0].shape[2]
    let columnCount = rows.map(\.count).max()!
    let rowHeights = rows.map { row in row.map { $0.shape[0] }.max() ?? 0 }
    var columnWidths = [Int](repeating: 0, count: columnCount)
    for row in rows { for (j, image) in row.enumerated() { columnWidths[j] = max(columnWidths[j], image.shape[1]) } }
    let totalH = rowHeights.reduce(padding, { $0 + $1 + padding })
    let totalW = columnWidths.reduce(padding, { $0 + $1 + padding })
    var canvas = Tensor(shape: [totalH, totalW, c], repeating: background)
    canvas.withUnsafeMutableBufferPointer { out in
        let destination = out.baseAddress!
        var top = padding
        for (i, row) in rows.enumerated() {
            var left = padding
            for (j, image) in row.enumerated() {
                let (h, w) = (image.shape[0], image.shape[1])
                image.withUnsafeBufferPointer { input in
                    for y in 0..<h {
                        (destination + ((top + y) * totalW + left) * c).update(
                            from: input.baseAddress! + y * w * c, count: w * c)
                    }
                }
                left += columnWidths[j] + padding
            }
            top += rowHeights[i] + padding
        }
    }
    return canvas
}
