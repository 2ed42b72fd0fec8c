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
