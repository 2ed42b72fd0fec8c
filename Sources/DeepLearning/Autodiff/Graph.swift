// The reverse-mode graph. Every differentiable op computes its output, then calls
// `Tensor.recording`, which links the output to the nodes of its inputs with the op's pullback.
// `backward()` (Backward.swift) walks that graph once, in reverse topological order.

/// Computes the gradients of an op's inputs from the gradient of its output.
///
/// - Parameters:
///   - outputGradient: ∂loss/∂output, shaped like the op's output.
///   - needed: one flag per input: whether that input needs a gradient. Skip the work for
///     the others and return `nil` in their place.
/// - Returns: one gradient (shaped like the input) or `nil` per input.
public typealias Pullback = (_ outputGradient: Tensor, _ needed: [Bool]) -> [Tensor?]

/// A node of the reverse-mode graph: the op that produced a value, its inputs' nodes and
/// its pullback. Leaves belong to `Parameter`s, which accumulate into `Parameter.gradient`, or
/// to tensors made leaves by `requiringGradient()`.
final class GradNode {
    /// The nodes of the op's inputs; `nil` where that input does not require a gradient.
    private(set) var inputs: [GradNode?]
    private(set) var pullback: Pullback?
    /// The function that recorded this op (for `OpProfiler`).
    let op: StaticString
    /// Shapes or settings that a detailed `OpProfiler` profile reports per op (set only then).
    var detail: String?
    /// The profile key: the op, with its detail when profiling in detail.
    var profileName: String { detail.map { "\(op) \($0)" } ?? "\(op)" }
    /// Set for leaves: the parameter whose gradient this node accumulates.
    weak var parameter: Parameter?
    /// Set once the pullback has run and the saved tensors are freed.
    private(set) var consumed = false

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

    /// A leaf of a tensor that requires a gradient without being a `Parameter`
    /// (`Tensor.requiringGradient()`): `gradients(of:withRespectTo:)` reads its gradient, and
    /// `backward()` gives it none.
    init(leaf: ()) {
        inputs = []
        op = "leaf"
    }

    /// Frees the saved tensors once the pullback has run (PyTorch's `retain_graph=False`).
    func release() {
        inputs = []
        pullback = nil
        consumed = true
    }
}

extension Tensor {
    /// Attaches an op's pullback to its freshly computed `output`, if any input requires a
    /// gradient and the calling thread records. Every differentiable op ends with this call.
    ///
    /// - Parameters:
    ///   - output: the op's result, computed without any autodiff bookkeeping.
    ///   - inputs: the op's tensor inputs, in the order the pullback returns gradients.
    ///   - op: the op's name for profiles; defaults to the calling function.
    ///   - pullback: maps ∂loss/∂output to ∂loss/∂input for each needed input.
    public static func recording(
        _ output: Tensor, inputs: [Tensor], op: StaticString = #function,
        pullback: @escaping Pullback
    ) -> Tensor {
        recording(output, inputs: inputs, op: op, detail: nil, pullback: pullback)
    }

    /// `recording(_:inputs:op:pullback:)` with a detail (e.g. shapes) for detailed profiles.
    static func recording(
        _ output: Tensor, inputs: [Tensor], op: StaticString = #function, detail: @autoclosure () -> String?,
        pullback: @escaping Pullback
    ) -> Tensor {
        let state = ThreadState.current
        var profiledDetail: String?
        if let profile = state.profile {
            profiledDetail = profile.detailed ? detail() : nil
            profile.recordForward(profiledDetail.map { "\(op) \($0)" } ?? "\(op)")
        }
        guard state.gradientDisabledDepth == 0, inputs.contains(where: { $0.node != nil }) else { return output }
        var result = output
        result.node = GradNode(inputs: inputs.map(\.node), op: op, pullback: pullback)
        result.node!.detail = profiledDetail
        return result
    }
}

/// The tensor inputs of an op named by role, for ops with optional inputs (a bias; γ and β):
/// the pullback asks whether a role is needed and returns gradients by role, instead of
/// counting positions (PyTorch's `derivatives.yaml` names each input's formula the same way).
///
/// ```swift
/// var inputs = RecordedInputs<ConvolutionInput>()
/// inputs.append(.input, x); inputs.append(.kernel, w); inputs.append(.bias, b)   // b optional
/// Tensor.recording(y, inputs: inputs.tensors) { dy, needed in
///     inputs.gradients(needed) { role in … }                                     // per needed role
/// }
/// ```
struct RecordedInputs<Role: Hashable> {
    private(set) var tensors: [Tensor] = []
    private(set) var roles: [Role] = []

    /// Adds `tensor` in `role`; an absent optional input (`nil`) adds nothing.
    mutating func append(_ role: Role, _ tensor: Tensor?) {
        guard let tensor else { return }
        tensors.append(tensor)
        roles.append(role)
    }

    /// Whether the op has an input in `role`.
    func has(_ role: Role) -> Bool { roles.contains(role) }

    /// The pullback's results: `gradient(role)` for each needed role, `nil` for the others.
    func gradients(_ needed: [Bool], _ gradient: (Role) -> Tensor?) -> [Tensor?] {
        zip(roles, needed).map { role, isNeeded in isNeeded ? gradient(role) : nil }
    }

    /// The inputs as recorded, by role (for a composite derivative).
    func tensor(_ role: Role, in tensors: [Tensor]) -> Tensor? {
        roles.firstIndex(of: role).map { tensors[$0] }
    }
}
