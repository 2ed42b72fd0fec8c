// Every normalisation of the library written with differentiable ops — the function recorded
// passes differentiate (`compositePullback`) in place of the fused first-order kernels:
//   x̂ = (x − μ)·(σ² + ε)^(−½) over `axes` of a view of x,  y = activation(γ·x̂ + β)
// Batch/instance norm view x as [subBatches, rows, C] and reduce axis 1; layer norm as
// [rows, F], axis 1; group norm as [N, pixels, G, C/G], axes 1 and 3.

/// The inputs of a normalisation, by role.
enum NormalizationInput { case input, gamma, beta }

/// `activation(γ·(x − μ)/√(σ² + ε) + β)` with differentiable ops; μ and σ² are the biased
/// statistics of `x` viewed as `view` over `axes`, or the constants `statistics` (shaped like
/// the view with `axes` kept as 1) when given.
func normalizedByComposition<A: ElementwiseFunction>(
    _ x: Tensor, view: [Int], axes: [Int], gamma: Tensor?, beta: Tensor?, epsilon: Float,
    statistics: (mean: Tensor, inverseDeviation: Tensor)? = nil, activation: A
) -> Tensor {
    let viewed = x.reshaped(to: view)
    let normalized: Tensor
    if let statistics {
        normalized = (viewed - statistics.mean) * statistics.inverseDeviation
    } else {
        let centered = viewed - viewed.mean(alongAxes: axes, keepingDimensions: true)
        let variance = centered.squared().mean(alongAxes: axes, keepingDimensions: true)
        normalized = centered / (variance + epsilon).sqrt()
    }
    var y = normalized.reshaped(to: x.shape)
    if let gamma { y = y * gamma }
    if let beta { y = y + beta }
    return A.self == IdentityFunction.self ? y : y.applying(activation)
}

extension RecordedInputs where Role == NormalizationInput {
    /// The inputs of a normalisation with optional γ and β.
    init(input: Tensor, gamma: Tensor?, beta: Tensor?) {
        self.init()
        append(.input, input)
        append(.gamma, gamma)
        append(.beta, beta)
    }

    /// The pullback of a recorded pass: the derivative of `normalizedByComposition` with the
    /// recorded inputs.
    func compositeGradients<A: ElementwiseFunction>(
        _ gradient: Tensor, needed: [Bool], view: [Int], axes: [Int], epsilon: Float,
        statistics: (mean: Tensor, inverseDeviation: Tensor)? = nil, activation: A
    ) -> [Tensor?] {
        compositePullback(inputs: tensors, gradient: gradient, needed: needed) { standIns in
            normalizedByComposition(
                tensor(.input, in: standIns)!, view: view, axes: axes, gamma: tensor(.gamma, in: standIns),
                beta: tensor(.beta, in: standIns), epsilon: epsilon, statistics: statistics, activation: activation)
        }
    }
}
