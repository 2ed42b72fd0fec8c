// Gradient penalties of GAN critics, built on gradients of gradients (`createGraph: true`):
//   R1 (Mescheder et al. 2018; StyleGAN2's `loss.py`):  (γ/2)·E‖∇ₓ D(x)‖², x real
//   R2:                                                  the same at generated samples
//   WGAN-GP (Gulrajani et al. 2017):                     λ·E(‖∇ₓ D(x̃)‖ − 1)², x̃ between the two

/// ‖∇ₓ Σ critic(x)‖² per sample: the squared norm of the critic's gradient with respect to its
/// inputs (all of them together, e.g. the condition and the image of a conditional critic), one
/// value per element of the batch axis 0 — recorded, so a penalty built on it trains the critic.
///
/// ```swift
/// let r1 = try gradientSquaredNorms(at: [source, real]) { d(source: $0[0], target: $0[1]) }
///     .mean() * (gamma / 2)
/// ```
///
/// The critic's outputs are summed (PyTorch's `grad_outputs=ones`): for a patch critic, the
/// gradient of the sum of its patch logits. Each sample's value depends on the others only
/// through batch statistics (batch norm) if the critic has any. An input that is part of a graph
/// (a leaf of yours, a generator's output) passes the penalty's gradient on to it, as PyTorch's
/// `grad(…, create_graph=True)` does: detach a generated sample to train the critic alone.
///
/// - Parameters:
///   - inputs: the critic's inputs, `[N, …]` each.
///   - critic: the critic, from its inputs to its outputs (any shape).
/// - Returns: `[N]`, differentiable with respect to the critic's parameters and the inputs.
/// - Throws: `GradientError` when the critic's output does not depend on the inputs.
public func gradientSquaredNorms(at inputs: [Tensor], of critic: ([Tensor]) throws -> Tensor) throws -> Tensor {
    precondition(!inputs.isEmpty, "gradientSquaredNorms: needs at least one input")
    let batch = inputs[0].shape.first ?? 1
    for input in inputs {
        precondition(
            input.shape.first == batch,
            "gradientSquaredNorms: input \(describeShape(input.shape)) does not have the batch size \(batch) of the first"
        )
    }
    // A fresh leaf for an input outside any graph; for one inside a graph (a leaf of the caller's,
    // a generator's output) a node of its own linked to it, so that the result stays
    // differentiable with respect to it, and an input passed twice still gets two slopes.
    let leaves = inputs.map { $0.node == nil ? $0.requiringGradient() : $0.identityNode() }
    let output = try critic(leaves)
    let slopes = try gradients(of: output.sum(), withRespectTo: leaves, createGraph: true)
    var total: Tensor?
    for slope in slopes {
        let perSample = slope.squared().reshaped(to: [batch, -1]).sum(alongAxes: [1])
        total = total.map { $0 + perSample } ?? perSample
    }
    return total!
}
