// Differentiation as functions of functions, in the vocabulary of Swift's differentiable
// programming (`gradient(at:of:)`, `valueWithGradient(at:of:)`, `valueWithPullback(at:of:)`)
// and MLX's `valueAndGrad(model:)`, on top of `gradients(of:withRespectTo:)`. First order:
// the results are plain tensors, not differentiable again.

/// The gradient of the scalar function `f` at `x`.
///
/// ```swift
/// let slope = try gradient(at: Tensor([1, 2, 3])) { x in (x * x).sum() }   // [2, 4, 6]
/// ```
///
/// - Throws: `GradientError` when `f`'s result is not a one-element tensor or does not depend on
///   `x`; whatever `f` throws.
public func gradient(at x: Tensor, of f: (Tensor) throws -> Tensor) throws -> Tensor {
    try valueWithGradient(at: x, of: f).gradient
}

/// `f(x)` and its gradient at `x` (`f` returns one element).
public func valueWithGradient(
    at x: Tensor, of f: (Tensor) throws -> Tensor
) throws -> (value: Tensor, gradient: Tensor) {
    let (value, gradients) = try valueWithGradient(at: [x]) { try f($0[0]) }
    return (value, gradients[0])
}

/// `f(x, y)` and its gradients with respect to both arguments.
public func valueWithGradient(
    at x: Tensor, _ y: Tensor, of f: (Tensor, Tensor) throws -> Tensor
) throws -> (value: Tensor, gradient: (Tensor, Tensor)) {
    let (value, gradients) = try valueWithGradient(at: [x, y]) { try f($0[0], $0[1]) }
    return (value, (gradients[0], gradients[1]))
}

/// `f(xs)` and its gradients with respect to every argument. Arguments `f` does not use get
/// zeros.
public func valueWithGradient(
    at xs: [Tensor], of f: ([Tensor]) throws -> Tensor
) throws -> (value: Tensor, gradients: [Tensor]) {
    let leaves = xs.map { $0.requiringGradient() }
    let value = try f(leaves)
    let result = try gradients(of: value, withRespectTo: leaves, allowUnused: true)
    return (value.detached(), result)
}

/// `f(x)` and its pullback (vector–Jacobian product): `pullback(v)` is vᵀ·∂f/∂x, shaped like
/// `x`, for `v` shaped like `f(x)`. The pullback walks and frees `f`'s graph: call it once.
public func valueWithPullback(
    at x: Tensor, of f: (Tensor) throws -> Tensor
) rethrows -> (value: Tensor, pullback: (Tensor) throws -> Tensor) {
    let leaf = x.requiringGradient()
    let value = try f(leaf)
    return (
        value.detached(),
        { seed in try gradients(of: value, withRespectTo: [leaf], seed: seed, allowUnused: true)[0] }
    )
}

/// The Jacobian ∂f/∂x of a small function, as `[f(x).count, x.count]`: one pullback per output
/// element, so `f` runs that many times. For gradients of scalars use `gradient(at:of:)`.
public func jacobian(at x: Tensor, of f: (Tensor) throws -> Tensor) throws -> Tensor {
    // The first pass tells how many outputs (rows) there are; each pass frees its graph.
    var rows: [Float] = [], outputs = 1, row = 0
    while row < outputs {
        let (value, pullback) = try valueWithPullback(at: x, of: f)
        outputs = value.count
        guard outputs > 0 else { break }
        var seed = [Float](repeating: 0, count: outputs)
        seed[row] = 1
        rows += try pullback(Tensor(shape: value.shape, scalars: seed)).scalars
        row += 1
    }
    return Tensor(shape: [outputs, x.count], scalars: rows)
}

extension Module {
    /// The loss `f()` computes with this model and the gradient of each of the model's trainable
    /// parameters, by property path (MLX's `valueAndGrad(model:)`), without touching
    /// `Parameter.gradient`. Parameters the loss does not use get zeros.
    ///
    /// ```swift
    /// let (loss, gradients) = try model.valueWithGradient { try crossEntropy(model(images), labels: labels) }
    /// ```
    public func valueWithGradient(
        of f: () throws -> Tensor
    ) throws -> (value: Tensor, gradients: [(name: String, gradient: Tensor)]) {
        let trainable = namedParameters.filter { $0.parameter.requiresGradient }
        // A parameter's value read while recording carries the parameter's one leaf node, the
        // same node the loss's graph reaches.
        let leaves = trainable.map(\.parameter.value)
        let value = try f()
        let result = try gradients(of: value, withRespectTo: leaves, allowUnused: true)
        return (value.detached(), zip(trainable, result).map { ($0.name, $1) })
    }
}
