// Trading compute for memory (PyTorch's `torch.utils.checkpoint`, JAX's `remat`): a block runs
// forward without recording, so none of its intermediates are kept, and its one recorded node
// runs the block again during backward — with the same dropout masks and batch statistics —
// then differentiates the recomputed graph with `gradients(of:withRespectTo:)`.

/// `block(inputs)` without keeping the block's intermediate values: they are recomputed during
/// the backward pass, so a network's peak memory holds only each block's inputs and output.
/// Results and gradients are bit-identical to `block(inputs)`'s.
///
/// ```swift
/// y = checkpointed([y, skip], through: [upBlock]) { upBlock($0[0], skip: $0[1]) }
/// ```
///
/// The recomputation replays the listed modules' state as it was before the forward pass —
/// each `Dropout`'s and `Dropout2D`'s random stream and every buffer (batch norm's running
/// statistics) — and leaves it as the forward pass did, so the run goes on as if the block had
/// run once. The block's parameters' gradients reach `Parameter.gradient` through the outer
/// backward pass, like any op's (data-parallel hooks included). The block runs again inside
/// `backward()`: per-thread scopes it depends on (`withMatrixPrecision`, the batch-norm scopes)
/// must be in force there too, as the pix2pix trainer's are (they surround its whole step).
///
/// - Parameters:
///   - inputs: the block's tensor inputs.
///   - modules: every module whose parameters or state the block uses: gradients reach only
///     these parameters, and reading another parameter is a precondition failure.
///   - block: the computation; it must be deterministic given the modules' state.
/// - Returns: `block(inputs)`, recorded as one op.
public func checkpointed(
    _ inputs: [Tensor], through modules: [Module], _ block: @escaping ([Tensor]) -> Tensor
) -> Tensor {
    let parameters = modules.flatMap(\.parameters).filter(\.requiresGradient)
    guard GradientMode.isRecording, inputs.contains(where: \.requiresGradient) || !parameters.isEmpty else {
        return block(inputs)
    }
    let before = ModuleState(modules)
    let output = withoutGradient { block(inputs.map { $0.detached() }) }
    let after = ModuleState(modules)
    let savedInputs = inputs.map { $0.detached() }
    let parameterValues = parameters.map(\.value)  // the parameters' leaves, read while recording
    return Tensor.recording(output, inputs: inputs + parameterValues) { gradient, needed in
        before.restore()
        defer { after.restore() }
        if GradientMode.isRecording {
            // A recorded pass: the block again on the recorded inputs, differentiated as a composite.
            return compositePullback(inputs: inputs + parameterValues, gradient: gradient, needed: needed) {
                block(Array($0.prefix(inputs.count)))
            }
        }
        let leaves = savedInputs.enumerated().map { needed[$0] ? $1.requiringGradient() : $1 }
        let (recomputed, parameterLeaves) = withGradientRecording {
            (block(leaves), parameters.map(\.value))
        }
        checkOnlyListedParameters(recomputed, parameters)
        let targets = zip(leaves, needed).filter { $1 }.map(\.0) + parameterLeaves
        let results: [Tensor]
        do {
            results = try gradients(of: recomputed, withRespectTo: targets, seed: gradient, allowUnused: true)
        } catch {
            preconditionFailure("checkpointed: differentiating the recomputed block failed: \(error)")
        }
        // One entry per recorded input: the inputs' gradients where needed, then the parameters'.
        var next = 0
        let inputGradients: [Tensor?] = needed[..<inputs.count].map { isNeeded in
            guard isNeeded else { return nil }
            defer { next += 1 }
            return results[next]
        }
        return inputGradients + results[next...].map { Optional($0) }
    }
}

/// `checkpointed` for a layer with one input: `layer(input)`, its intermediates recomputed
/// during backward.
public func checkpointed(_ layer: Layer, _ input: Tensor) -> Tensor {
    checkpointed([input], through: [layer]) { layer($0[0]) }
}

/// Runs `body` with the calling thread recording, even inside `withoutGradient` (a pullback
/// recomputing its forward pass).
func withGradientRecording<R>(_ body: () throws -> R) rethrows -> R {
    let state = ThreadState.current
    let depth = state.gradientDisabledDepth
    state.gradientDisabledDepth = 0
    defer { state.gradientDisabledDepth = depth }
    return try body()
}

/// The random streams and buffers of some modules, to replay them.
private struct ModuleState {
    let dropouts: [(Dropout, SeededGenerator)]
    let channelDropouts: [(Dropout2D, SeededGenerator)]
    let buffers: [(Buffer, Tensor)]

    init(_ modules: [Module]) {
        let all = modules.flatMap { [$0] + $0.modules }
        dropouts = all.compactMap { $0 as? Dropout }.map { ($0, $0.generator) }
        channelDropouts = all.compactMap { $0 as? Dropout2D }.map { ($0, $0.generator) }
        buffers = modules.flatMap(\.namedBuffers).map { ($0.buffer, $0.buffer.value) }
    }

    func restore() {
        for (layer, generator) in dropouts { layer.generator = generator }
        for (layer, generator) in channelDropouts { layer.generator = generator }
        for (buffer, value) in buffers { buffer.value = value }
    }
}

/// Stops when the recomputed block read a parameter outside the modules it was given: its
/// gradient would be lost.
private func checkOnlyListedParameters(_ output: Tensor, _ parameters: [Parameter]) {
    guard let root = output.node else { return }
    let listed = Set(parameters.map(ObjectIdentifier.init))
    for node in topologicalOrder(from: root) {
        if let parameter = node.parameter {
            precondition(
                listed.contains(ObjectIdentifier(parameter)),
                "checkpointed: the block reads a parameter \(describeShape(parameter.shape)) of a module not in `through:`; list every module it uses"
            )
        }
    }
}
