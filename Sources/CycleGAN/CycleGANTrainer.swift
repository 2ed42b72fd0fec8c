import DeepLearning
import Pix2Pix

/// Trains CycleGAN (Zhu et al. 2017) as junyanz's `cycle_gan_model.py` does, on unpaired batches
/// of domain A and domain B.
///
/// One `step(a:b:)`:
/// 1. fake B = G_A(A), rec A = G_B(fake B), fake A = G_B(B), rec B = G_A(fake A);
/// 2. the generators, through frozen discriminators, on
///    LSGAN(D_A(fake B), 1) + LSGAN(D_B(fake A), 1) + λ_A·|rec A − A| + λ_B·|rec B − B|
///    + λ_idt·(λ_B·|G_A(B) − B| + λ_A·|G_B(A) − A|), one Adam over both (the three parts — each
///    cycle with its adversarial term, and the identity terms — differentiated one after the
///    other, so only one part's activations are held at a time);
/// 3. the discriminators, D_A on real B against a fake B from its image pool and D_B on real A
///    against a pooled fake A, each ½·(LSGAN(real, 1) + LSGAN(fake, 0)), one Adam over both.
///
/// ```swift
/// let trainer = CycleGANTrainer(generatorA: ResNetGenerator(…), generatorB: ResNetGenerator(…),
///                               discriminatorA: PatchDiscriminator(…), discriminatorB: PatchDiscriminator(…))
/// let losses = try trainer.step(a: satellite, b: map)
/// ```
public final class CycleGANTrainer {
    /// junyanz's defaults.
    public struct Options: Codable, Equatable, Sendable {
        /// Weight of the A → B → A cycle (λ_A, 10).
        public var lambdaA: Float = 10
        /// Weight of the B → A → B cycle (λ_B, 10).
        public var lambdaB: Float = 10
        /// Weight of the identity terms relative to the cycle weights (λ_idt, 0.5); 0 turns them off.
        public var identity: Float = 0.5
        /// Images in each pool (50).
        public var poolSize: Int = 50
        /// Adam's rate (2e-4) and β₁ (0.5), β₂ 0.999.
        public var learningRate: Float = 2e-4
        public var beta1: Float = 0.5
        public var beta2: Float = 0.999
        /// Epochs at the full learning rate (junyanz's `n_epochs`, 100).
        public var constantEpochs = 100
        /// Epochs of linear decay to zero after them (`n_epochs_decay`, 100); 0 keeps the rate
        /// constant.
        public var decayEpochs = 100

        /// junyanz's defaults with any field overridden.
        public init(
            lambdaA: Float = 10, lambdaB: Float = 10, identity: Float = 0.5, poolSize: Int = 50,
            learningRate: Float = 2e-4, beta1: Float = 0.5, beta2: Float = 0.999, constantEpochs: Int = 100,
            decayEpochs: Int = 100
        ) {
            (self.lambdaA, self.lambdaB, self.identity, self.poolSize) = (lambdaA, lambdaB, identity, poolSize)
            (self.learningRate, self.beta1, self.beta2) = (learningRate, beta1, beta2)
            (self.constantEpochs, self.decayEpochs) = (constantEpochs, decayEpochs)
        }

        /// The learning rate of `epoch` (0-based): junyanz's `lambda_rule` (`LinearDecay` over epochs).
        public func learningRate(epoch: Int) -> Float {
            LinearDecay(base: learningRate, constantSteps: constantEpochs, decaySteps: decayEpochs)
                .learningRate(at: epoch)
        }
    }

    /// Every loss term of one step, as junyanz logs them (`D_A, G_A, cycle_A, idt_A, …`).
    public struct Losses: Codable, Equatable, Sendable {
        public var discriminatorA: Float, generatorA: Float, cycleA: Float, identityA: Float
        public var discriminatorB: Float, generatorB: Float, cycleB: Float, identityB: Float
    }

