import Foundation

/// Adam (Kingma & Ba, 2015), as PyTorch's `torch.optim.Adam`:
///
///     m ← β₁·m + (1 − β₁)·g          v ← β₂·v + (1 − β₂)·g²
///     θ ← θ − lr · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε)
///
/// With `decoupledWeightDecay` (AdamW, Loshchilov & Hutter) θ ← θ − lr·λ·θ first; otherwise
/// `weightDecay` adds λ·θ to the gradient (PyTorch's `Adam(weight_decay=λ)`).
/// Keras places ε outside the bias correction (`ε̂ = ε·√(1 − β₂ᵗ)`) and defaults to ε = 1e-7;
/// the difference only matters while v is tiny.
///
/// `t` counts each parameter's own updates, as PyTorch's `state["step"]` does: a parameter that
/// was frozen (or had no gradient) for a while gets its first update bias-corrected as a first
/// update, not as the optimizer's hundredth.
public final class Adam: Optimizer {
    public var learningRate: Float
    /// Decay of the first moment (0.9; pix2pix uses 0.5).
    public var beta1: Float
    /// Decay of the second moment (0.999).
    public var beta2: Float
    /// Added to the denominator (PyTorch's default 1e-8).
    public var epsilon: Float
    /// L2 penalty λ (0 = off).
    public var weightDecay: Float
    /// Apply `weightDecay` to the weights directly (AdamW) instead of through the gradient.
    public var decoupledWeightDecay: Bool
    public private(set) var step = 0
    private let slots: OptimizerSlots
    /// Updates applied to each parameter (its `t`), in `slots.parameters` order.
    private var parameterSteps: [Int]
    /// Each parameter's group settings (`nil`: the optimizer's own), in `slots.parameters` order.
    private let groupSettings: [ParameterGroup.Settings?]

    /// Creates Adam over every parameter of `module`.
    public convenience init(
        for module: Module, learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
        epsilon: Float = 1e-8, weightDecay: Float = 0, decoupledWeightDecay: Bool = false
    ) {
        self.init(
            parameters: module.namedParameters, settings: nil, learningRate: learningRate, beta1: beta1,
            beta2: beta2, epsilon: epsilon, weightDecay: weightDecay, decoupledWeightDecay: decoupledWeightDecay)
    }

    /// Creates Adam over parameter groups with their own learning-rate scale and weight decay
    /// (PyTorch's per-group options): e.g. a pretrained backbone at a tenth of the rate, and
    /// normalisation parameters without weight decay. A parameter in several groups belongs to
    /// the first. State names are prefixed with the group's index (`0.conv.kernel.m`).
    public convenience init(
        groups: [ParameterGroup], learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
        epsilon: Float = 1e-8, weightDecay: Float = 0, decoupledWeightDecay: Bool = false
    ) {
        let (parameters, settings) = ParameterGroup.flatten(groups)
        self.init(
            parameters: parameters, settings: settings, learningRate: learningRate, beta1: beta1, beta2: beta2,
            epsilon: epsilon, weightDecay: weightDecay, decoupledWeightDecay: decoupledWeightDecay)
    }

    private init(
        parameters: [(name: String, parameter: Parameter)], settings: [ParameterGroup.Settings?]?,
        learningRate: Float, beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float,
        decoupledWeightDecay: Bool
    ) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.decoupledWeightDecay = decoupledWeightDecay
        slots = OptimizerSlots(parameters: parameters, slotNames: ["m", "v"])
        parameterSteps = Array(repeating: 0, count: parameters.count)
        groupSettings = settings ?? Array(repeating: nil, count: parameters.count)
    }

    public func update() {
        OpProfiler.measure("Adam.update") { applyUpdate() }
    }

    private func applyUpdate() {
        step += 1
        let (b1, b2, eps) = (beta1, beta2, epsilon)
        let decoupled = decoupledWeightDecay
        for (index, entry) in slots.parameters.enumerated() {
            guard let gradient = entry.parameter.gradient else { continue }
            let group = groupSettings[index]
            let lr = learningRate * (group?.learningRateScale ?? 1), decay = group?.weightDecay ?? weightDecay
            parameterSteps[index] += 1
            let t = Float(parameterSteps[index])
            let correction1 = 1 - Foundation.pow(b1, t), correction2 = 1 - Foundation.pow(b2, t)
            // θ −= lr/c₁ · m / (√(v/c₂) + ε): fold the constants once per parameter.
            let stepSize = lr / correction1, inverseCorrection2 = 1 / correction2
            let m = slots.pointer(slot: 0, parameter: index), v = slots.pointer(slot: 1, parameter: index)
            gradient.withPointer { g in
                entry.parameter.update { theta in
                    let w = theta.baseAddress!
                    parallelChunks(theta.count, grain: 65_536) { range in
                        // 16 lanes at a time: the compiler cannot prove the four buffers do not
                        // alias, so it would not vectorise the scalar loop on its own.
                        var i = range.lowerBound
                        while i + 16 <= range.upperBound {
                            var gi = loadVector(g + i), wi = loadVector(w + i)
                            if decay != 0 {
                                if decoupled { wi -= (lr * decay) * wi } else { gi += decay * wi }
                            }
                            let mi = b1 * loadVector(m + i) + (1 - b1) * gi
                            let vi = b2 * loadVector(v + i) + (1 - b2) * gi * gi
                            wi -= stepSize * mi / ((vi * inverseCorrection2).squareRoot() + eps)
                            storeVector(mi, m + i)
                            storeVector(vi, v + i)
                            storeVector(wi, w + i)
                            i += 16
                        }
                        while i < range.upperBound {
                            var gi = g[i]
                            if decay != 0 {
                                if decoupled { w[i] -= lr * decay * w[i] } else { gi += decay * w[i] }
                            }
                            m[i] = b1 * m[i] + (1 - b1) * gi
                            v[i] = b2 * v[i] + (1 - b2) * gi * gi
                            w[i] -= stepSize * m[i] / ((v[i] * inverseCorrection2).squareRoot() + eps)
                            i += 1
                        }
                    }
                }
            }
            entry.parameter.zeroGradient()
        }
    }

    /// The moments `<name>.m`, `<name>.v` and each parameter's update count `<name>.step` (a
    /// scalar, as PyTorch stores it; exact up to 2²⁴ updates).
    public func stateTensors() -> [String: Tensor] {
        var tensors = slots.stateTensors()
        for (index, entry) in slots.parameters.enumerated() where parameterSteps[index] > 0 {
            tensors["\(entry.name).step"] = Tensor(Float(parameterSteps[index]))
        }
        return tensors
    }

    /// Restores `stateTensors()`. A state without per-parameter counts (saved before they
    /// existed) gives every parameter that has moments the optimizer's `step`.
    public func loadState(_ tensors: [String: Tensor], step: Int) throws {
        var moments = tensors, counts = Array(repeating: 0, count: slots.parameters.count)
        for (index, entry) in slots.parameters.enumerated() {
            if let saved = moments.removeValue(forKey: "\(entry.name).step") {
                guard saved.count == 1, saved.scalar >= 0, saved.scalar == saved.scalar.rounded() else {
                    throw ShapeError("optimizer state \(entry.name).step: \(saved) is not a whole update count")
                }
                counts[index] = Int(saved.scalar)
            } else if tensors["\(entry.name).m"] != nil {
                counts[index] = step
            }
        }
        try slots.load(moments)
        parameterSteps = counts
        self.step = step
    }
}
