// WGAN-GP (Gulrajani et al. 2017, Algorithm 1) on a 2-D toy. Per generator step:
//   n_critic times:  L_D = E D(x̃_fake) − E D(x_real) + λ·E(‖∇D(x̂)‖ − 1)²,  x̂ = t·x_real + (1 − t)·x_fake
//   once:            L_G = −E D(G(z))
// The penalty differentiates the critic's input gradient with respect to its weights: the
// gradient is taken with `createGraph` (inside `gradientSquaredNorms`) and so is part of the graph
// that `backward()` walks.
import DeepLearning

/// How the critic is held to (about) 1-Lipschitz, which the Wasserstein loss assumes.
public enum LipschitzConstraint: String, Codable, CaseIterable, Sendable {
    /// λ·E(‖∇D(x̂)‖ − 1)² at random interpolates x̂ of real and generated points (WGAN-GP).
    case gradientPenalty
    /// Every critic weight and bias clamped to [−c, c] after each critic update (Arjovsky et al.'s WGAN).
    case weightClipping
    /// Nothing: the Wasserstein loss alone, whose critic is unbounded.
    case none
}

/// The settings of a toy WGAN run; the defaults are Gulrajani et al.'s for the toys, but a
/// 128-wide network.
public struct WGANRecipe: Codable, Equatable, Sendable {
    /// Generator updates (default 4,000).
    public var steps = 4_000
    /// Real and generated points per critic and generator update (default 256).
    public var batchSize = 256
    /// Critic updates per generator update, n_critic (default 5).
    public var criticIterations = 5
    /// Adam's learning rate for both networks (default 1e-4, β = (0.5, 0.9)).
    public var learningRate: Float = 1e-4
    /// λ of the gradient penalty (default 10).
    public var penaltyWeight: Float = 10
    /// c of weight clipping (default 0.01).
    public var clipValue: Float = 0.01
    /// The generator's noise dimension; noise is N(0, 1) (default 2).
    public var noiseDimension = 2
    /// Units per hidden layer of both networks (default 128).
    public var width = 128
    /// Seeds the weights (the same for every constraint), the data and the noise (default 0).
    public var seed: UInt64 = 0

    /// Creates a recipe; see each property for its default.
    public init(
        steps: Int = 4_000, batchSize: Int = 256, criticIterations: Int = 5, learningRate: Float = 1e-4,
        penaltyWeight: Float = 10, clipValue: Float = 0.01, noiseDimension: Int = 2, width: Int = 128, seed: UInt64 = 0
    ) {
        (self.steps, self.batchSize, self.criticIterations, self.learningRate) =
            (steps, batchSize, criticIterations, learningRate)
        (self.penaltyWeight, self.clipValue, self.noiseDimension, self.width, self.seed) =
            (penaltyWeight, clipValue, noiseDimension, width, seed)
    }
}

/// What the last critic update of a generator step measured.
public struct CriticStatistics: Equatable, Sendable {
    /// E D(real) − E D(generated): the critic's estimate of the Wasserstein distance.
    public let wassersteinEstimate: Float
    /// E(‖∇D(x̂)‖ − 1)² at the step's interpolates (measured under every constraint, trained on
    /// only with `.gradientPenalty`).
    public let gradientNormDeviation: Float
}

/// Trains a generator against a critic on a `RingOfGaussians` with the Wasserstein loss.
public final class WGANTrainer {
    /// Noise `[N, noiseDimension]` → points `[N, 2]`.
    public let generator: ToyPerceptron
    /// Points `[N, 2]` → scores `[N, 1]`.
    public let critic: ToyPerceptron
    /// The data.
    public let ring: RingOfGaussians
    /// The settings.
    public let recipe: WGANRecipe
    /// How the critic is kept Lipschitz.
    public let constraint: LipschitzConstraint
    private let generatorOptimizer: Adam
    private let criticOptimizer: Adam
    private var random: SeededGenerator

