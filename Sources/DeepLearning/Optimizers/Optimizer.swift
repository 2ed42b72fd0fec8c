/// Updates parameters from their accumulated gradients.
///
/// Optimizers find their parameters by traversal (`Adam(for: model)`) and cache the list, so
/// no reflection happens per step. `update()` applies each parameter's gradient and clears
/// it; parameters without a gradient (frozen, or unused this step) are skipped.
public protocol Optimizer: AnyObject {
    /// The step size; settable between steps for schedules.
    var learningRate: Float { get set }
    /// Number of `update()` calls applied so far.
    var step: Int { get }
    /// Applies the accumulated gradients and zeroes them.
    func update()
    /// The optimizer's per-parameter state, named `<parameter path>.<slot>` (e.g. `encoder.0.conv.kernel.m`).
    func stateTensors() -> [String: Tensor]
    /// Restores state saved by `stateTensors()`.
    ///
    /// - Throws: `ShapeError` naming the tensor when one is missing or mis-shaped.
    func loadState(_ tensors: [String: Tensor], step: Int) throws
}

/// Per-parameter slot storage shared by the optimizers: one tensor per (parameter, slot),
/// created lazily at zero.
final class OptimizerSlots {
    let parameters: [(name: String, parameter: Parameter)]
    let slotNames: [String]
    /// `values[slot][parameterIndex]`.
    var values: [[Tensor?]]

    init(parameters: [(name: String, parameter: Parameter)], slotNames: [String]) {
        self.parameters = parameters
        self.slotNames = slotNames
        values = slotNames.map { _ in Array(repeating: nil, count: parameters.count) }
    }

    /// The slot's tensor for parameter `index`, created at zero on first use; mutable in place.
    func pointer(slot: Int, parameter index: Int) -> UnsafeMutablePointer<Float> {
        if values[slot][index] == nil {
            values[slot][index] = Tensor(shape: parameters[index].parameter.shape, repeating: 0)
        }
        return values[slot][index]!.storage.pointer
    }

    func stateTensors() -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        for (slot, slotName) in slotNames.enumerated() {
            for (index, entry) in parameters.enumerated() {
                if let value = values[slot][index] { result["\(entry.name).\(slotName)"] = value.copied() }
            }
        }
        return result
    }

    func load(_ tensors: [String: Tensor]) throws {
        var loaded = values
        for (slot, slotName) in slotNames.enumerated() {
            for (index, entry) in parameters.enumerated() {
                let key = "\(entry.name).\(slotName)"
                guard let tensor = tensors[key] else { loaded[slot][index] = nil; continue }
                guard tensor.shape == entry.parameter.shape else {
                    throw ShapeError(
                        "optimizer state \(key): shape \(describeShape(tensor.shape)) but the parameter is \(describeShape(entry.parameter.shape))"
                    )
                }
                loaded[slot][index] = tensor.copied()
            }
        }
        let known = Set(slotNames.flatMap { slot in parameters.map { "\($0.name).\(slot)" } })
        if let unknown = tensors.keys.sorted().first(where: { !known.contains($0) }) {
            throw ShapeError("optimizer state \(unknown) matches no parameter of this model")
        }
        values = loaded
    }
}
