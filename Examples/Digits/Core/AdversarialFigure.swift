import DeepLearning

/// The picture `digits adversarial` writes: one column per digit 0…9 (its first test image);
/// rows: the clean image, its FGSM version at each of `epsilons`, and the saliency map of the
/// clean image. Digits are drawn as ink (1) black on white paper (0); a frame is green when the
/// classifier names the digit right and red when not. Saliency runs from black (0) through red
/// and yellow to white (the image's largest value), in a gray frame.
///
/// - Returns: `[height, width, 3]`, values 0…255, for `saveImage(_:to:)`.
/// - Throws: as `saliencyMaps(of:images:labels:)`.
public func adversarialFigure(model: DigitsNet, test: DigitsDataset, epsilons: [Float]) throws -> Tensor {
    model.setTraining(false)
    let chosen = test.subset((0...9).compactMap { test.labels.firstIndex(of: $0) })
    let signs = try lossGradientSigns(of: model, images: chosen.images, labels: chosen.labels)
    let attacked = [chosen.images] + epsilons.map { fastGradientSignImages(chosen.images, signs: signs, epsilon: $0) }
    let saliency = try saliencyMaps(of: model, images: chosen.images, labels: chosen.labels)
    var canvas = TileCanvas(side: chosen.images.shape[1], rows: attacked.count + 1, columns: chosen.count)
    for (row, images) in attacked.enumerated() {
        let predicted = withoutGradient { model(images) }.argmax()
        for (column, values) in tiles(of: images).enumerated() {
            let right = predicted[column] == chosen.labels[column]
            canvas.draw(row: row, column: column, values: values, frame: right ? (40, 160, 60) : (210, 40, 40)) {
                let paper = 255 * (1 - $0)
                return (paper, paper, paper)
            }
        }
    }
    for (column, values) in tiles(of: saliency).enumerated() {
        let largest = Swift.max(values.max() ?? 0, .leastNormalMagnitude)
        canvas.draw(row: attacked.count, column: column, values: values.map { $0 / largest }, frame: (150, 150, 150)) {
            let heat = 3 * $0
            return (255 * Swift.min(heat, 1), 255 * Swift.min(Swift.max(heat - 1, 0), 1), 255 * Swift.max(heat - 2, 0))
        }
    }
    return canvas.image
}

/// Each image of `[N, side, side, 1]` as its `side·side` values.
private func tiles(of images: Tensor) -> [[Float]] {
    let scalars = images.scalars, size = images.count / images.shape[0]
    return (0..<images.shape[0]).map { Array(scalars[($0 * size)..<(($0 + 1) * size)]) }
}

/// A white grid of framed, enlarged square images.
private struct TileCanvas {
    typealias Colour = (Float, Float, Float)
    static let scale = 10, frame = 3, gap = 6
    let side: Int, tile: Int, width: Int, height: Int
    var pixels: [Float]

    init(side: Int, rows: Int, columns: Int) {
        self.side = side
        tile = side * Self.scale + 2 * Self.frame
        (width, height) = (columns * (tile + Self.gap) + Self.gap, rows * (tile + Self.gap) + Self.gap)
        pixels = [Float](repeating: 255, count: width * height * 3)
    }

    /// Draws `values` (`side·side`, row-major) at the grid cell, each as a `scale`² block of
    /// `colour(value)`, inside a frame of `frame`.
    mutating func draw(row: Int, column: Int, values: [Float], frame: Colour, colour: (Float) -> Colour) {
        let top = Self.gap + row * (tile + Self.gap), left = Self.gap + column * (tile + Self.gap)
        for y in 0..<tile {
            for x in 0..<tile {
                let (inner, innerX, innerY) = (tile - 2 * Self.frame, x - Self.frame, y - Self.frame)
                let inside = (0..<inner).contains(innerX) && (0..<inner).contains(innerY)
                let value = inside ? values[(innerY / Self.scale) * side + innerX / Self.scale] : 0
                let (r, g, b) = inside ? colour(value) : frame
                let offset = ((top + y) * width + left + x) * 3
                (pixels[offset], pixels[offset + 1], pixels[offset + 2]) = (r, g, b)
            }
        }
    }

    var image: Tensor { Tensor(shape: [height, width, 3], scalars: pixels) }
}
