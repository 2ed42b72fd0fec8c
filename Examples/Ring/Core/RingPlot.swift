import DeepLearning
import Foundation

/// One panel of `ringPlot`: a run's generated points next to real ones.
public struct RingPanel {
    /// `[N, 2]` points of the ring, drawn gray.
    public let real: Tensor
    /// `[M, 2]` points of the generator, drawn orange over the real ones.
    public let generated: Tensor
    /// Which modes the generated points cover: each centre gets a green circle if covered, red if not.
    public let coverage: ModeCoverage

    /// Creates a panel.
    public init(real: Tensor, generated: Tensor, coverage: ModeCoverage) {
        (self.real, self.generated, self.coverage) = (real, generated, coverage)
    }
}

/// Scatter plots of `panels` side by side, each `side`² pixels showing x and y in
/// ±1.4·radius of `ring`; points outside are left out.
///
/// - Returns: `[side + 16, panels·(side + 8) + 8, 3]`, values 0…255, for `saveImage(_:to:)`.
public func ringPlot(_ panels: [RingPanel], ring: RingOfGaussians, side: Int = 360) -> Tensor {
    let margin = 8, width = panels.count * (side + margin) + margin, height = side + 2 * margin
    var canvas = [Float](repeating: 255, count: width * height * 3)
    func paint(_ x: Int, _ y: Int, _ colour: (Float, Float, Float)) {
        guard (0..<width).contains(x), (0..<height).contains(y) else { return }
        let offset = (y * width + x) * 3
        (canvas[offset], canvas[offset + 1], canvas[offset + 2]) = colour
    }
    let extent = 1.4 * ring.radius, scale = Float(side) / (2 * extent)
    for (index, panel) in panels.enumerated() {
        let left = margin + index * (side + margin)
        /// The pixel of plot coordinates (x, y), y upwards; nil outside the panel.
        func pixel(_ x: Float, _ y: Float) -> (Int, Int)? {
            let (column, row) = (Int(((x + extent) * scale).rounded(.down)), Int(((extent - y) * scale).rounded(.down)))
            return (0..<side).contains(column) && (0..<side).contains(row) ? (left + column, margin + row) : nil
        }
        for offset in 0..<side {  // frame and axes
            for (x, y) in [(left + offset, margin), (left + offset, margin + side - 1), (left, margin + offset)] {
                paint(x, y, (120, 120, 120))
            }
            paint(left + side - 1, margin + offset, (120, 120, 120))
            paint(left + offset, margin + side / 2, (225, 225, 225))
            paint(left + side / 2, margin + offset, (225, 225, 225))
        }
        for (points, colour) in [
            (panel.real, (150, 150, 150) as (Float, Float, Float)), (panel.generated, (235, 110, 20)),
        ] {
            let scalars = points.scalars
            for point in 0..<points.shape[0] {
                guard let (x, y) = pixel(scalars[2 * point], scalars[2 * point + 1]) else { continue }
                for dy in -1...1 { for dx in -1...1 { paint(x + dx, y + dy, colour) } }
            }
        }
        for (mode, centre) in ring.centres.enumerated() {
            guard let (x, y) = pixel(centre.x, centre.y) else { continue }
            let colour: (Float, Float, Float) =
                panel.coverage.shares[mode] >= panel.coverage.threshold ? (30, 150, 50) : (210, 30, 30)
            for step in 0..<96 {  // a circle of 12 pixels' radius
                let angle = Float(step) * 2 * .pi / 96
                paint(x + Int((12 * cos(angle)).rounded()), y + Int((12 * sin(angle)).rounded()), colour)
            }
        }
    }
    return Tensor(shape: [height, width, 3], scalars: canvas)
}
