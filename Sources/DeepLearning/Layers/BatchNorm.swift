/// A normalisation layer that can also apply an activation in its own pass over the data.
///
/// `norm(x, activation: a)` gives the same values and gradients as `a(norm(x))` and saves a
/// read and a write of the activations each way (the conv → norm → activation blocks of
/// pix2pix use it). `BatchNorm` and `InstanceNorm` conform.
public protocol NormalizationLayer: Layer {
    /// Normalises `input` and applies `activation`.
    func callAsFunction(_ input: Tensor, activation: Activation) -> Tensor
}

/// Batch normalisation over the channel axis (Keras `BatchNormalization(axis=-1)`).
///
/// In training it normalises with the batch's mean and biased variance over all axes but the
/// last, and updates the running statistics:
/// `running = momentum · running + (1 − momentum) · batch` (Keras's convention: momentum is
/// the weight of the old value; PyTorch's `momentum=0.01` equals Keras's `0.99`). The running
/// variance is updated with the unbiased batch variance, as Keras's fused kernel and PyTorch do.
/// In inference it uses the running statistics — unless `forceBatchStatistics` is set, which
/// reproduces the pix2pix/seed behaviour (`BatchNormalization()(x, training=True)` at test time).
///
/// Input `[N, H, W, C]` (any rank, channels last); output has the same shape.
public final class BatchNorm: NormalizationLayer, TrainingModeDependent {
    /// Scale γ, `[C]`, initialised to ones.
    public let gamma: Parameter
    /// Offset β, `[C]`, initialised to zeros.
    public let beta: Parameter
    /// Running mean, `[C]`, starts at zeros.
    public let runningMean: Buffer
    /// Running variance, `[C]`, starts at ones.
    public let runningVariance: Buffer
    /// Weight of the old running value in the update (Keras default 0.99).
    public var momentum: Float
    /// Added to the variance before the square root (Keras default 1e-3).
    public var epsilon: Float
    /// `true`: batch statistics and running-statistics updates. Switched by `setTraining(_:)`.
    public var isTraining = true
    /// Use batch statistics even in inference (the seed's `training=True`); running
    /// statistics are then left untouched.
    public var forceBatchStatistics: Bool

    /// Creates a batch normalisation layer for `channels` channels.
    public init(_ channels: Int, momentum: Float = 0.99, epsilon: Float = 1e-3, forceBatchStatistics: Bool = false) {
        gamma = Parameter(.ones([channels]))
        beta = Parameter(.zeros([channels]))
        runningMean = Buffer(.zeros([channels]))
        runningVariance = Buffer(.ones([channels]))
        self.momentum = momentum
        self.epsilon = epsilon
        self.forceBatchStatistics = forceBatchStatistics
    }

    /// Normalises `input` (`[…, C]`).
    public func callAsFunction(_ input: Tensor) -> Tensor { self(input, activation: .identity) }

    /// Normalises `input` (`[…, C]`) and applies `activation` in the same pass: the same values
    /// and gradients as `activation(self(input))`, with one pass less over the data each way.
    ///
    /// Inside `BatchNorm.independentSubBatches(_:_:)` the batch statistics (and the running
    /// statistics updates) are those of each sub-batch separately.
    public func callAsFunction(_ input: Tensor, activation: Activation) -> Tensor {
        let channels = gamma.shape[0]
        precondition(input.shape.last == channels,
                     "BatchNorm(\(channels)): input \(describeShape(input.shape)) does not end in \(channels) channels")
        guard isTraining || forceBatchStatistics else {
            return batchNormalized(input, mean: runningMean.value, variance: runningVariance.value,
                                   gamma: gamma.value, beta: beta.value, epsilon: epsilon, activation: activation)
        }
        let groups = BatchNorm.subBatches
        precondition(input.rank >= 1 && input.shape[0] % groups == 0,
                     "BatchNorm(\(channels)): batch of \(describeShape(input.shape)) does not split into \(groups) equal sub-batches")
        let (output, statistics) = normalize(input, gamma: gamma.value, beta: beta.value, groups: groups, epsilon: epsilon,
                                             activation: activation)
        if isTraining {
            // One update per sub-batch, in order: as if each had gone through on its own.
            let n = Float(input.count / channels / groups)
            let correction = n > 1 ? n / (n - 1) : 1
            let m = momentum
            var mean = runningMean.value.scalars, variance = runningVariance.value.scalars
            for group in 0..<groups {
                for c in 0..<channels {
                    mean[c] = m * mean[c] + (1 - m) * statistics.mean[group * channels + c]
                    variance[c] = m * variance[c] + (1 - m) * statistics.variance[group * channels + c] * correction
                }
            }
            runningMean.value = Tensor(shape: [channels], scalars: mean)
            runningVariance.value = Tensor(shape: [channels], scalars: variance)
        }
        return output
    }

    nonisolated(unsafe) private static var subBatches = 1

    /// Runs `body` with every `BatchNorm` in training mode treating its batch as `count` equal,
    /// independent sub-batches along the first axis: statistics per sub-batch, and the running
    /// statistics updated once per sub-batch in order — the same results as running each
    /// sub-batch through the network on its own, in one pass with `count`-times larger GEMMs.
    ///
    /// The pix2pix trainer scores the real and the generated pairs this way. Like the tape's
    /// recording switch, the setting is process-wide: use it from one thread at a time.
    public static func independentSubBatches<R>(_ count: Int, _ body: () throws -> R) rethrows -> R {
        precondition(count >= 1, "BatchNorm.independentSubBatches: count \(count) must be positive")
        let saved = subBatches
        subBatches = count
        defer { subBatches = saved }
        return try body()
    }
}

/// Instance normalisation (Ulyanov et al.; pix2pix's `--norm instance`): each sample and
/// channel is normalised over its spatial positions. No running statistics, so training and
/// inference behave the same.
///
/// Input `[N, H, W, C]`; output has the same shape.
public final class InstanceNorm: NormalizationLayer {
    /// Scale γ `[C]` (ones), or `nil` without `affine`.
    public let gamma: Parameter?
    /// Offset β `[C]` (zeros), or `nil` without `affine`.
    public let beta: Parameter?
    /// Added to the variance (PyTorch's default 1e-5).
    public var epsilon: Float

    /// Creates an instance normalisation layer; `affine` adds learnable γ and β.
    public init(_ channels: Int, epsilon: Float = 1e-5, affine: Bool = true) {
        gamma = affine ? Parameter(.ones([channels])) : nil
        beta = affine ? Parameter(.zeros([channels])) : nil
        self.epsilon = epsilon
    }

    /// Normalises `input` (`[N, …, C]`).
    public func callAsFunction(_ input: Tensor) -> Tensor { self(input, activation: .identity) }

    /// Normalises `input` and applies `activation` in the same pass (= `activation(self(input))`).
    public func callAsFunction(_ input: Tensor, activation: Activation) -> Tensor {
        instanceNormalized(input, gamma: gamma?.value, beta: beta?.value, epsilon: epsilon, activation: activation)
    }
}
