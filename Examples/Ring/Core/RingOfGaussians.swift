import DeepLearning
import Foundation

/// The toy distribution of Gulrajani et al. (2017, §5.1) and Metz et al. (2017): a mixture of
/// `modes` equally likely isotropic Gaussians whose centres sit evenly on a circle.
public struct RingOfGaussians: Codable, Equatable, Sendable {
    /// The number of Gaussians (default 8).
    public var modes = 8
    /// The circle's radius (default 2).
    public var radius: Float = 2
    /// Each Gaussian's standard deviation σ per coordinate (default 0.02).
    public var standardDeviation: Float = 0.02

    /// Creates the ring; the defaults are the papers' 8 Gaussians of σ 0.02 on a circle of radius 2.
    public init(modes: Int = 8, radius: Float = 2, standardDeviation: Float = 0.02) {
        precondition(modes > 0 && radius > 0 && standardDeviation > 0, "RingOfGaussians: all three must be positive")
        (self.modes, self.radius, self.standardDeviation) = (modes, radius, standardDeviation)
    }

    /// The centres (x, y), the first on the positive x axis, then counter-clockwise.
    public var centres: [(x: Float, y: Float)] {
        (0..<modes).map { mode in
            let angle = 2 * Float.pi * Float(mode) / Float(modes)
            return (radius * cos(angle), radius * sin(angle))
        }
    }

    /// `[count, 2]` points drawn from the mixture.
    public func sample(_ count: Int, generator: inout SeededGenerator) -> Tensor {
        let centres = self.centres
        var points = [Float](repeating: 0, count: 2 * count)
        for point in 0..<count {
            let centre = centres[Int(generator.next() % UInt64(modes))]
            points[2 * point] = centre.x + standardDeviation * generator.nextNormal()
            points[2 * point + 1] = centre.y + standardDeviation * generator.nextNormal()
        }
        return Tensor(shape: [count, 2], scalars: points)
    }

    /// How `points` (`[N, 2]`) spread over the modes: a point belongs to a mode when it lies
    /// within 3σ of the mode's centre, and a mode is covered when at least `coveredShare` of all
    /// points (default 1/(4·modes): a quarter of a fair share, 3.125 % of 8 modes) belong to it.
    public func coverage(of points: Tensor, coveredShare: Float? = nil) -> ModeCoverage {
        precondition(points.rank == 2 && points.shape[1] == 2, "coverage: points must be [N, 2]")
        let centres = self.centres, scalars = points.scalars, count = points.shape[0]
        let reach = 3 * standardDeviation
        var members = [Int](repeating: 0, count: modes)
        for point in 0..<count {
            let (x, y) = (scalars[2 * point], scalars[2 * point + 1])
            // Modes are more than 6σ apart for the defaults, so a point is within 3σ of at most one.
            if let mode = centres.indices.first(where: {
                let (dx, dy) = (x - centres[$0].x, y - centres[$0].y)
                return dx * dx + dy * dy <= reach * reach
            }) {
                members[mode] += 1
            }
        }
        let shares = members.map { Float($0) / Float(Swift.max(count, 1)) }
        let threshold = coveredShare ?? 1 / Float(4 * modes)
        return ModeCoverage(
            shares: shares, covered: shares.filter { $0 >= threshold }.count, threshold: threshold,
            nearAnyMode: shares.reduce(0, +))
    }
}

/// Which modes of a `RingOfGaussians` a set of points covers.
public struct ModeCoverage: Codable, Equatable, Sendable {
    /// For each mode, the fraction of all points within 3σ of its centre.
    public let shares: [Float]
    /// The number of modes whose share is at least `threshold`.
    public let covered: Int
    /// The share a mode needs to count as covered.
    public let threshold: Float
    /// The fraction of points within 3σ of some centre (Metz et al.'s "high-quality samples").
    public let nearAnyMode: Float
}
