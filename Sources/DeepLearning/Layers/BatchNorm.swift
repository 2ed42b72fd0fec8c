/// Batch normalisation over the channel axis (Keras `BatchNormalization(axis=-1)`).
///
/// In training it normalises with the batch's mean and biased variance over all axes but the
/// last, and updates the running statistics:
/// `running = momentum · running + (1 − momentum) · batch` (Keras's convention: momentum is
/// the weight of the old value; PyTorch's `momentum=0.01` equals Keras's `0.99`). The running
/// variance is updated with the unbiased batch variance, as Keras's fused kernel and PyTorch do.
/// In inference it uses the running statistics.
///
/// Three scoped calls change how every batch norm called inside them, on the calling thread,
/// computes its statistics (BatchNormScopes.swift): `BatchNorm.withIndependentSubBatches(_:_:)`
/// (statistics per sub-batch: two batches scored in one pass), `BatchNorm.synchronized(over:_:)`
/// (statistics over every process of a data-parallel job, PyTorch's `SyncBatchNorm`) and
/// `BatchNorm.withBatchStatisticsInInference(_:)` (the pix2pix paper's and the seed's test-time
/// behaviour, Keras's `training=True` at inference).
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

    /// Creates a batch normalisation layer for `channels` channels.
    public init(_ channels: Int, momentum: Float = 0.99, epsilon: Float = 1e-3) {
        gamma = Parameter(.ones([channels]))
        beta = Parameter(.zeros([channels]))
        runningMean = Buffer(.zeros([channels]))
        runningVariance = Buffer(.ones([channels]))
        self.momentum = momentum
        self.epsilon = epsilon
    }

    /// Normalises `input` (`[…, C]`).
    public func callAsFunction(_ input: Tensor) -> Tensor { self(input, activation: .identity) }

    /// Normalises `input` (`[…, C]`) and applies `activation` in the same pass: the same values
    /// and gradients as `activation(self(input))`, with one pass less over the data each way.
    public func callAsFunction(_ input: Tensor, activation: Activation) -> Tensor {
        let channels = gamma.shape[0]
        precondition(
            input.shape.last == channels,
            "BatchNorm(\(channels)): input \(describeShape(input.shape)) does not end in \(channels) channels")
        let scope = ThreadState.current.batchNormScope
        guard isTraining || scope.batchStatisticsInInference else {
            return batchNormalized(
                input, mean: runningMean.value, variance: runningVariance.value,
                gamma: gamma.value, beta: beta.value, epsilon: epsilon, activation: activation)
        }
        let subBatches = scope.subBatches
        precondition(
            input.rank >= 1 && input.shape[0] % subBatches == 0,
            "BatchNorm(\(channels)): batch of \(describeShape(input.shape)) does not split into \(subBatches) equal sub-batches"
        )
        let (output, statistics) = normalize(
            input, gamma: gamma.value, beta: beta.value, subBatches: subBatches, epsilon: epsilon,
            activation: activation, reducer: isTraining ? scope.reducer : nil)
        if isTraining {
            // One update per sub-batch, in order: as if each had gone through on its own.
            let n = Float(statistics.rows)
            let correction = n > 1 ? n / (n - 1) : 1
            let m = momentum
            var mean = runningMean.value.scalars, variance = runningVariance.value.scalars
            for subBatch in 0..<subBatches {
                for c in 0..<channels {
                    mean[c] = m * mean[c] + (1 - m) * statistics.mean[subBatch * channels + c]
                    variance[c] =
                        m * variance[c] + (1 - m) * statistics.variance[subBatch * channels + c] * correction
                }
            }
            runningMean.value = Tensor(shape: [channels], scalars: mean)
            runningVariance.value = Tensor(shape: [channels], scalars: variance)
        }
        return output
    }
}