    /// G_A: A → B and G_B: B → A.
    public let generatorA: Layer, generatorB: Layer
    /// D_A judges domain B (G_A's outputs), D_B domain A.
    public let discriminatorA: PatchDiscriminator, discriminatorB: PatchDiscriminator
    /// The hyper-parameters.
    public let options: Options
    /// One Adam over both generators, one over both discriminators.
    public let generatorOptimizer: Adam, discriminatorOptimizer: Adam
    /// The pools of generated A and B images the discriminators see.
    public var poolA: ImagePool, poolB: ImagePool
    /// Steps completed.
    public private(set) var completedSteps = 0
    /// The current epoch (0-based); setting it applies the learning-rate schedule to both
    /// optimizers, as junyanz's `update_learning_rate` at the end of each epoch.
    public var epoch = 0 {
        didSet {
            let rate = options.learningRate(epoch: epoch)
            (generatorOptimizer.learningRate, discriminatorOptimizer.learningRate) = (rate, rate)
        }
    }
    /// The learning rate in force for the current epoch.
    public var learningRate: Float { generatorOptimizer.learningRate }

    /// A trainer with fresh optimizers and empty pools; the pools' streams are drawn from the
    /// default random stream.
    public init(
        generatorA: Layer, generatorB: Layer, discriminatorA: PatchDiscriminator, discriminatorB: PatchDiscriminator,
        options: Options = Options()
    ) {
        (self.generatorA, self.generatorB) = (generatorA, generatorB)
        (self.discriminatorA, self.discriminatorB) = (discriminatorA, discriminatorB)
        self.options = options
        generatorOptimizer = Adam(
            groups: [ParameterGroup(generatorA), ParameterGroup(generatorB)], learningRate: options.learningRate,
            beta1: options.beta1, beta2: options.beta2)
        discriminatorOptimizer = Adam(
            groups: [ParameterGroup(discriminatorA), ParameterGroup(discriminatorB)],
            learningRate: options.learningRate, beta1: options.beta1, beta2: options.beta2)
        let seeds = RandomState.withGenerator { ($0.next(), $0.next()) }
        poolA = ImagePool(capacity: options.poolSize, generator: SeededGenerator(seed: seeds.0))
        poolB = ImagePool(capacity: options.poolSize, generator: SeededGenerator(seed: seeds.1))
    }