    /// Creates both networks from `recipe.seed`, so runs that differ only in `constraint` start
    /// from the same weights and see the same data and noise.
    public init(ring: RingOfGaussians = RingOfGaussians(), recipe: WGANRecipe, constraint: LipschitzConstraint) {
        (self.ring, self.recipe, self.constraint) = (ring, recipe, constraint)
        RandomState.seed(recipe.seed)
        generator = ToyPerceptron(inputs: recipe.noiseDimension, width: recipe.width, outputs: 2)
        critic = ToyPerceptron(inputs: 2, width: recipe.width, outputs: 1)
        generatorOptimizer = Adam(for: generator, learningRate: recipe.learningRate, beta1: 0.5, beta2: 0.9)
        criticOptimizer = Adam(for: critic, learningRate: recipe.learningRate, beta1: 0.5, beta2: 0.9)
        random = SeededGenerator(seed: recipe.seed &+ 1)
    }

    /// One generator update after `criticIterations` critic updates.
    ///
    /// - Throws: `GradientError` if the critic ignores its input (it cannot, being a perceptron).
    public func step() throws -> CriticStatistics {
        var statistics: CriticStatistics?
        for iteration in 1...recipe.criticIterations {
            statistics = try criticStep(measuring: iteration == recipe.criticIterations)
        }
        // Generator: raise the critic's score of generated points, through the frozen critic.
        for parameter in critic.parameters { parameter.requiresGradient = false }
        defer { for parameter in critic.parameters { parameter.requiresGradient = true } }
        let loss = -critic(generator(noise(recipe.batchSize))).mean()
        loss.backward()
        generatorOptimizer.update()
        return statistics!
    }

    /// `[count, 2]` generated points.
    public func sample(_ count: Int) -> Tensor {
        let noise = noise(count)
        return withoutGradient { generator(noise) }
    }

    /// `[count, 2]` real points, from the trainer's stream.
    public func real(_ count: Int) -> Tensor { ring.sample(count, generator: &random) }

    /// The critic's slope between the two distributions, at `count` fresh interpolates of real
    /// and generated points: the mean of ‖∇D(x̂)‖, and E(‖∇D(x̂)‖ − 1)², which is 0 for a critic
    /// whose slope is 1 everywhere there, as an optimal critic's is.
    public func slope(count: Int) throws -> (meanNorm: Float, deviation: Float) {
        let (real, generated) = (real(count), sample(count))
        let norms = try gradientNorms(real: real, generated: generated, mixing: mixing(count))
        return (norms.mean().scalar, (norms - 1).squared().mean().scalar)
    }

    /// One critic update; `measuring` also returns its statistics (the penalty is computed then
    /// even when the constraint does not train on it).
    private func criticStep(measuring: Bool) throws -> CriticStatistics? {
        let real = real(recipe.batchSize), generated = sample(recipe.batchSize)
        // Drawn under every constraint, so runs that differ in it see the same random streams.
        let mixing = mixing(recipe.batchSize)
        let estimate = critic(real).mean() - critic(generated).mean()
        let penalty =
            constraint == .gradientPenalty || measuring
            ? try (gradientNorms(real: real, generated: generated, mixing: mixing) - 1).squared().mean() : nil
        let loss = constraint == .gradientPenalty ? penalty! * recipe.penaltyWeight - estimate : -estimate
        loss.backward()
        criticOptimizer.update()
        if constraint == .weightClipping {
            let c = recipe.clipValue
            for parameter in critic.parameters {
                parameter.update { values in
                    for index in values.indices { values[index] = Swift.min(Swift.max(values[index], -c), c) }
                }
            }
        }
        return penalty.map { CriticStatistics(wassersteinEstimate: estimate.scalar, gradientNormDeviation: $0.scalar) }
    }

    /// ‖∇D(x̂)‖ at x̂ = t·real + (1 − t)·generated with t = `mixing` (`[N, 1]`), one per point
    /// (`[N]`); recorded, so a penalty on it reaches the critic's weights.
    private func gradientNorms(real: Tensor, generated: Tensor, mixing t: Tensor) throws -> Tensor {
        let interpolates = real * t + generated * (1 - t)
        let squaredNorms = try gradientSquaredNorms(at: [interpolates]) { critic($0[0]) }
        // The ε keeps the square root's slope finite where a gradient vanishes (clipped critics).
        return (squaredNorms + 1e-12).sqrt()
    }

    /// `[count, 1]` interpolation weights t ~ U(0, 1).
    private func mixing(_ count: Int) -> Tensor { Tensor.randomUniform([count, 1], generator: &random) }

    private func noise(_ count: Int) -> Tensor {
        Tensor.randomNormal([count, recipe.noiseDimension], generator: &random)
    }
}
