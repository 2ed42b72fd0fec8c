import DeepLearning
import Foundation

/// Trains a pix2pix generator against a conditional discriminator (Isola et al. 2017).
///
/// One `step(source:target:)` is the paper's (and junyanz's) iteration:
/// 1. `fake = G(source)`;
/// 2. discriminator update on `0.5 · (GAN(D(source, target), real) + GAN(D(source, fake), fake))`;
/// 3. generator update through the frozen discriminator on
///    `GAN(D(source, fake), real) + λ · L1(fake, target)`.
///
/// ```swift
/// RandomState.seed(42)
/// let trainer = Pix2PixTrainer(generator: UNetGenerator(), discriminator: PatchDiscriminator())
/// let losses = try trainer.step(source: satellite, target: map)
/// ```
public final class Pix2PixTrainer {
    /// The adversarial objective.
    public enum GANLoss: String, Codable, Sendable, CaseIterable {
        /// Binary cross-entropy on the patch logits (the paper's, the seed's).
        case vanilla
        /// Least squares (Mao et al.): MSE between patch logits and 1/0.
        case lsgan
        /// Wasserstein (Arjovsky et al.; junyanz's `wgangp`): the critic's raw patch outputs,
        /// −mean for real and +mean for generated pairs; pair it with a `.wgangp` gradient
        /// penalty (Gulrajani et al.), which keeps the critic 1-Lipschitz.
        case wgangp
    }

    /// Training hyper-parameters; defaults are the paper's and the seed's.
    public struct Options: Codable, Equatable, Sendable {
        /// Weight of the L1 term (λ = 100).
        public var l1Weight: Float = 100
        /// Adversarial loss.
        public var ganLoss: GANLoss = .vanilla
        /// Adam learning rate for both networks (2e-4).
        public var learningRate: Float = 2e-4
        /// Adam β₁ (0.5).
        public var beta1: Float = 0.5
        /// Adam β₂ (0.999).
        public var beta2: Float = 0.999
        /// Epochs at the full learning rate (junyanz's `n_epochs`).
        public var constantEpochs: Int = 100
        /// Epochs of linear decay to zero after them (`n_epochs_decay`); 0 keeps it constant.
        public var decayEpochs: Int = 0
        /// A gradient penalty on the discriminator (R1, R2 or WGAN-GP), or nil (the default,
        /// the paper's: none).
        public var gradientPenalty: GradientPenalty?

        /// The paper's settings with an optional override of any field.
        public init(
            l1Weight: Float = 100, ganLoss: GANLoss = .vanilla, learningRate: Float = 2e-4,
            beta1: Float = 0.5, beta2: Float = 0.999, constantEpochs: Int = 100, decayEpochs: Int = 0,
            gradientPenalty: GradientPenalty? = nil
        ) {
            self.gradientPenalty = gradientPenalty
            self.l1Weight = l1Weight
            self.ganLoss = ganLoss
            self.learningRate = learningRate
            self.beta1 = beta1
            self.beta2 = beta2
            self.constantEpochs = constantEpochs
            self.decayEpochs = decayEpochs
        }

        /// junyanz's `lambda_rule`: 1 for the first `constantEpochs` (0-based) epochs, then
        /// `1 − (epoch + 1 − constantEpochs) / (decayEpochs + 1)`.
        public func learningRateFactor(epoch: Int) -> Float {
            LinearDecay(base: 1, constantSteps: constantEpochs, decaySteps: decayEpochs).learningRate(at: epoch)
        }
    }

    /// The four losses of one step, as the paper's code logs them, and the gradient penalty.
    public struct Losses: Codable, Equatable, Sendable {
        /// GAN loss of the discriminator on real pairs.
        public var discriminatorReal: Float
        /// GAN loss of the discriminator on generated pairs.
        public var discriminatorFake: Float
        /// Adversarial loss of the generator.
        public var generatorGAN: Float
        /// Mean absolute error between generated and real targets (unweighted).
        public var generatorL1: Float
        /// The discriminator's gradient penalty (`Options.gradientPenalty`, before the lazy
        /// interval's scaling) when this step applied it, else nil.
        public var discriminatorPenalty: Float? = nil

        /// All four, for checks and logs.
        public var all: [Float] { [discriminatorReal, discriminatorFake, generatorGAN, generatorL1] }
    }

