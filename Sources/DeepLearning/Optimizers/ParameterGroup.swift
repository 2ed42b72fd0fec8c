/// Parameters an optimizer treats alike: a module's (or a list's) parameters with their own
/// learning-rate scale and weight decay, as PyTorch's parameter groups.
///
/// ```swift
/// let adam = Adam(groups: [
///     ParameterGroup(model.backbone, learningRateScale: 0.1),
///     ParameterGroup(model.head),
/// ], learningRate: 1e-3, weightDecay: 0.01)
/// ```
public struct ParameterGroup {
    /// What a group overrides; `nil` fields take the optimizer's value.
    struct Settings: Equatable {
        var learningRateScale: Float
        var weightDecay: Float?
    }

    /// The group's parameters with their names.
    public let parameters: [(name: String, parameter: Parameter)]
    /// Multiplies the optimizer's `learningRate` (and so any schedule) for this group; default 1.
    public var learningRateScale: Float
    /// This group's weight decay; `nil` (the default) uses the optimizer's.
    public var weightDecay: Float?

    /// The parameters of `module`.
    public init(_ module: Module, learningRateScale: Float = 1, weightDecay: Float? = nil) {
        self.init(parameters: module.namedParameters, learningRateScale: learningRateScale, weightDecay: weightDecay)
    }

    /// Named parameters chosen by hand (e.g. every `gamma` and `beta` for no weight decay).
    public init(
        parameters: [(name: String, parameter: Parameter)], learningRateScale: Float = 1, weightDecay: Float? = nil
    ) {
        precondition(learningRateScale >= 0, "ParameterGroup: learningRateScale \(learningRateScale) is negative")
        self.parameters = parameters
        self.learningRateScale = learningRateScale
        self.weightDecay = weightDecay
    }

    /// All groups' parameters, each once (in its first group), named `<group>.<name>`, with
    /// their settings.
    static func flatten(_ groups: [ParameterGroup]) -> ([(name: String, parameter: Parameter)], [Settings?]) {
        var seen = Set<ObjectIdentifier>()
        var parameters: [(name: String, parameter: Parameter)] = [], settings: [Settings?] = []
        for (index, group) in groups.enumerated() {
            for (name, parameter) in group.parameters where seen.insert(ObjectIdentifier(parameter)).inserted {
                parameters.append(("\(index).\(name)", parameter))
                settings.append(Settings(learningRateScale: group.learningRateScale, weightDecay: group.weightDecay))
            }
        }
        return (parameters, settings)
    }
}
