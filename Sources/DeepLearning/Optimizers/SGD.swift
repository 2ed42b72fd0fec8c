/// Stochastic gradient descent with optional (Nesterov) momentum, as PyTorch's `torch.optim.SGD`:
///
///     g ← g + λ·θ          b ← μ·b + g          θ ← θ − lr·b            (Nesterov: θ ← θ − lr·(g + μ·b))
///
/// with weight decay λ (`weightDecay`, default 0) added to the gradient as PyTorch does.
public final class SGD: Optimizer {
    public var learningRate: Float
    /// Momentum μ (0 = plain SGD).
    public var momentum: Float
    /// Use Nesterov momentum.
    public var nesterov: Bool
    /// L2 penalty λ added to the gradient (0 = off).
    public var weightDecay: Float
    public private(set) var step = 0
    private let slots: OptimizerSlots

    /// Creates SGD over every parameter of `module`.
    public init(
        for module: Module, learningRate: Float = 0.01, momentum: Float = 0, nesterov: Bool = false,
        weightDecay: Float = 0
    ) {
        self.learningRate = learningRate
        self.momentum = momentum
        self.nesterov = nesterov
        self.weightDecay = weightDecay
        slots = OptimizerSlots(parameters: module.namedParameters, slotNames: ["momentum"])
    }

    public func update() {
        OpProfiler.measure("SGD.update") { applyUpdate() }
    }

    private func applyUpdate() {
        step += 1
        let (lr, mu, useNesterov, decay) = (learningRate, momentum, nesterov, weightDecay)
        for (index, entry) in slots.parameters.enumerated() {
            guard let gradient = entry.parameter.gradient else { continue }
            let buffer: UnsafeMutablePointer<Float>? = mu == 0 ? nil : slots.pointer(slot: 0, parameter: index)
            gradient.withPointer { g in
                entry.parameter.update { theta in
                    let w = theta.baseAddress!
                    parallelChunks(theta.count) { range in
                        for i in range {
                            let gi = g[i] + decay * w[i]
                            guard let b = buffer else {
                                w[i] -= lr * gi
                                continue
                            }
                            b[i] = mu * b[i] + gi  // b starts at 0, so step 1 gives b = g as in PyTorch
                            w[i] -= lr * (useNesterov ? gi + mu * b[i] : b[i])
                        }
                    }
                }
            }
            entry.parameter.zeroGradient()
        }
    }

    public func stateTensors() -> [String: Tensor] { slots.stateTensors() }

    public func loadState(_ tensors: [String: Tensor], step: Int) throws {
        try slots.load(tensors)
        self.step = step
    }
}
