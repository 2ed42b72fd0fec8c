// Gradients of a value with respect to any tensors of its graph — inputs, intermediate values,
// parameters' values — returned rather than accumulated into `Parameter.gradient` (PyTorch's
// `torch.autograd.grad`). The walk is `backward()`'s (Backward.swift), pruned to the nodes that
// lead to a target, so asking for an input's gradient computes no weight gradients.

/// A request for gradients that cannot be met: a target the output does not depend on, a
/// non-scalar output without a seed, a graph already freed by an earlier backward pass.
public struct GradientError: Error, CustomStringConvertible {
    /// What went wrong, naming the tensor.
    public let description: String
    init(_ description: String) { self.description = description }
}

extension Tensor {
    /// This value as a leaf of the autodiff graph (PyTorch's `requires_grad_()`): ops on the
    /// result record their pullbacks, so `gradients(of:withRespectTo:)` can differentiate with
    /// respect to it — an input image for an adversarial example or a saliency map, a latent
    /// code. Shares the buffer (O(1)). `backward()` gives such a leaf no gradient: ask for it
    /// with `gradients(of:withRespectTo:)`.
    public func requiringGradient() -> Tensor {
        var leaf = detached()
        leaf.node = GradNode(leaf: ())
        return leaf
    }
}

/// The gradients of `output` with respect to each of `targets` (PyTorch's
/// `torch.autograd.grad(output, targets, seed, create_graph)`), without touching any
/// `Parameter.gradient`.
///
/// ```swift
/// let image = input.requiringGradient()                    // [1, 28, 28, 1]
/// let loss = try crossEntropy(model(image), labels: [7])
/// let saliency = try gradients(of: loss, withRespectTo: [image])[0].abs()
/// ```
///
/// A target may be a leaf (`requiringGradient()`, or a parameter's `value` read while
/// recording) or any intermediate value of the graph. Only the nodes that lead to a target run
/// their pullbacks.
///
/// With `createGraph`, the gradients are themselves values of the graph — recorded from the
/// backward ops and the forward values they read — so they can be differentiated again, to any
/// order (a gradient penalty, a Hessian-vector product):
///
/// ```swift
/// let real = images.requiringGradient()
/// let logits = critic(real)
/// let slope = try gradients(of: logits.sum(), withRespectTo: [real], createGraph: true)[0]
/// let r1 = slope.squared().sum() * (gamma / 2)             // differentiable w.r.t. the critic
/// ```
///
/// - Parameters:
///   - output: the value to differentiate.
///   - targets: tensors of `output`'s graph.
///   - seed: ∂L/∂output, shaped like `output`; defaults to 1 for a one-element output. With
///     `createGraph` a seed that is itself recorded stays differentiable (double-vjp).
///   - createGraph: record the backward pass and keep the graph (PyTorch's `create_graph`,
///     which implies `retain_graph`); default `false`, which frees the graph behind the walk.
///   - allowUnused: `true` returns zeros for a target `output` does not depend on; `false`
///     (the default) throws, since a silent zero hides a disconnected graph.
/// - Returns: one gradient per target, shaped like it.
/// - Throws: `GradientError` naming the target or output that cannot be differentiated.
public func gradients(
    of output: Tensor, withRespectTo targets: [Tensor], seed: Tensor? = nil, createGraph: Bool = false,
    allowUnused: Bool = false
) throws -> [Tensor] {
    func unused(_ index: Int) throws -> Tensor {
        guard allowUnused else {
            throw GradientError(
                "gradients(of:withRespectTo:): output \(describeShape(output.shape)) does not depend on target \(index) \(describeShape(targets[index].shape)); pass allowUnused: true for zeros"
            )
        }
        return Tensor(shape: targets[index].shape, repeating: 0)
    }
    guard let root = output.node else {
        guard allowUnused else {
            throw GradientError(
                "gradients(of:withRespectTo:): output \(describeShape(output.shape)) is not part of any graph (no tensor it was computed from requires a gradient, or it was computed inside withoutGradient)"
            )
        }
        return try targets.indices.map(unused)
    }
    if let seed {
        guard seed.shape == output.shape else {
            throw GradientError(
                "gradients(of:withRespectTo:): seed \(describeShape(seed.shape)) differs from output \(describeShape(output.shape))"
            )
        }
    } else if output.count != 1 {
        throw GradientError(
            "gradients(of:withRespectTo:): output \(describeShape(output.shape)) is not a scalar; pass a seed of its shape"
        )
    }
    var targetIndices: [ObjectIdentifier: [Int]] = [:]
    for (index, target) in targets.enumerated() {
        guard let node = target.node else {
            throw GradientError(
                "gradients(of:withRespectTo:): target \(index) \(describeShape(target.shape)) is not part of any graph; make it a leaf with requiringGradient() before computing with it"
            )
        }
        targetIndices[ObjectIdentifier(node), default: []].append(index)
    }
    var pass = BackwardPass(root: root, createGraph: createGraph)
    pass.prune(to: Set(targetIndices.keys))
    // A released node has forgotten its inputs, so what lies behind it is unknown.
    if let freed = pass.freedNode {
        throw GradientError(
            "gradients(of:withRespectTo:): the graph through \(freed.op) was already back-propagated (backward passes free it unless createGraph: true); run the forward pass again"
        )
    }
    var results = [Tensor?](repeating: nil, count: targets.count)
    pass.run(seed: pass.seed(seed, shape: output.shape)) { node, gradient in
        for index in targetIndices[ObjectIdentifier(node)] ?? [] { results[index] = gradient }
    }
    return try results.enumerated().map { index, gradient in
        guard let gradient else { return try unused(index) }
        return createGraph ? gradient : gradient.detached()
    }
}
