import DeepLearning
import Foundation
import RingCore
import XCTest

/// The ring example: its coverage measure, the gradient penalty's effect on the critic, the
/// command's files, and its determinism.
final class RingTests: XCTestCase {
    /// A tiny recipe that runs in about a second in a debug build.
    let tiny = WGANRecipe(steps: 30, batchSize: 64, learningRate: 1e-3, width: 32, seed: 2)

    func testAModeIsCoveredByAQuarterOfItsFairShareWithinThreeSigma() {
        let ring = RingOfGaussians()
        var random = SeededGenerator(seed: 1)
        let real = ring.coverage(of: ring.sample(2_000, generator: &random))
        XCTAssertEqual(real.covered, 8)
        XCTAssertGreaterThan(real.nearAnyMode, 0.97, "P(r ≤ 3σ) of a 2-D Gaussian is 98.9 %")
        func points(_ groups: [(count: Int, x: Float, y: Float)]) -> Tensor {
            let scalars = groups.flatMap { group in (0..<group.count).flatMap { _ in [group.x, group.y] } }
            return Tensor(shape: [scalars.count / 2, 2], scalars: scalars)
        }
        let centres = ring.centres
        // 3 % is under the 1/32 threshold; 0.05 from a centre is within 3σ = 0.06, 0.07 is not.
        let lopsided = ring.coverage(
            of: points([(94, centres[0].x + 0.05, centres[0].y), (3, centres[2].x, centres[2].y), (3, 0, 0)]))
        XCTAssertEqual(lopsided.covered, 1)
        XCTAssertEqual(lopsided.shares[0], 0.94, accuracy: 1e-6)
        XCTAssertEqual(lopsided.nearAnyMode, 0.97, accuracy: 1e-6)
        XCTAssertEqual(ring.coverage(of: points([(10, centres[4].x, centres[4].y + 0.07)])).covered, 0)
    }

    /// From the same weights and data, the penalised critic's slope between the distributions
    /// moves towards 1; without any constraint it grows without bound, and with clipped weights
    /// it stays near 0. (If the penalty did not reach the critic's weights — a gradient that is
    /// not recorded — the first run would behave like the second.)
    func testTheGradientPenaltyHoldsTheCriticsSlopeNearOne() throws {
        let penalised = try trainRing(recipe: tiny, constraint: .gradientPenalty).report
        let unconstrained = try trainRing(recipe: tiny, constraint: .none).report
        let clipped = try trainRing(recipe: tiny, constraint: .weightClipping).report
        XCTAssertEqual(penalised.initialGradientNormDeviation, unconstrained.initialGradientNormDeviation)
        XCTAssertLessThan(penalised.gradientNormDeviation, 0.5 * penalised.initialGradientNormDeviation)
        XCTAssertEqual(penalised.gradientNorm, 1, accuracy: 0.5)
        XCTAssertGreaterThan(unconstrained.gradientNorm, 3, "\(unconstrained)")
        XCTAssertLessThan(clipped.gradientNorm, 0.05, "\(clipped)")
        for report in [penalised, unconstrained, clipped] {
            XCTAssertTrue(report.wassersteinEstimate.isFinite && report.gradientNormDeviation.isFinite)
        }
    }

    func testTrainingIsDeterministicForASeed() throws {
        let recipe = WGANRecipe(steps: 3, batchSize: 32, width: 16, seed: 4)
        let first = try trainRing(recipe: recipe, constraint: .gradientPenalty).trainer.sample(16)
        let second = try trainRing(recipe: recipe, constraint: .gradientPenalty).trainer.sample(16)
        XCTAssertEqual(first.scalars, second.scalars)
    }

    func testTheCommandWritesThePlotAndAReportOfBothRuns() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ring-\(UUID())")
        defer { try? FileManager.default.removeItem(at: folder) }
        var command = try RingCommand.parseAsRoot([
            "train", "--steps", "10", "--batch-size", "32", "--width", "16", "--baselines", "none", "weightClipping",
            "--out",
            folder.path,
        ])
        try command.run()
        let report = try JSONDecoder().decode(
            RingReport.self, from: Data(contentsOf: folder.appendingPathComponent("report.json")))
        XCTAssertEqual(report.runs.map(\.constraint), [.gradientPenalty, .none, .weightClipping])
        XCTAssertEqual(report.recipe.steps, 10)
        for run in report.runs {
            XCTAssertEqual(run.coverage.shares.count, 8)
            XCTAssertTrue((0...8).contains(run.coverage.covered))
            XCTAssertTrue(run.gradientNorm.isFinite && run.wassersteinEstimate.isFinite && run.seconds > 0)
        }
        let png = try Data(contentsOf: folder.appendingPathComponent("ring.png"))
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        // IHDR: width and height, big-endian, at bytes 16 and 20: three 360-pixel panels and margins.
        let size = [16, 20].map { start in png[start..<(start + 4)].reduce(0) { $0 << 8 | Int($1) } }
        XCTAssertEqual(size, [3 * 368 + 8, 376])
        XCTAssertThrowsError(try RingCommand.parseAsRoot(["train", "--baselines", "gradientPenalty"]))
    }
}
