/// An exponential moving average of a model's parameters (the "EMA weights" of diffusion models
/// and GANs): after each optimizer step, `average ← decay·average + (1 − decay)·θ`; the first
/// update copies θ, as PyTorch's `AveragedModel` with `get_ema_multi_avg_fn(decay)` does.
///
/// ```swift
/// let ema = ExponentialMovingAverage(of: model, decay: 0.999)
/// // each step: loss.backward(); optimizer.update(); ema.update()
/// ema.copyAverages(to: evaluationModel)     // a second instance of the same architecture
/// ```
public final class ExponentialMovingAverage {
    /// The weight of the old average (default 0.999).
    public var decay: Float
    /// Updates applied so far.
    public private(set) var updates = 0
    private let parameters: [(name: String, parameter: Parameter)]
    private var averages: [Tensor]

    /// Tracks every parameter of `module` (its current values are the starting average).
    public init(of module: Module, decay: Float = 0.999) {
        precondition(decay >= 0 && decay <= 1, "ExponentialMovingAverage: decay \(decay) is not in [0, 1]")
        self.decay = decay
        parameters = module.namedParameters
        averages = parameters.map { $0.parameter.value.copied() }
    }

    /// Folds the parameters' current values into the averages.
    public func update() {
        let (keep, take) = (updates == 0 ? 0 : decay, updates == 0 ? 1 : 1 - decay)
        withoutGradient {
            for (index, entry) in parameters.enumerated() {
                averages[index] = averages[index] * keep + entry.parameter.value * take
            }
        }
        updates += 1
    }

    /// The averages by parameter name (`encoder.0.conv.kernel`), e.g. to save them.
    public var averagedValues: [String: Tensor] {
        Dictionary(uniqueKeysWithValues: zip(parameters.map(\.name), averages))
    }

    /// Writes the averages into `module`'s parameters of the same names (a copy of the tracked
    /// model, or the model itself for evaluation).
    ///
    /// - Throws: `ShapeError` naming a parameter the averages lack or whose shape differs.
    public func copyAverages(to module: Module) throws {
        let values = averagedValues
        for (name, parameter) in module.namedParameters {
            guard let value = values[name], value.shape == parameter.shape else {
                throw ShapeError(
                    "ExponentialMovingAverage: no average of shape \(describeShape(parameter.shape)) for \(name)")
            }
            parameter.value = value
        }
    }
}
