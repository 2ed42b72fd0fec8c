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
    /// Treat a batch as this many equal, independent sub-batches along the first axis (default
    /// 1): statistics per sub-batch, and in training the running statistics updated once per
    /// sub-batch in order — the same results as running each sub-batch through on its own, in
    /// one pass with larger GEMMs. The pix2pix trainer sets it to 2 on its discriminator's
    /// layers to score the real and the generated pairs together.
    public var independentSubBatches = 1 {
        didSet {
            precondition(
                independentSubBatches >= 1,
                "BatchNorm.independentSubBatches: \(independentSubBatches) must be at least 1")
        }
    }

    /// Synchronised batch normalisation (PyTorch's `SyncBatchNorm`): in training, the batch
    /// statistics are over the batches of every process of a data-parallel job, summed by this
    /// reducer (the `Distributed` module's `ProcessGroup`), and so are the sums the input
    /// gradient needs; nil (the default) keeps them this process's own. With it, N processes
    /// at batch B normalise like one process at batch N·B. Inference (`isTraining` false, also
    /// with `forceBatchStatistics`) stays local, so one process can translate on its own.
    public var synchronization: CrossProcessReducer?

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
    /// With `independentSubBatches` > 1 the batch statistics (and the running statistics
    /// updates) are those of each sub-batch separately.
    public func callAsFunction(_ input: Tensor, activation: Activation) -> Tensor {
        let channels = gamma.shape[0]
        precondition(
            input.shape.last == channels,
            "BatchNorm(\(channels)): input \(describeShape(input.shape)) does not end in \(channels) channels")
        guard isTraining || forceBatchStatistics else {
            return batchNormalized(
                input, mean: runningMean.value, variance: runningVariance.value,
                gamma: gamma.value, beta: beta.value, epsilon: epsilon, activation: activation)
        }
        let groups = independentSubBatches
        precondition(
            input.rank >= 1 && input.shape[0] % groups == 0,
            "BatchNorm(\(channels)): batch of \(describeShape(input.shape)) does not split into \(groups) equal sub-batches"
        )
        let (output, statistics) = normalize(
            input, gamma: gamma.value, beta: beta.value, groups: groups, epsilon: epsilon,
            activation: activation, reducer: isTraining ? synchronization : nil)
        if isTraining {
            // One update per sub-batch, in order: as if each had gone through on its own.
            let n = Float(statistics.rows)
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
}
