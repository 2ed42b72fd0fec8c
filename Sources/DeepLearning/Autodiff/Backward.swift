import Dispatch

extension Tensor {
    /// Back-propagates from this value and accumulates into every `Parameter.gradient` it
    /// depends on.
    ///
    /// - Parameters:
    ///   - seed: ∂loss/∂self. Defaults to 1 and then requires a one-element tensor.
    ///   - createGraph: `true` records the backward pass itself (PyTorch's `create_graph=True`):
    ///     each `Parameter.gradient` is then a value of the graph that can be differentiated again,
    ///     and the forward graph is kept for that. Default `false`: the pass runs with recording
    ///     off and frees the graph behind it.
    ///   - onGradientReady: called, on the calling thread, as soon as a parameter's gradient of
    ///     this pass is complete (every op that read it has been back-propagated) and added to
    ///     `Parameter.gradient` — before the rest of the pass runs. Data-parallel training
    ///     starts its allreduce of a bucket of gradients from here (PyTorch's DDP hooks).
    ///
    /// Without `createGraph` the graph's saved tensors are freed as it is walked: call it once
    /// per forward pass. Pullbacks run on the calling thread, with recording off (on that thread
    /// only) unless `createGraph`.
    public func backward(
        seed: Tensor? = nil, createGraph: Bool = false, onGradientReady: ((Parameter) -> Void)? = nil
    ) {
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
        let pass = BackwardPass(root: root, createGraph: createGraph)
        // A released node has forgotten its inputs: a gradient reaching it would be dropped
        // silently (e.g. a value shared by two losses, the first already back-propagated).
        precondition(
            pass.freedNode == nil,
            "backward(): part of this graph was already back-propagated (graphs are freed by backward()); run the forward pass again, detach the shared value, or pass createGraph: true to the first pass"
        )
        pass.run(seed: pass.seed(seed, shape: shape)) { node, gradient in
            guard let parameter = node.parameter else { return }
            if createGraph {
                parameter.accumulateRecordedGradient(gradient)
            } else {
                parameter.accumulateGradient(gradient)
            }
            onGradientReady?(parameter)
        }
    }
}

/// One reverse pass over the graph behind `root`, shared by `backward()` and
/// `gradients(of:withRespectTo:)`: reverse topological order, each node's pullback run once
/// with the sum of the gradients its consumers sent it. The pending gradients live in the pass,
/// not in the nodes, so a pullback may itself run a pass (a composite derivative, a recomputed
/// block) over a graph that shares nodes with this one.
struct BackwardPass {
    let createGraph: Bool
    /// Nodes whose pullbacks do not run: their gradient is delivered and the walk goes no
    /// further behind them (the inputs of a local derivative).
    let stops: Set<ObjectIdentifier>
    let order: [GradNode]
    /// When pruned: the nodes from which a target can be reached; others are skipped.
    private(set) var relevant: Set<ObjectIdentifier>?

    init(root: GradNode, createGraph: Bool, stoppingAt stops: Set<ObjectIdentifier> = []) {
        self.createGraph = createGraph
        self.stops = stops
        order = topologicalOrder(from: root, stoppingAt: stops)
    }

    /// Restricts the pass to the nodes that lead to one of `targets`.
    mutating func prune(to targets: Set<ObjectIdentifier>) {
        var leadsToTarget = Set<ObjectIdentifier>()
        // Inputs come before their consumers in `order`.
        for node in order {
            let id = ObjectIdentifier(node)
            if targets.contains(id)
                || (!stops.contains(id)
                    && node.inputs.contains { $0.map { leadsToTarget.contains(ObjectIdentifier($0)) } ?? false })
            {
                leadsToTarget.insert(id)
            }
        }
        relevant = leadsToTarget
    }

    /// A node the walk would pass through whose pullback already ran and was freed.
    var freedNode: GradNode? {
        order.first { $0.consumed && !stops.contains(ObjectIdentifier($0)) }
    }

    /// The gradient the walk starts from: `seed` (kept differentiable when recording the pass)
    /// or ones of `shape`.
    func seed(_ seed: Tensor?, shape: [Int]) -> Tensor {
        guard let seed else { return Tensor(shape: shape, repeating: 1) }
        return createGraph ? seed : seed.detached()
    }

    /// Walks from the root with `seed`; `arrive` sees every node's total gradient once it is
    /// complete, before the node's pullback runs (leaves and stops have none).
    func run(seed: Tensor, arrive: (GradNode, Tensor) -> Void) {
        guard let root = order.last else { return }
        var pending: [ObjectIdentifier: Tensor] = [ObjectIdentifier(root): seed]
        let profile = ThreadState.current.profile
        let walk = {
            for current in order.reversed() {
                let id = ObjectIdentifier(current)
                if let relevant, !relevant.contains(id) { continue }
                guard let gradient = pending.removeValue(forKey: id) else { continue }
                let started = profile == nil ? 0 : DispatchTime.now().uptimeNanoseconds
                arrive(current, gradient)
                if current.parameter != nil { profile?.recordBackward("parameter gradient", since: started) }
                guard !stops.contains(id), let pullback = current.pullback else { continue }
                let inputs = current.inputs
                let needed = inputs.map { input in
                    input.map { relevant?.contains(ObjectIdentifier($0)) ?? true } ?? false
                }
                let inputGradients = pullback(gradient, needed)
                precondition(
                    inputGradients.count == inputs.count,
                    "pullback of \(current.op) returned \(inputGradients.count) gradients for \(inputs.count) inputs")
                for index in inputs.indices where needed[index] {
                    guard let input = inputs[index], let inputGradient = inputGradients[index] else { continue }
                    if createGraph && gradient.node != nil && inputGradient.node == nil {
                        preconditionFailure(
                            "createGraph: the pullback of \(current.op) returned a gradient for input \(index) that is not recorded, so it cannot be differentiated again; its pullback must compute with differentiable ops while recording (Docs/Autodiff.md)"
                        )
                    }
                    let inputID = ObjectIdentifier(input)
                    if let existing = pending[inputID] {
                        if createGraph {
                            pending[inputID] = existing + inputGradient
                        } else {
                            pending[inputID]!.addInPlace(inputGradient)
                        }
                    } else {
                        pending[inputID] = inputGradient
                    }
                }
                if !createGraph { current.release() }
                profile?.recordBackward(current.profileName, since: started)
            }
        }
        if createGraph { withGradientRecording(walk) } else { withoutGradient(walk) }
    }
}

/// Post-order depth-first walk (iterative, so deep graphs cannot overflow the stack): every
/// node after all of its inputs. The walk does not go behind the nodes in `stops`.
func topologicalOrder(from root: GradNode, stoppingAt stops: Set<ObjectIdentifier> = []) -> [GradNode] {
    var order: [GradNode] = []
    var visited = Set<ObjectIdentifier>()
    var stack: [(node: GradNode, nextInput: Int)] = [(root, 0)]
    visited.insert(ObjectIdentifier(root))
    while !stack.isEmpty {
        let (node, index) = stack[stack.count - 1]
        if index < node.inputs.count && !stops.contains(ObjectIdentifier(node)) {
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
