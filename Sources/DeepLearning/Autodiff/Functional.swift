// Differentiation as functions of functions, in the vocabulary of Swift's differentiable
// programming (`gradient(at:of:)`, `valueWithGradient(at:of:)`, `valueWithPullback(at:of:)`)
// and MLX's `valueAndGrad(model:)`, on top of `gradients(of:withRespectTo:)`. They compose like
// JAX's `grad(grad(f))`: called on an argument that is itself being differentiated (inside an
// outer transform, or any recorded value), a transform records its own backward pass
// (`createGraph`), so its result can be differentiated again; called on plain values it runs
// first order and frees its graph.

/// A transform's argument: a fresh leaf for a plain value; for a value of a graph being
/// recorded, a new node over it (so the transform's gradient is its own, and the outer graph
/// reaches through it). The flag says whether the transform must record its backward pass.
private func argument(_ x: Tensor) -> (leaf: Tensor, nested: Bool) {
    guard x.node != nil && GradientMode.isRecording else { return (x.requiringGradient(), false) }
    return (x.identityNode(op: "argument"), true)
}

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
    let arguments = xs.map(argument)
    let nested = arguments.contains(where: \.nested)
    let value = try f(arguments.map(\.leaf))
    let result = try gradients(
        of: value, withRespectTo: arguments.map(\.leaf), createGraph: nested, allowUnused: true)
    return (nested ? value : value.detached(), result)
}

/// `f(x)` and its pullback (vector–Jacobian product, JAX's `vjp`): `pullback(v)` is vᵀ·∂f/∂x,
/// shaped like `x`, for `v` shaped like `f(x)`. The pullback walks and frees `f`'s graph: call
/// it once — unless `x` is being differentiated itself, when the pullback is recorded, keeps the
/// graph and is differentiable in `x` and `v`.
public func valueWithPullback(
    at x: Tensor, of f: (Tensor) throws -> Tensor
) rethrows -> (value: Tensor, pullback: (Tensor) throws -> Tensor) {
    let (leaf, nested) = argument(x)
    let value = try f(leaf)
    return (
        nested ? value : value.detached(),
        { seed in
            try gradients(
                of: value, withRespectTo: [leaf], seed: seed, createGraph: nested || seed.node != nil,
                allowUnused: true)[0]
        }
    )
}

/// `f(x)` and the Jacobian-vector product ∂f/∂x·`v` (forward mode, JAX's `jvp`), shaped like
/// `f(x)`, for `v` shaped like `x`.
///
/// Computed by the double-vjp construction: the pullback u ↦ uᵀ·∂f/∂x is linear in u, so its
/// gradient along v is ∂f/∂x·v. Two backward passes and one forward, on every op of the library
/// (all are differentiable twice), instead of a forward mode of its own.
public func valueWithDifferential(
    at x: Tensor, along v: Tensor, of f: (Tensor) throws -> Tensor
) throws -> (value: Tensor, differential: Tensor) {
    precondition(
        v.shape == x.shape,
        "valueWithDifferential: direction \(describeShape(v.shape)) differs from x \(describeShape(x.shape))")
    let (leaf, nested) = argument(x)
    let value = try f(leaf)
    let dual = Tensor(shape: value.shape, repeating: 0).requiringGradient()
    let vectorJacobian = try gradients(
        of: value, withRespectTo: [leaf], seed: dual, createGraph: true, allowUnused: true)[0]
    let differential = try gradients(
        of: (vectorJacobian * v).sum(), withRespectTo: [dual], createGraph: nested, allowUnused: true)[0]
    return (nested ? value : value.detached(), differential)
}

/// The Hessian-vector product ∇²f(x)·`v` of a scalar function (PyTorch's
/// `torch.autograd.functional.hvp`), shaped like `x`: the gradient of ⟨∇f(x), v⟩, one forward
/// and two backward passes, never forming the Hessian.
///
/// ```swift
/// let hv = try hessianVectorProduct(at: x, along: v) { x in (x * x * x).sum() }   // 6·x·v
/// ```
public func hessianVectorProduct(
    at x: Tensor, along v: Tensor, of f: (Tensor) throws -> Tensor
) throws -> Tensor {
    precondition(
        v.shape == x.shape,
        "hessianVectorProduct: direction \(describeShape(v.shape)) differs from x \(describeShape(x.shape))")
    let (leaf, nested) = argument(x)
    let value = try f(leaf)
    let slope = try gradients(of: value, withRespectTo: [leaf], createGraph: true, allowUnused: true)[0]
    return try gradients(of: (slope * v).sum(), withRespectTo: [leaf], createGraph: nested, allowUnused: true)[0]
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
    ///
    /// - Parameter createGraph: record the backward pass, so the gradients can be differentiated
    ///   again (a penalty on them, meta-learning); default `false`.
    public func valueWithGradient(
        createGraph: Bool = false, of f: () throws -> Tensor
    ) throws -> (value: Tensor, gradients: [(name: String, gradient: Tensor)]) {
        let trainable = namedParameters.filter { $0.parameter.requiresGradient }
        // A parameter's value read while recording carries the parameter's one leaf node, the
        // same node the loss's graph reaches.
        let leaves = trainable.map(\.parameter.value)
        let value = try f()
        let result = try gradients(of: value, withRespectTo: leaves, createGraph: createGraph, allowUnused: true)
        return (createGraph ? value : value.detached(), zip(trainable, result).map { ($0.name, $1) })
    }
}
