/// Stochastic gradient descent with optional (Nesterov) momentum, as PyTorch's `torch.optim.SGD`:
///
///     b ← μ·b + g          θ ← θ − lr·b            (Nesterov: θ ← θ − lr·(g + μ·b))
public final class SGD: Optimizer {
    public var learningRate: Float
    /// Momentum μ (0 = plain SGD).
    public var momentum: Float
    /// Use Nesterov momentum.
    public var nesterov: Bool
    public private(set) var step = 0
    private let slots: OptimizerSlots

    /// Creates SGD over every parameter of `module`.
    public init(for module: Module, learningRate: Float = 0.01, momentum: Float = 0, nesterov: Bool = false) {
        self.learningRate = learningRate
        self.momentum = momentum
        self.nesterov = nesterov
        slots = OptimizerSlots(parameters: module.namedParameters, slotNames: ["momentum"])
    }

    public func update() {
        OpProfiler.measure("SGD.update") { applyUpdate() }
    }

    private func applyUpdate() {
        step += 1
        let (lr, mu, useNesterov) = (learningRate, momentum, nesterov)
        for (index, entry) in slots.parameters.enumerated() {
            guard let gradient = entry.parameter.gradient else { continue }
            let buffer: UnsafeMutablePointer<Float>? = mu == 0 ? nil : slots.pointer(slot: 0, parameter: index)
            gradient.withPointer { g in
                entry.parameter.update { theta in
                    let w = theta.baseAddress!
                    parallelChunks(theta.count) { range in
                        for i in range {
                            guard let b = buffer else { w[i] -= lr * g[i]; continue }
                            b[i] = mu * b[i] + g[i]  // b starts at 0, so step 1 gives b = g as in PyTorch
                            w[i] -= lr * (useNesterov ? g[i] + mu * b[i] : b[i])
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
