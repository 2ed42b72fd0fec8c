// What a pullback needs to be differentiated again (`createGraph: true`). While a pass is being
// recorded its pullbacks run with recording on, so a pullback written with differentiable ops
// records itself. The library's ops keep their fused first-order kernels and, when recording,
// take one of three routes (Docs/Autodiff.md):
//   - linear ops (sums, reshapes, slices, pooling by averages, …) compute their pullback with
//     the adjoint op, which is itself recorded;
//   - ops whose derivative is a few ops (products, convolutions, elementwise functions) write
//     it with differentiable ops — a convolution's input gradient is a transposed convolution;
//   - fused composites (normalisations with their activation, attention, losses) differentiate
//     the same function written as a composition of differentiable ops (`compositePullback`).

extension Tensor {
    /// `recording(_:inputs:op:pullback:)` for a pullback that reads the op's output (y of
    /// exp, tanh, softmax): the pullback receives it as a value of the graph, so that a
    /// recorded pass (`createGraph: true`) differentiates through it. The node is held weakly,
    /// so the output does not keep itself alive.
    ///
    /// ```swift
    /// // eˣ with its own derivative eˣ = y, differentiable to any order:
    /// Tensor.recording(output, inputs: [x]) { outputGradient, _, y in [outputGradient * y] }
    /// ```
    public static func recording(
        _ output: Tensor, inputs: [Tensor], op: StaticString = #function,
        readingOutput pullback: @escaping (_ outputGradient: Tensor, _ needed: [Bool], _ output: Tensor) -> [Tensor?]
    ) -> Tensor {
        recording(output, inputs: inputs, op: op, detail: nil, readingOutput: pullback)
    }

    /// `recording(_:inputs:op:readingOutput:)` with a detail for detailed profiles.
    static func recording(
        _ output: Tensor, inputs: [Tensor], op: StaticString = #function, detail: @autoclosure () -> String?,
        readingOutput pullback: @escaping (_ outputGradient: Tensor, _ needed: [Bool], _ output: Tensor) -> [Tensor?]
    ) -> Tensor {
        let link = WeakNode()
        let savedOutput = output.detached()
        let result = recording(output, inputs: inputs, op: op, detail: detail()) { gradient, needed in
            var output = savedOutput
            output.node = link.node
            return pullback(gradient, needed, output)
        }
        link.node = result.node
        return result
    }

    /// The same value as a new node of the graph whose pullback passes the gradient through:
    /// a separate input for a local derivative, even where two inputs are one tensor.
    func identityNode(op: StaticString = #function) -> Tensor {
        Tensor.recording(detached(), inputs: [self], op: op) { gradient, _ in [gradient] }
    }

    /// Zeros of `shape` recorded as linear in `gradient`: the derivative of an input that does
    /// not influence the output, in a recorded pass.
    static func recordedZeros(_ shape: [Int], like gradient: Tensor) -> Tensor {
        guard gradient.node != nil else { return Tensor(shape: shape, repeating: 0) }
        return (gradient.sum() * 0).broadcasted(to: shape)
    }
}

private final class WeakNode {
    weak var node: GradNode?
}

/// The pullback of an op in a recorded pass, as the derivative of `composite` — the same function
/// written with differentiable ops — at the op's inputs: `composite` runs again on stand-ins of
/// the inputs, and a pass local to it, stopping at the stand-ins, returns the partial
/// derivatives, recorded. For fused ops whose first-order kernels cannot be differentiated
/// again (normalisation with its activation, attention, losses).
///
/// - Parameters:
///   - inputs: the op's inputs as recorded (with their nodes).
///   - gradient: the gradient of the op's output.
///   - needed: the pullback's flags.
///   - composite: the op as differentiable ops, from its inputs to its output.
func compositePullback(
    inputs: [Tensor], gradient: Tensor, needed: [Bool], _ composite: ([Tensor]) -> Tensor
) -> [Tensor?] {
    // A parameter's leaf stands for itself (a composite may read it through its module, as a
    // recomputed block does); a leaf listed twice gets a stand-in the second time.
    var seenLeaves = Set<ObjectIdentifier>()
    let standIns = inputs.map { input -> Tensor in
        guard let node = input.node else { return input }
        if node.parameter != nil, seenLeaves.insert(ObjectIdentifier(node)).inserted { return input }
        return input.identityNode(op: "compositePullback")
    }
    let output = withGradientRecording { composite(standIns) }
    precondition(
        output.shape == gradient.shape,
        "compositePullback: the composite's output \(describeShape(output.shape)) differs from the gradient \(describeShape(gradient.shape))"
    )
    var results: [ObjectIdentifier: Tensor] = [:]
    let targets = Set(zip(standIns, needed).compactMap { $1 ? $0.node.map(ObjectIdentifier.init) : nil })
    if let root = output.node {
        var pass = BackwardPass(root: root, createGraph: true, stoppingAt: targets)
        pass.prune(to: targets)
        pass.run(seed: gradient) { node, nodeGradient in
            let id = ObjectIdentifier(node)
            if targets.contains(id) { results[id] = nodeGradient }
        }
    }
    return inputs.indices.map { index in
        guard needed[index] else { return nil }
        if let node = standIns[index].node, let result = results[ObjectIdentifier(node)] { return result }
        return Tensor.recordedZeros(inputs[index].shape, like: gradient)
    }
}

extension Tensor {
    /// `apply(self)` for a linear map `apply` whose adjoint is `adjoint` (a recorded op): the
    /// pullback of a linear op, recorded when the pass is, with the op itself as its pullback.
    /// Without recording it is `apply(self)` and nothing more.
    func linearMap(
        op: StaticString = #function, _ apply: (Tensor) -> Tensor, adjoint: @escaping (Tensor) -> Tensor
    ) -> Tensor {
        Tensor.recording(apply(self), inputs: [self], op: op) { gradient, _ in [adjoint(gradient)] }
    }
}
