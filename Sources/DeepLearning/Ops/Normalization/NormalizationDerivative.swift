// The derivative of every normalisation of the library written with differentiable ops — what a
// recorded pass (`createGraph`) runs in place of the fused first-order kernels, for
//   x̂ = (x − μ)·(σ² + ε)^(−½) over `axes` of a view of x,  y = activation(γ·x̂ + β).
// Batch/instance norm view x as [subBatches, rows, C] and reduce axis 1; layer norm as
// [rows, F], axis 1; group norm as [N, pixels, G, C/G], axes 1 and 3.

/// The inputs of a normalisation, by role.
enum NormalizationInput { case input, gamma, beta }

extension RecordedInputs where Role == NormalizationInput {
    /// The inputs of a normalisation with optional γ and β.
    init(input: Tensor, gamma: Tensor?, beta: Tensor?) {
        self.init()
        append(.input, input)
        append(.gamma, gamma)
        append(.beta, beta)
    }

    /// The pullback of a recorded pass, written directly with differentiable ops (PyTorch's
    /// batch-norm double backward takes the same formulas): with x̂ = (x − μ)·r over `axes` of
    /// `view`, ∂z = ∂y·activation′(y) and ∂x̂ = γ·∂z,
    ///   ∂x = r·(∂x̂ − mean ∂x̂ − x̂·mean(∂x̂·x̂))   (constant statistics: ∂x = r·∂x̂)
    ///   ∂γ = Σ ∂z·x̂,   ∂β = Σ ∂z   over every axis but the channels.
    /// About half the ops of differentiating `normalizedByComposition`, and every one recorded.
    ///
    /// - Parameter output: the op's output with its node, when it has an activation (whose
    ///   derivative reads it: fused activations all read their output).
    func recordedGradients<A: ElementwiseFunction>(
        _ gradient: Tensor, output: Tensor?, needed: [Bool], view: [Int], axes: [Int], epsilon: Float,
        statistics: (mean: Tensor, inverseDeviation: Tensor)? = nil, activation: A
    ) -> [Tensor?] {
        let x = tensor(.input, in: tensors)!, gamma = tensor(.gamma, in: tensors)
        let viewed = x.reshaped(to: view)
        let normalized: Tensor, inverseDeviation: Tensor
        if let statistics {
            (normalized, inverseDeviation) = (
                (viewed - statistics.mean) * statistics.inverseDeviation, statistics.inverseDeviation
            )
        } else {
            let centered = viewed - viewed.mean(alongAxes: axes, keepingDimensions: true)
            let variance = centered.squared().mean(alongAxes: axes, keepingDimensions: true)
            inverseDeviation = 1 / (variance + epsilon).sqrt()
            normalized = centered * inverseDeviation
        }
        var preActivationGradient = gradient
        if A.self != IdentityFunction.self {
            precondition(activation.derivativeReadsOutput, "normalisation: a fused activation reads its output")
            guard let output, let slope = activation.derivative(at: output) else {
                preconditionFailure(
                    "createGraph: \(A.self) fused into a normalisation has no differentiable derivative")
            }
            preActivationGradient = gradient * slope
        }
        let channelAxes = Array(0..<(x.rank - 1))
        return gradients(needed) { role in
            switch role {
            case .input:
                let scaled = (gamma.map { preActivationGradient * $0 } ?? preActivationGradient).reshaped(to: view)
                guard statistics == nil else { return (scaled * inverseDeviation).reshaped(to: x.shape) }
                let meanGradient = scaled.mean(alongAxes: axes, keepingDimensions: true)
                let meanProjection = (scaled * normalized).mean(alongAxes: axes, keepingDimensions: true)
                return (inverseDeviation * (scaled - meanGradient - normalized * meanProjection)).reshaped(to: x.shape)
            case .gamma: return (preActivationGradient * normalized.reshaped(to: x.shape)).sum(alongAxes: channelAxes)
            case .beta: return preActivationGradient.sum(alongAxes: channelAxes)
            }
        }
    }
}
