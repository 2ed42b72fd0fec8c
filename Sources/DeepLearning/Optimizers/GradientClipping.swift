import Foundation

// Gradient clipping between backward() and the optimizer update, as PyTorch's
// torch.nn.utils.clip_grad_norm_ and clip_grad_value_.

/// Scales the gradients of `parameters` together so that their global L2 norm is at most
/// `maxNorm` (PyTorch's `clip_grad_norm_`: the factor is `maxNorm / (norm + 1e-6)`, applied only
/// when below 1). Parameters without a gradient are skipped.
///
/// - Returns: the global norm before clipping (infinite or NaN if a gradient is).
@discardableResult
public func clipGradientNorm(_ parameters: [Parameter], maxNorm: Float) -> Float {
    precondition(maxNorm >= 0, "clipGradientNorm: maxNorm \(maxNorm) must not be negative")
    var squares = 0.0
    for parameter in parameters {
        guard let gradient = parameter.gradient else { continue }
        gradient.withPointer { g in for i in 0..<gradient.count { squares += Double(g[i]) * Double(g[i]) } }
    }
    let norm = Float(squares.squareRoot())
    let factor = maxNorm / (norm + 1e-6)
    if factor < 1 {
        for parameter in parameters { parameter.transformGradient { $0 * factor } }
    }
    return norm
}

/// Clamps every gradient element of `parameters` to `[-limit, limit]` (PyTorch's
/// `clip_grad_value_`).
public func clipGradientValues(_ parameters: [Parameter], limit: Float) {
    precondition(limit >= 0, "clipGradientValues: limit \(limit) must not be negative")
    for parameter in parameters { parameter.transformGradient { Swift.min(Swift.max($0, -limit), limit) } }
}