    /// The generator being trained (`UNetGenerator` or any image-to-image `Layer`).
    public let generator: Layer
    /// The conditional discriminator.
    public let discriminator: PatchDiscriminator
    /// The hyper-parameters.
    public let options: Options
    /// Adam over the generator's parameters.
    public let generatorOptimizer: Adam
    /// Adam over the discriminator's parameters.
    public let discriminatorOptimizer: Adam
    /// Steps completed so far.
    public private(set) var completedSteps = 0
    /// The current epoch (0-based); setting it applies the learning-rate schedule.
    public var epoch = 0 {
        didSet { applySchedule() }
    }
    /// The arithmetic of the step's matrix products (`.float32`, the default, or `.bfloat16`
    /// mixed precision: bf16 operands, float32 sums, float32 weights, gradients and optimizer
    /// state, like PyTorch's `torch.autocast("cpu", dtype=torch.bfloat16)`). On a CPU without
    /// AVX512_BF16 the products stay float32 (`MatrixPrecision.isSupported`). Not saved in
    /// checkpoints: a run may resume at either precision.
    public var precision: MatrixPrecision = .float32
    /// Data-parallel training: each network's gradients are made equal over the processes of
    /// a job after its backward pass (the `Distributed` module's `DataParallel`, one per
    /// network), before the finiteness checks and the optimizer step. nil (the default) trains
    /// in this process alone.
    public var synchronizers: (generator: GradientSynchronizer, discriminator: GradientSynchronizer)?
    /// Synchronised batch norm for data-parallel training: when set, the step's forward passes
    /// run inside `BatchNorm.synchronized(over:)`, so every batch norm in training normalises
    /// with the statistics of the global batch, summed over the processes by this reducer (the
    /// `Distributed` module's `ProcessGroup`). nil (the default): each process's own batch.
    public var batchNormSynchronization: CrossProcessReducer?
    /// The random stream of WGAN-GP's interpolation weights (saved in checkpoints).
    public var penaltyGenerator: SeededGenerator

    // Found by reflection once: the models' structure is fixed, and steps must not reflect.
    private let generatorParameters: [(name: String, parameter: Parameter)]
    private let discriminatorParameters: [(name: String, parameter: Parameter)]
    private let modeDependentModules: [TrainingModeDependent]

    /// Creates a trainer with two fresh Adam optimizers.
    public init(generator: Layer, discriminator: PatchDiscriminator, options: Options = Options()) {
        self.generator = generator
        self.discriminator = discriminator
        self.options = options
        generatorParameters = generator.namedParameters
        discriminatorParameters = discriminator.namedParameters
        modeDependentModules = (generator.modules + discriminator.modules).compactMap { $0 as? TrainingModeDependent }
        // Drawn from the default stream only when used, so runs without WGAN-GP are unchanged.
        penaltyGenerator =
            options.gradientPenalty?.kind == .wgangp
            ? RandomState.withGenerator { SeededGenerator(seed: $0.next()) } : SeededGenerator(seed: 0)
        generatorOptimizer = Adam(
            for: generator, learningRate: options.learningRate,
            beta1: options.beta1, beta2: options.beta2)
        discriminatorOptimizer = Adam(
            for: discriminator, learningRate: options.learningRate,
            beta1: options.beta1, beta2: options.beta2)
        applySchedule()
    }

    private func applySchedule() {
        let rate = options.learningRate * options.learningRateFactor(epoch: epoch)
        generatorOptimizer.learningRate = rate
        discriminatorOptimizer.learningRate = rate
    }

    /// The learning rate in force for the current epoch.
    public var learningRate: Float { generatorOptimizer.learningRate }

    private func ganLoss(_ logits: Tensor, real: Bool) -> Tensor {
        let label = Tensor(shape: logits.shape, repeating: real ? 1 : 0)
        switch options.ganLoss {
        case .vanilla: return binaryCrossEntropy(logits: logits, label)
        case .lsgan: return meanSquaredError(logits, label)
        case .wgangp: return real ? -logits.mean() : logits.mean()
        }
    }

    /// One training iteration on a batch, its matrix products at `precision`.
    ///
    /// - Parameters:
    ///   - source: `[N, H, W, C]` condition images in [-1, 1] (satellite).
    ///   - target: `[N, H, W, C]` real outputs in [-1, 1] (map).
    /// - Returns: the step's losses.
    /// - Throws: `NonFiniteTrainingError` naming the step and the loss if any loss or gradient
    ///   is NaN or infinite — before any weight of the offending network is changed.
    @discardableResult
    public func step(source: Tensor, target: Tensor) throws -> Losses {
        try withMatrixPrecision(precision) {
            guard let batchNormSynchronization else { return try unmixedStep(source: source, target: target) }
            return try BatchNorm.synchronized(over: batchNormSynchronization) {
                try unmixedStep(source: source, target: target)
            }
        }
    }

