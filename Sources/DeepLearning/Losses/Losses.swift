import Foundation

// Loss functions, each one fused op: the forward reduces in Double for accuracy and the
// pullback writes ∂loss/∂prediction and ∂loss/∂target, each in one loop.

/// How a loss combines its per-element values.
public enum Reduction: Sendable, Equatable {
    /// The mean over all elements (Keras's and PyTorch's default).
    case mean
    /// The sum over all elements.
    case sum
    /// No reduction: a tensor shaped like the inputs.
    case none
}

/// An elementwise loss `f(p, t)` with its partial derivatives `∂f/∂p` and `∂f/∂t`, reduced as
/// asked. Both arguments receive gradients, so a trainable target (feature matching,
/// distillation) is trained too.
@inline(__always)
private func elementwiseLoss(
    _ name: String, _ predictions: Tensor, _ targets: Tensor, _ reduction: Reduction,
    value: (Float, Float) -> Float, derivative: @escaping (Float, Float) -> Float,
    targetDerivative: @escaping (Float, Float) -> Float, composite: @escaping (Tensor, Tensor) -> Tensor
) -> Tensor {
    precondition(
        predictions.shape == targets.shape,
        "\(name): predictions \(describeShape(predictions.shape)) and targets \(describeShape(targets.shape)) differ")
    let targetValues = targets.detached(), predictionValues = predictions.detached()
    let count = predictions.count
    let output: Tensor
    let scale: Float
    switch reduction {
    case .none:
        output = Tensor.zipElements(predictions, targets, value)
        scale = 1
    case .mean, .sum:
        let total = withPointers(predictions, targets) { p, t in
            var total = 0.0
            for i in 0..<count { total += Double(value(p[i], t[i])) }
            return total
        }
        scale = reduction == .mean ? 1 / Float(Swift.max(count, 1)) : 1
        output = Tensor(Float(total) * scale)
    }
    return Tensor.recording(output, inputs: [predictions, targets]) { gradient, needed in
        if GradientMode.isRecording {
            return compositePullback(inputs: [predictions, targets], gradient: gradient, needed: needed) {
                let losses = composite($0[0], $0[1])
                switch reduction {
                case .none: return losses
                case .sum: return losses.sum()
                case .mean: return losses.mean()
                }
            }
        }
        func partial(_ f: @escaping (Float, Float) -> Float) -> Tensor {
            if reduction == .none {
                return Tensor.zipElements(gradient, Tensor.zipElements(predictionValues, targetValues, f)) { $0 * $1 }
            }
            let g = gradient.scalar * scale
            return Tensor.zipElements(predictionValues, targetValues) { g * f($0, $1) }
        }
        return [needed[0] ? partial(derivative) : nil, needed[1] ? partial(targetDerivative) : nil]
    }
}

/// Binary cross-entropy of probabilities: `−[t·log p + (1 − t)·log(1 − p)]`.
///
/// Probabilities are clamped to `[ε, 1 − ε]` first, as Keras does (ε = 1e-7), so 0 and 1 give
/// large finite losses instead of infinities; the gradient is zero where the clamp is active.
///
/// - Parameters:
///   - probabilities: any shape, values in [0, 1].
///   - targets: same shape, labels in [0, 1].
///   - reduction: `.mean` (default), `.sum` or `.none` (elementwise losses).
///   - epsilon: the clamp margin (Keras's 1e-7).
public func binaryCrossEntropy(
    _ probabilities: Tensor, _ targets: Tensor, reduction: Reduction = .mean,
    epsilon: Float = 1e-7
) -> Tensor {
    elementwiseLoss(
        "binaryCrossEntropy", probabilities, targets, reduction,
        value: { p, t in
            let q = Swift.min(Swift.max(p, epsilon), 1 - epsilon)
            return -(t * Foundation.logf(q) + (1 - t) * Foundation.logf(1 - q))
        },
        derivative: { p, t in
            guard p > epsilon && p < 1 - epsilon else { return 0 }
            return (p - t) / (p * (1 - p))
        },
        targetDerivative: { p, _ in
            let q = Swift.min(Swift.max(p, epsilon), 1 - epsilon)
            return Foundation.logf(1 - q) - Foundation.logf(q)
        },
        composite: { p, t in
            let q = p.clamped(to: epsilon, 1 - epsilon)
            return -(t * q.log() + (1 - t) * (1 - q).log())
        })
}

/// Binary cross-entropy of logits: `max(x, 0) − x·t + log(1 + e^−|x|)`, exact and stable for
/// any |x| (PyTorch's `BCEWithLogitsLoss`, Keras's `from_logits=True`). Its gradient is
/// `σ(x) − t`.
///
/// - Parameters:
///   - logits: any shape.
///   - targets: same shape, labels in [0, 1].
///   - reduction: `.mean` (default), `.sum` or `.none` (elementwise losses).
public func binaryCrossEntropy(logits: Tensor, _ targets: Tensor, reduction: Reduction = .mean) -> Tensor {
    elementwiseLoss(
        "binaryCrossEntropy(logits:)", logits, targets, reduction,
        value: { x, t in
            Swift.max(x, 0) - x * t + Foundation.log1pf(Foundation.expf(-Swift.abs(x)))
        }, derivative: { x, t in stableSigmoid(x) - t }, targetDerivative: { x, _ in -x },
        composite: { x, t in x.softplus() - x * t })
}

/// Mean (or summed) absolute error `|p − t|`, the pix2pix L1 term (Keras's `mae`). The
/// derivative at p = t is taken as 0.
public func l1Loss(_ predictions: Tensor, _ targets: Tensor, reduction: Reduction = .mean) -> Tensor {
    elementwiseLoss(
        "l1Loss", predictions, targets, reduction, value: { p, t in Swift.abs(p - t) },
        derivative: { p, t in p > t ? 1 : (p < t ? -1 : 0) },
        targetDerivative: { p, t in p > t ? -1 : (p < t ? 1 : 0) },
        composite: { p, t in (p - t).abs() })
}

/// Mean (or summed) squared error `(p − t)²` (LSGAN's loss).
public func meanSquaredError(_ predictions: Tensor, _ targets: Tensor, reduction: Reduction = .mean) -> Tensor {
    elementwiseLoss(
        "meanSquaredError", predictions, targets, reduction, value: { p, t in (p - t) * (p - t) },
        derivative: { p, t in 2 * (p - t) }, targetDerivative: { p, t in 2 * (t - p) },
        composite: { p, t in (p - t).squared() })
}
