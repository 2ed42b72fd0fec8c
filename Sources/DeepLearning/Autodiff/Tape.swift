import Dispatch

/// Computes the gradients of an op's inputs from the gradient of its output.
///
/// - Parameters:
///   - outputGradient: ∂loss/∂output, shaped like the op's output.
///   - needed: one flag per input: whether that input needs a gradient. Skip the work for
///     the others and return `nil` in their place.
/// - Returns: one gradient (shaped like the input) or `nil` per input.
public typealias Pullback = (_ outputGradient: Tensor, _ needed: [Bool]) -> [Tensor?]

/// A node of the reverse-mode graph: the op that produced a value, its inputs' nodes and
/// its pullback. Leaves belong to `Parameter`s and accumulate into `Parameter.gradient`.
final class GradNode {
    /// The nodes of the op's inputs; `nil` where that input does not require a gradient.
    private(set) var inputs: [GradNode?]
    private(set) var pullback: Pullback?
    /// The function that recorded this op (for `OpProfiler`).
    let op: StaticString
    /// Shapes or settings that `OpProfiler.detailed` reports per op (set only while profiling).
    var detail: String?
    /// The profile key: the op, with its detail when profiling in detail.
    var profileName: String { detail.map { "\(op) \($0)" } ?? "\(op)" }
    /// Set for leaves: the parameter whose gradient this node accumulates.
    weak var parameter: Parameter?
    /// The gradient flowing into this node during one `backward` pass.
    var pendingGradient: Tensor?

    init(inputs: [GradNode?], op: StaticString, pullback: @escaping Pullback) {
        self.inputs = inputs
        self.op = op
        self.pullback = pullback
    }

    init(parameter: Parameter) {
        inputs = []
        op = "parameter"
        self.parameter = parameter
    }

    var isLeaf: Bool { parameter != nil || (inputs.isEmpty && pullback == nil) }

    /// Frees the saved tensors once the pullback has run (PyTorch's `retain_graph=False`).
    func release() {
        inputs = []
        pullback = nil
        consumed = true
    }
    private(set) var consumed = false
}

extension Tensor {
    /// Attaches an op's pullback to its freshly computed `output`, if any input requires a
    /// gradient and recording is on. Every differentiable op ends with this call.
    ///
    /// - Parameters:
    ///   - output: the op's result, computed without any autodiff bookkeeping.
    ///   - inputs: the op's tensor inputs, in the order the pullback returns gradients.
    ///   - op: the op's name for profiles; defaults to the calling function.
    ///   - pullback: maps ∂loss/∂output to ∂loss/∂input for each needed input.
    public static func recording(_ output: Tensor, inputs: [Tensor], op: StaticString = #function,
                                 pullback: @escaping Pullback) -> Tensor {
        recording(output, inputs: inputs, op: op, detail: nil, pullback: pullback)
    }

    /// `recording(_:inputs:op:pullback:)` with a detail (e.g. shapes) for detailed profiles.
    static func recording(_ output: Tensor, inputs: [Tensor], op: StaticString = #function, detail: @autoclosure () -> String?,
                          pullback: @escaping Pullback) -> Tensor {
        let detail = OpProfiler.isEnabled && OpProfiler.detailed ? detail() : nil
        if OpProfiler.isEnabled { OpProfiler.recordForward(detail.map { "\(op) \($0)" } ?? "\(op)") }
        guard GradientMode.isRecording else { return output }
        var anyNeeded = false
        let nodes: [GradNode?] = inputs.map { input in
            if input.node != nil { anyNeeded = true }
            return input.node
        }
        guard anyNeeded else { return output }
        var result = output
        result.node = GradNode(inputs: nodes, op: op, pullback: pullback)
        result.node!.detail = detail
        return result
    }

    /// Back-propagates from this value and accumulates into every `Parameter.gradient` it
    /// depends on.
    ///
    /// - Parameter seed: ∂loss/∂self. Defaults to 1 and then requires a one-element tensor.
    ///
    /// The graph's saved tensors are freed as it is walked: call it once per forward pass.
    public func backward(seed: Tensor? = nil) {
        guard let root = node else {
            preconditionFailure("backward(): this tensor does not depend on any parameter that requires a gradient")
        }
        if let seed {
            precondition(seed.shape == shape,
                         "backward(seed:): seed shape \(describeShape(seed.shape)) differs from \(describeShape(shape))")
        } else {
            precondition(count == 1, "backward() needs a scalar; got shape \(describeShape(shape)); pass a seed")
        }
        let order = topologicalOrder(from: root)
        // A released node has forgotten its inputs: a gradient reaching it would be dropped
        // silently (e.g. a value shared by two losses, the first already back-propagated).
        precondition(!order.contains { $0.consumed },
                     "backward(): part of this graph was already back-propagated (graphs are freed by backward()); run the forward pass again or detach the shared value")
        root.pendingGradient = seed?.detached() ?? Tensor(shape: shape, repeating: 1)
        withoutGradient {
            for current in order.reversed() {
                guard let gradient = current.pendingGradient else { continue }
                current.pendingGradient = nil
                if let parameter = current.parameter {
                    let started = OpProfiler.isEnabled ? DispatchTime.now().uptimeNanoseconds : 0
                    parameter.accumulateGradient(gradient)
                    if OpProfiler.isEnabled { OpProfiler.recordBackward("parameter gradient", since: started) }
                    continue
                }
                guard let pullback = current.pullback else { continue }
                let inputs = current.inputs
                let started = OpProfiler.isEnabled ? DispatchTime.now().uptimeNanoseconds : 0
                let inputGradients = pullback(gradient, inputs.map { $0 != nil })
                precondition(inputGradients.count == inputs.count, "pullback returned \(inputGradients.count) gradients for \(inputs.count) inputs")
                for (input, inputGradient) in zip(inputs, inputGradients) {
                    guard let input, let inputGradient else { continue }
                    if input.pendingGradient == nil {
                        input.pendingGradient = inputGradient
                    } else {
                        input.pendingGradient!.addInPlace(inputGradient)
                    }
                }
                current.release()
                if OpProfiler.isEnabled { OpProfiler.recordBackward(current.profileName, since: started) }
            }
        }
    }
}

/// Post-order depth-first walk (iterative, so deep graphs cannot overflow the stack).
private func topologicalOrder(from root: GradNode) -> [GradNode] {
    var order: [GradNode] = []
    var visited = Set<ObjectIdentifier>()
    var stack: [(node: GradNode, nextInput: Int)] = [(root, 0)]
    visited.insert(ObjectIdentifier(root))
    while !stack.isEmpty {
        let (node, index) = stack[stack.count - 1]
        if index < node.inputs.count {
            stack[stack.count - 1].nextInput += 1
            if let child = node.inputs[index], visited.insert(ObjectIdentifier(child)).inserted {
                stack.append((child, 0))
            }
        } else {
            order.append(node)
            stack.removeLast()
        }
    }
    return order
}