    private func unmixedStep(source: Tensor, target: Tensor) throws -> Losses {
        for module in modeDependentModules { module.isTraining = true }
        let fake = generator(source)

        // Discriminator: real pairs → 1, generated pairs (cut off from G) → 0. Both go through D
        // in one pass as two independent sub-batches (batch-norm statistics per sub-batch): the
        // same values as two separate passes, with GEMMs twice as tall.
        let n = source.shape[0]
        let logits = BatchNorm.withIndependentSubBatches(2) {
            discriminator(
                source: concatenate([source, source], axis: 0),
                target: concatenate([target, fake.detached()], axis: 0))
        }
        let realLoss = ganLoss(logits.slice(axis: 0, 0..<n), real: true)
        let fakeLoss = ganLoss(logits.slice(axis: 0, n..<(2 * n)), real: false)
        var discriminatorLoss = (realLoss + fakeLoss) * 0.5
        // The gradient penalty, every `interval` steps and scaled by it (lazy regularisation);
        // a pass of its own through D, differentiated twice.
        var penalty: Tensor?
        if let gradientPenalty = options.gradientPenalty, gradientPenalty.applies(afterCompletedSteps: completedSteps) {
            guard batchNormSynchronization == nil else {
                throw GradientPenaltyError(
                    "a gradient penalty cannot be combined with synchronised batch norm (its second derivative is not implemented); use instance norm or no batch-norm synchronisation"
                )
            }
            let value = try gradientPenalty.value(
                discriminator: discriminator, source: source, real: target, fake: fake, generator: &penaltyGenerator)
            discriminatorLoss = discriminatorLoss + value * Float(gradientPenalty.interval)
            penalty = value
        }
        try backward(
            discriminatorLoss,
            checking: ["D real": realLoss.scalar, "D fake": fakeLoss.scalar, "D penalty": penalty?.scalar ?? 0],
            synchronizer: synchronizers?.discriminator)
        try checkGradients(discriminatorParameters, network: "discriminator")
        discriminatorOptimizer.update()

        // Generator: fool the (frozen) discriminator and stay close to the target in L1.
        for (_, p) in discriminatorParameters { p.requiresGradient = false }
        defer { for (_, p) in discriminatorParameters { p.requiresGradient = true } }
        let adversarial = ganLoss(discriminator(source: source, target: fake), real: true)
        let l1 = l1Loss(fake, target)
        let generatorLoss = adversarial + l1 * options.l1Weight
        try backward(
            generatorLoss, checking: ["G GAN": adversarial.scalar, "G L1": l1.scalar],
            synchronizer: synchronizers?.generator)
        try checkGradients(generatorParameters, network: "generator")
        generatorOptimizer.update()

        completedSteps += 1
        return Losses(
            discriminatorReal: realLoss.scalar, discriminatorFake: fakeLoss.scalar,
            generatorGAN: adversarial.scalar, generatorL1: l1.scalar, discriminatorPenalty: penalty?.scalar)
    }

    /// Back-propagates `loss` after checking `losses` are finite — or, data-parallel, checks
    /// them only after joining the gradient average: every process must take part in it before
    /// any may stop (a NaN anywhere makes every process's averaged gradient NaN, so all stop at
    /// the gradient check).
    private func backward(
        _ loss: Tensor, checking losses: KeyValuePairs<String, Float>, synchronizer: GradientSynchronizer?
    ) throws {
        guard let synchronizer else {
            try checkFinite(losses)
            return loss.backward()
        }
        loss.backward(onGradientReady: { synchronizer.gradientReady($0) })
        try synchronizer.synchronize()
        try checkFinite(losses)
    }

    private func checkFinite(_ losses: KeyValuePairs<String, Float>) throws {
        for (name, value) in losses where !value.isFinite {
            throw NonFiniteTrainingError(step: completedSteps + 1, quantity: "loss \(name)", value: value)
        }
    }

    private func checkGradients(_ parameters: [(name: String, parameter: Parameter)], network: String) throws {
        for (name, parameter) in parameters {
            if !parameter.gradientIsFinite {
                for (_, p) in parameters { p.zeroGradient() }
                throw NonFiniteTrainingError(
                    step: completedSteps + 1, quantity: "gradient of \(network).\(name)", value: .nan)
            }
        }
    }

    /// Restores the step counter (used when resuming from a checkpoint).
    func restore(completedSteps: Int, epoch: Int) {
        self.completedSteps = completedSteps
        self.epoch = epoch
    }
}

/// A gradient penalty that the trainer's configuration cannot apply.
public struct GradientPenaltyError: Error, CustomStringConvertible {
    /// What is wrong, naming the option.
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Training produced NaN or infinity; the weights of the network whose update would have used
/// it were not changed.
public struct NonFiniteTrainingError: Error, CustomStringConvertible {
    /// The 1-based step that failed.
    public let step: Int
    /// Which loss or gradient.
    public let quantity: String
    /// The offending value.
    public let value: Float

    public var description: String {
        "training diverged at step \(step): \(quantity) is \(value) (try a lower learning rate; the last checkpoint is intact)"
    }
}
