/// Randomly zeroes a fraction `rate` of its input while training (Keras `Dropout`).
///
/// In inference it is the identity — unless `activeAtInference` is set, which keeps it
/// sampling at test time as pix2pix does (its only source of noise, `Dropout(0.5)(x,
/// training=True)` in the seed).
public final class Dropout: Layer, TrainingModeDependent {
    /// Probability of zeroing an element.
    public let rate: Float
    /// `true` while training. Switched by `setTraining(_:)`.
    public var isTraining = true
    /// Keep dropping at inference (pix2pix's test-time noise).
    public var activeAtInference: Bool
    /// The generator masks are drawn from; seed it for reproducible runs.
    public var generator: SeededGenerator

    /// Creates a dropout layer. Without a `seed`, its generator is split off `RandomState`.
    public init(rate: Float, activeAtInference: Bool = false, seed: UInt64? = nil) {
        precondition(rate >= 0 && rate < 1, "Dropout: rate \(rate) must be in [0, 1)")
        self.rate = rate
        self.activeAtInference = activeAtInference
        generator = SeededGenerator(seed: seed ?? RandomState.withGenerator { $0.next() })
    }

    /// `input` with dropout applied when training or `activeAtInference`; any shape.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        guard isTraining || activeAtInference else { return input }
        return dropout(input, rate: rate, generator: &generator)
    }
}

/// Zeroes whole channels: each (sample, channel) of `[N, H, W, C]` is dropped with probability
/// `rate` and the rest scaled by 1/(1 − rate) (PyTorch's `nn.Dropout2d`, Keras's
/// `SpatialDropout2D`), so neighbouring pixels of a feature map, which are correlated, are
/// dropped together. Identity in inference.
public final class Dropout2D: Layer, TrainingModeDependent {
    /// Probability of zeroing a channel.
    public let rate: Float
    /// `true` while training. Switched by `setTraining(_:)`.
    public var isTraining = true
    /// The generator masks are drawn from.
    public var generator: SeededGenerator

    /// Creates the layer. Without a `seed`, its generator is split off `RandomState`.
    public init(rate: Float, seed: UInt64? = nil) {
        precondition(rate >= 0 && rate < 1, "Dropout2D: rate \(rate) must be in [0, 1)")
        self.rate = rate
        generator = SeededGenerator(seed: seed ?? RandomState.withGenerator { $0.next() })
    }

    /// `[N, …, C]` with whole channels dropped while training.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        guard isTraining, rate > 0 else { return input }
        precondition(input.rank >= 2, "Dropout2D: needs [N, …, C]; got \(describeShape(input.shape))")
        let (batch, channels) = (input.shape[0], input.shape[input.rank - 1])
        let scale = 1 / (1 - rate)
        var shape = [Int](repeating: 1, count: input.rank)
        (shape[0], shape[input.rank - 1]) = (batch, channels)
        let mask = Tensor(
            shape: shape, scalars: (0..<(batch * channels)).map { _ in generator.nextUnitFloat() < rate ? 0 : scale })
        return input * mask
    }
}