    /// One iteration on a batch of A images and a batch of B images (`[N, H, W, C]` in [-1, 1]).
    ///
    /// - Throws: `CycleGANDiverged` naming the loss term that is NaN or infinite, before the
    ///   update it would corrupt; `CycleGANOptionError` when the identity loss is on and the
    ///   domains' channel counts differ.
    @discardableResult
    public func step(a realA: Tensor, b realB: Tensor) throws -> Losses {
        if options.identity > 0 && realA.shape.last != realB.shape.last {
            throw CycleGANOptionError(
                "the identity loss (identity \(options.identity)) needs equal channel counts, but A has \(realA.shape.last ?? 0) and B \(realB.shape.last ?? 0); set identity to 0"
            )
        }
        for module: Module in [generatorA, generatorB, discriminatorA, discriminatorB] { module.setTraining(true) }

        // The generators, through discriminators that do not learn from this loss. The objective
        // is a sum of three parts whose graphs share only parameters — the A → B → A cycle with
        // D_A's verdict on fake B, the B → A → B cycle with D_B's on fake A, and the identity
        // terms — so each part is differentiated as soon as it is built and its graph freed; the
        // gradients accumulate. The step then holds one part's activations at a time instead of
        // all six generator passes' (junyanz's one backward of the sum gives the same gradients,
        // summed in another order).
        let discriminators = discriminatorA.parameters + discriminatorB.parameters
        for parameter in discriminators { parameter.requiresGradient = false }
        defer { for parameter in discriminators { parameter.requiresGradient = true } }
        let generators = generatorA.parameters + generatorB.parameters
        /// Differentiates one part after checking its terms; a NaN leaves no gradient behind.
        func differentiate(_ terms: KeyValuePairs<String, Tensor>) throws {
            do {
                try checkFinite(terms)
            } catch {
                for parameter in generators { parameter.zeroGradient() }
                throw error
            }
            terms.map(\.value).dropFirst().reduce(terms.first!.value, +).backward()
        }
        func cycle(
            _ real: Tensor, _ forward: Layer, _ backward: Layer, judge: PatchDiscriminator, weight: Float
        )
            -> (fake: Tensor, adversarial: Tensor, cycle: Tensor)
        {
            let fake = forward(real)
            return (fake, lsgan(judge(fake), real: true), l1Loss(backward(fake), real) * weight)
        }
        let (fakeB, adversarialA, cycleA): (Tensor, Tensor, Tensor) = try {
            let part = cycle(realA, generatorA, generatorB, judge: discriminatorA, weight: options.lambdaA)
            try differentiate(["G_A": part.adversarial, "cycle_A": part.cycle])
            return (part.fake.detached(), part.adversarial.detached(), part.cycle.detached())
        }()
        let (fakeA, adversarialB, cycleB): (Tensor, Tensor, Tensor) = try {
            let part = cycle(realB, generatorB, generatorA, judge: discriminatorB, weight: options.lambdaB)
            try differentiate(["G_B": part.adversarial, "cycle_B": part.cycle])
            return (part.fake.detached(), part.adversarial.detached(), part.cycle.detached())
        }()
        var identityA = Tensor(0), identityB = Tensor(0)
        if options.identity > 0 {
            let a = l1Loss(generatorA(realB), realB) * (options.lambdaB * options.identity)
            let b = l1Loss(generatorB(realA), realA) * (options.lambdaA * options.identity)
            try differentiate(["idt_A": a, "idt_B": b])
            (identityA, identityB) = (a.detached(), b.detached())
        }
        generatorOptimizer.update()
        for parameter in discriminators { parameter.requiresGradient = true }

        // The discriminators, on pooled fakes.
        let discriminatorLossA = discriminatorLoss(discriminatorA, real: realB, fake: poolB.query(fakeB))
        let discriminatorLossB = discriminatorLoss(discriminatorB, real: realA, fake: poolA.query(fakeA))
        try checkFinite(["D_A": discriminatorLossA, "D_B": discriminatorLossB])
        (discriminatorLossA + discriminatorLossB).backward()
        discriminatorOptimizer.update()

        completedSteps += 1
        return Losses(
            discriminatorA: discriminatorLossA.scalar, generatorA: adversarialA.scalar, cycleA: cycleA.scalar,
            identityA: identityA.scalar, discriminatorB: discriminatorLossB.scalar, generatorB: adversarialB.scalar,
            cycleB: cycleB.scalar, identityB: identityB.scalar)
    }

    /// Sets the step counter and the epoch (a resumed checkpoint's).
    func restore(completedSteps: Int, epoch: Int) {
        self.completedSteps = completedSteps
        self.epoch = epoch
    }

    /// LSGAN: the mean squared distance of the patch logits to 1 (real) or 0 (fake).
    private func lsgan(_ logits: Tensor, real: Bool) -> Tensor {
        meanSquaredError(logits, Tensor(shape: logits.shape, repeating: real ? 1 : 0))
    }

    /// ½·(LSGAN(D(real), 1) + LSGAN(D(fake), 0)), the fake cut off from its generator.
    private func discriminatorLoss(_ discriminator: PatchDiscriminator, real: Tensor, fake: Tensor) -> Tensor {
        (lsgan(discriminator(real), real: true) + lsgan(discriminator(fake.detached()), real: false)) * 0.5
    }

    private func checkFinite(_ losses: KeyValuePairs<String, Tensor>) throws {
        for (name, loss) in losses where !loss.scalar.isFinite {
            throw CycleGANDiverged(step: completedSteps + 1, term: name, value: loss.scalar)
        }
    }
}

/// A loss term of a CycleGAN step was NaN or infinite; the networks it would have updated were
/// not changed.
public struct CycleGANDiverged: Error, CustomStringConvertible {
    /// The 1-based step, the loss term and its value.
    public let step: Int, term: String, value: Float

    public var description: String {
        "CycleGAN training diverged at step \(step): loss \(term) is \(value) (try a lower learning rate)"
    }
}

/// Options a CycleGAN step cannot run with, naming the option.
public struct CycleGANOptionError: Error, CustomStringConvertible {
    /// What is wrong.
    public let description: String
    init(_ description: String) { self.description = description }
}
