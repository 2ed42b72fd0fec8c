import DeepLearning
import Foundation

/// What one trained run measured at its end, on fresh samples.
public struct RingRunReport: Codable, Equatable, Sendable {
    /// How the critic was kept Lipschitz.
    public let constraint: LipschitzConstraint
    /// Where 2,000 generated points fall.
    public let coverage: ModeCoverage
    /// E D(real) − E D(generated) over 1,024 points of each.
    public let wassersteinEstimate: Float
    /// The mean of ‖∇D(x̂)‖ at 1,024 random interpolates x̂ of real and generated points.
    public let gradientNorm: Float
    /// E(‖∇D(x̂)‖ − 1)² at the same interpolates.
    public let gradientNormDeviation: Float
    /// E(‖∇D(x̂)‖ − 1)² at the start, before any update.
    public let initialGradientNormDeviation: Float
    /// Training time, evaluation left out.
    public let seconds: Double
}

/// Everything `ring train` measured, as written to `OUT/report.json`.
public struct RingReport: Codable, Equatable, Sendable {
    /// The data.
    public let ring: RingOfGaussians
    /// The settings, the same for every run.
    public let recipe: WGANRecipe
    /// The gradient-penalty run first, then the baselines.
    public let runs: [RingRunReport]
}

/// Trains a WGAN on `ring` with `recipe` and `constraint` and measures it; `progress` is called
/// every `recipe.steps / 10` steps with (step, the last critic update's statistics).
///
/// - Throws: `GradientError` as `WGANTrainer.step()`; `RingError` when a statistic stops being finite.
public func trainRing(
    ring: RingOfGaussians = RingOfGaussians(), recipe: WGANRecipe, constraint: LipschitzConstraint,
    progress: (Int, CriticStatistics) -> Void = { _, _ in }
) throws -> (trainer: WGANTrainer, report: RingRunReport) {
    let trainer = WGANTrainer(ring: ring, recipe: recipe, constraint: constraint)
    let initialDeviation = try trainer.slope(count: 1_024).deviation
    let started = Date()
    for step in 1...recipe.steps {
        let statistics = try trainer.step()
        guard statistics.wassersteinEstimate.isFinite, statistics.gradientNormDeviation.isFinite else {
            throw RingError("ring: the \(constraint) run diverged at step \(step) (\(statistics))")
        }
        if step % Swift.max(recipe.steps / 10, 1) == 0 || step == recipe.steps { progress(step, statistics) }
    }
    let seconds = Date().timeIntervalSince(started)
    let (real, generated) = (trainer.real(1_024), trainer.sample(1_024))
    let estimate = withoutGradient { trainer.critic(real).mean() - trainer.critic(generated).mean() }
    let slope = try trainer.slope(count: 1_024)
    let report = RingRunReport(
        constraint: constraint, coverage: ring.coverage(of: trainer.sample(2_000)),
        wassersteinEstimate: estimate.scalar,
        gradientNorm: slope.meanNorm, gradientNormDeviation: slope.deviation,
        initialGradientNormDeviation: initialDeviation, seconds: seconds)
    return (trainer, report)
}

/// A failed `ring` run or a bad option: printed as one line by the `ring` command.
public struct RingError: Error, CustomStringConvertible {
    /// The message.
    public let description: String
    /// Creates the error with its message.
    public init(_ description: String) { self.description = description }
}
