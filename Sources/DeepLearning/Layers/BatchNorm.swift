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
    public func callAsFunction(_ input: Tensor, activation: Activation) -> Tensor {
        let channels = gamma.shape[0]
        precondition(input.shape.last == channels,
                     "BatchNorm(\(channels)): input \(describeShape(input.shape)) does not end in \(channels) channels")
        guard isTraining || forceBatchStatistics else {
            return batchNormalized(input, mean: runningMean.value, variance: runningVariance.value,
                                   gamma: gamma.value, beta: beta.value, epsilon: epsilon, activation: activation)
        }
        let (output, mean, variance) = batchNormalized(input, gamma: gamma.value, beta: beta.value, epsilon: epsilon,
                                                       activation: activation)
        if isTraining {
            let n = Float(input.count / channels)
            let correction = n > 1 ? n / (n - 1) : 1
            let m = momentum
            runningMean.value = Tensor.zipElements(runningMean.value, mean) { m * $0 + (1 - m) * $1 }
            runningVariance.value = Tensor.zipElements(runningVariance.value, variance) { m * $0 + (1 - m) * $1 * correction }
        }
        return output
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
