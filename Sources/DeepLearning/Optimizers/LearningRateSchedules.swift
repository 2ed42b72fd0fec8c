import Foundation

// Learning-rate schedules: the rate as a pure function of the step (or epoch — the caller's
// unit), set on the optimizer before each update:
//
//     optimizer.learningRate = schedule.learningRate(at: epoch)

/// A learning rate as a function of the step or epoch count (0-based).
public protocol LearningRateSchedule: Sendable {
    /// The rate for step (or epoch) `step`, counted from 0.
    func learningRate(at step: Int) -> Float
}

/// `base · γ^⌊step / stepSize⌋` (PyTorch's `StepLR`).
public struct StepDecay: LearningRateSchedule, Equatable {
    /// The initial rate.
    public var base: Float
    /// Steps between two decays.
    public var stepSize: Int
    /// The factor per decay (PyTorch's default 0.1).
    public var gamma: Float
    /// Creates the schedule.
    public init(base: Float, stepSize: Int, gamma: Float = 0.1) {
        precondition(stepSize > 0, "StepDecay: stepSize \(stepSize) must be positive")
        (self.base, self.stepSize, self.gamma) = (base, stepSize, gamma)
    }
    public func learningRate(at step: Int) -> Float { base * Foundation.pow(gamma, Float(step / stepSize)) }
}

/// `base · γ^step` (PyTorch's `ExponentialLR`).
public struct ExponentialDecay: LearningRateSchedule, Equatable {
    /// The initial rate.
    public var base: Float
    /// The factor per step.
    public var gamma: Float
    /// Creates the schedule.
    public init(base: Float, gamma: Float) { (self.base, self.gamma) = (base, gamma) }
    public func learningRate(at step: Int) -> Float { base * Foundation.pow(gamma, Float(step)) }
}

/// A linear warm-up from `base · warmupStartFactor` to `base` over `warmupSteps`, then cosine
/// annealing to `minimum` at `totalSteps` (and `minimum` after): PyTorch's `LinearLR` followed by
/// `CosineAnnealingLR(T_max = totalSteps − warmupSteps, eta_min = minimum)` in a `SequentialLR`.
public struct CosineDecay: LearningRateSchedule, Equatable {
    /// The rate after warm-up.
    public var base: Float
    /// The step at which the rate reaches `minimum`.
    public var totalSteps: Int
    /// Steps of linear warm-up (default 0).
    public var warmupSteps: Int
    /// The factor of `base` the warm-up starts from (PyTorch's `LinearLR` default 1/3).
    public var warmupStartFactor: Float
    /// The final rate (default 0).
    public var minimum: Float
    /// Creates the schedule.
    public init(
        base: Float, totalSteps: Int, warmupSteps: Int = 0, warmupStartFactor: Float = 1.0 / 3,
        minimum: Float = 0
    ) {
        precondition(
            totalSteps > warmupSteps && warmupSteps >= 0,
            "CosineDecay: totalSteps \(totalSteps) must exceed warmupSteps \(warmupSteps) ≥ 0")
        (self.base, self.totalSteps, self.warmupSteps) = (base, totalSteps, warmupSteps)
        (self.warmupStartFactor, self.minimum) = (warmupStartFactor, minimum)
    }
    public func learningRate(at step: Int) -> Float {
        if step < warmupSteps {
            let fraction = Float(step) / Float(warmupSteps)
            return base * (warmupStartFactor + (1 - warmupStartFactor) * fraction)
        }
        let progress = Float(Swift.min(step, totalSteps) - warmupSteps) / Float(totalSteps - warmupSteps)
        return minimum + (base - minimum) * 0.5 * (1 + Foundation.cos(Float.pi * progress))
    }
}

/// `base` for `constantSteps` steps, then a linear decay reaching zero one step after
/// `constantSteps + decaySteps`: `base · (1 − max(0, step + 1 − constantSteps) / (decaySteps + 1))`,
/// the pix2pix/CycleGAN schedule (junyanz's `lambda_rule` with `n_epochs`, `n_epochs_decay`).
/// With `decaySteps` 0 the rate stays `base`.
public struct LinearDecay: LearningRateSchedule, Equatable, Codable {
    /// The initial rate.
    public var base: Float
    /// Steps at the full rate.
    public var constantSteps: Int
    /// Steps of decay after them.
    public var decaySteps: Int
    /// Creates the schedule.
    public init(base: Float, constantSteps: Int, decaySteps: Int) {
        precondition(constantSteps >= 0 && decaySteps >= 0, "LinearDecay: steps must not be negative")
        (self.base, self.constantSteps, self.decaySteps) = (base, constantSteps, decaySteps)
    }
    public func learningRate(at step: Int) -> Float {
        guard decaySteps > 0 else { return base }
        return base * (1 - Float(Swift.max(0, step + 1 - constantSteps)) / Float(decaySteps + 1))
    }
}
