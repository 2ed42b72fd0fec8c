import DeepLearning
import Foundation

/// A gradient penalty on the discriminator, applied by `Pix2PixTrainer` every `interval`
/// discriminator steps and then multiplied by `interval` (StyleGAN2's lazy regularisation:
/// the same average strength at a fraction of the cost).
///
/// - `r1`: (γ/2)·E‖∇D(source, real)‖² (Mescheder et al. 2018; StyleGAN2 uses γ = 10 every 16).
/// - `r2`: the same at generated pairs (R3GAN's second term).
/// - `wgangp`: λ·E(‖∇D(x̃)‖ − 1)² at x̃ = α·real + (1 − α)·fake, α ~ U[0, 1) per sample
///   (Gulrajani et al. 2017; junyanz's `cal_gradient_penalty` with type `mixed`, λ = 10, for
///   `--gan-loss wgangp`).
///
/// The gradient is with respect to the discriminator's whole input, the condition and the
/// target (junyanz concatenates them before `cal_gradient_penalty`); the condition is the same
/// in every pair, so for WGAN-GP only the target is interpolated.
///
/// ```swift
/// let options = Pix2PixTrainer.Options(gradientPenalty: .r1(gamma: 10, every: 16))
/// ```
public struct GradientPenalty: Codable, Equatable, Sendable {
    /// Which penalty.
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// At real pairs.
        case r1
        /// At generated pairs.
        case r2
        /// At random interpolates, towards unit gradient norm.
        case wgangp
    }

    /// Which penalty.
    public var kind: Kind
    /// γ of R1/R2 (the penalty is (γ/2)·E‖∇D‖²) or λ of WGAN-GP.
    public var weight: Float
    /// Applied every `interval` discriminator steps (and scaled by it); 1 = every step.
    public var interval: Int

    /// A penalty; `weight` γ or λ (default 10), applied every `interval` steps (default 1).
    public init(_ kind: Kind, weight: Float = 10, every interval: Int = 1) {
        precondition(weight >= 0 && weight.isFinite, "GradientPenalty: weight \(weight) must be finite and ≥ 0")
        precondition(interval >= 1, "GradientPenalty: interval \(interval) must be ≥ 1")
        self.kind = kind
        self.weight = weight
        self.interval = interval
    }

    /// R1 at real pairs, (γ/2)·E‖∇D‖², every `every` steps (StyleGAN2: γ = 10, every 16).
    public static func r1(gamma: Float = 10, every: Int = 16) -> GradientPenalty {
        .init(.r1, weight: gamma, every: every)
    }

    /// A short description for logs: `R1 γ=10 every 16`, `WGAN-GP λ=10`.
    public var summary: String {
        let name = ["r1": "R1 γ", "r2": "R2 γ", "wgangp": "WGAN-GP λ"][kind.rawValue]!
        return "\(name)=\(String(format: "%g", weight))" + (interval == 1 ? "" : " every \(interval)")
    }

    /// Whether the penalty applies at the step after `completedSteps` steps.
    public func applies(afterCompletedSteps completedSteps: Int) -> Bool { completedSteps % interval == 0 }

    /// The penalty (unscaled by the interval) of `discriminator` on a batch, differentiable
    /// with respect to its parameters.
    ///
    /// - Parameters:
    ///   - source: `[N, H, W, C]` conditions.
    ///   - real: `[N, H, W, C]` real targets.
    ///   - fake: `[N, H, W, C]` generated targets (not differentiated through the generator).
    ///   - generator: draws WGAN-GP's interpolation weights (untouched by R1 and R2).
    public func value(
        discriminator: PatchDiscriminator, source: Tensor, real: Tensor, fake: Tensor,
        generator: inout SeededGenerator
    ) throws -> Tensor {
        let target: Tensor
        switch kind {
        case .r1: target = real
        case .r2: target = fake.detached()
        case .wgangp:
            let batch = real.shape[0]
            let alpha = Tensor.randomUniform([batch, 1, 1, 1], generator: &generator)
            target = withoutGradient { real * alpha + fake.detached() * (1 - alpha) }
        }
        let norms = try gradientSquaredNorms(at: [source, target]) { discriminator(source: $0[0], target: $0[1]) }
        switch kind {
        case .r1, .r2: return norms.mean() * (weight / 2)
        case .wgangp: return ((norms + 1e-12).sqrt() - 1).squared().mean() * weight
        }
    }
}
