import Dispatch

extension Tensor {
    /// Back-propagates from this value and accumulates into every `Parameter.gradient` it
    /// depends on.
    ///
    /// - Parameters:
    ///   - seed: ∂loss/∂self. Defaults to 1 and then requires a one-element tensor.
    ///   - onGradientReady: called, on the calling thread, as soon as a parameter's gradient of
    ///     this pass is complete (every op that read it has been back-propagated) and added to
    ///     `Parameter.gradient` — before the rest of the pass runs. Data-parallel training
    ///     starts its allreduce of a bucket of gradients from here (PyTorch's DDP hooks).
    ///
    /// The graph's saved tensors are freed as it is walked: call it once per forward pass.
    /// Pullbacks run on the calling thread with recording off (on that thread only).
    public func backward(seed: Tensor? = nil, onGradientReady: ((Parameter) -> Void)? = nil) {
        guard let root = node else {
            preconditionFailure("backward(): this tensor does not depend on any parameter that requires a gradient")
        }
        if let seed {
            precondition(
                seed.shape == shape,
                "backward(seed:): seed shape \(describeShape(seed.shape)) differs from \(describeShape(shape))")
        } else {
            precondition(count == 1, "backward() needs a scalar; got shape \(describeShape(shape)); pass a seed")
        }
        let order = topologicalOrder(from: root)
        // A released node has forgotten its inputs: a gradient reaching it would be dropped
        // silently (e.g. a value shared by two losses, the first already back-propagated).
        precondition(
            !order.contains { $0.consumed },
            "backward(): part of this graph was already back-propagated (graphs are freed by backward()); run the forward pass again or detach the shared value"
        )
        root.pendingGradient = seed?.detached() ?? Tensor(shape: shape, repeating: 1)
        let profile = ThreadState.current.profile
        withoutGradient {
            for current in order.reversed() {
                guard let gradient = current.pendingGradient else { continue }
                current.pendingGradient = nil
                let started = profile == nil ? 0 : DispatchTime.now().uptimeNanoseconds
                if let parameter = current.parameter {
                    parameter.accumulateGradient(gradient)
                    profile?.recordBackward("parameter gradient", since: started)
                    onGradientReady?(parameter)
                    continue
                }
                guard let pullback = current.pullback else { continue }
                let inputs = current.inputs
                let inputGradients = pullback(gradient, inputs.map { $0 != nil })
                precondition(
                    inputGradients.count == inputs.count,
                    "pullback returned \(inputGradients.count) gradients for \(inputs.count) inputs")
                for (input, inputGradient) in zip(inputs, inputGradients) {
                    guard let input, let inputGradient else { continue }
                    input.receive(inputGradient)
                }
                current.release()
                profile?.recordBackward(current.profileName, since: started)
            }
        }
    }
}

/// Post-order depth-first walk (iterative, so deep graphs cannot overflow the stack): every
/// node after all of its inputs.
func topologicalOrder(from root: GradNode) -> [GradNode] {
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
