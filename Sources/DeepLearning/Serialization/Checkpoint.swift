import Foundation

/// Model checkpoints: a module's parameters and buffers, named by property path, stored as
/// safetensors. See Docs/Checkpoints.md for the name scheme and guarantees.
extension Module {
    /// Every parameter and buffer with its property path, in declaration order:
    /// `encoder.1.conv.kernel`, `norm.runningMean`, …. Arrays are named by index; `nil`
    /// optionals contribute nothing; a parameter shared by two layers appears once, under
    /// the first path that reaches it.
    public func stateDictionary() -> [(name: String, tensor: Tensor)] {
        var seen = Set<ObjectIdentifier>()
        var result: [(name: String, tensor: Tensor)] = []
        visitMembers { member in
            switch member {
            case let .parameter(name, parameter):
                if seen.insert(ObjectIdentifier(parameter)).inserted {
                    result.append((name, withoutGradient { parameter.value }))
                }
            case let .buffer(name, buffer):
                if seen.insert(ObjectIdentifier(buffer)).inserted { result.append((name, buffer.value.detached())) }
            case .module:
                break
            }
        }
        return result
    }

    /// Copies `tensors` into the parameters and buffers of the same names.
    ///
    /// Everything is validated before anything is assigned, so a failed load leaves the
    /// module unchanged.
    ///
    /// - Parameters:
    ///   - tensors: Tensors keyed by property path, as produced by `stateDictionary()`.
    ///   - strict: If `true` (default), every parameter and buffer must be present and no
    ///     other names may appear. If `false`, missing ones keep their values and unknown
    ///     names are ignored (for loading part of a model). Shapes must match either way.
    /// - Throws: `SerializationError` (path `"state dictionary"`) naming each tensor whose
    ///   shape differs (with both shapes), and listing missing and unexpected names.
    public func loadStateDictionary(_ tensors: [String: Tensor], strict: Bool = true) throws {
        var assignments: [() -> Void] = []
        var problems: [String] = []
        var missing: [String] = []
        var known = Set<String>()
        visitMembers { member in
            let name: String, shape: [Int], assign: (Tensor) -> Void
            switch member {
            case let .parameter(path, parameter):
                (name, shape, assign) = (path, parameter.shape, { parameter.value = $0 })
            case let .buffer(path, buffer):
                (name, shape, assign) = (path, buffer.value.shape, { buffer.value = $0.detached() })
            case .module:
                return
            }
            known.insert(name)
            guard let tensor = tensors[name] else { return missing.append(name) }
            guard tensor.shape == shape else {
                return problems.append(
                    "\(name) has shape \(describeShape(tensor.shape)) in the checkpoint but \(describeShape(shape)) in the model"
                )
            }
            assignments.append { assign(tensor) }
        }
        if strict {
            if !missing.isEmpty { problems.append("missing: \(missing.joined(separator: ", "))") }
            let unexpected = tensors.keys.filter { !known.contains($0) }.sorted()
            if !unexpected.isEmpty { problems.append("unexpected: \(unexpected.joined(separator: ", "))") }
        }
        guard problems.isEmpty else {
            throw SerializationError(
                path: "state dictionary", "does not match \(type(of: self)): " + problems.joined(separator: "; "))
        }
        for assign in assignments { assign() }
    }

    /// Saves `stateDictionary()` to `url` as safetensors (F32), atomically.
    ///
    /// - Parameters:
    ///   - url: The file to write (replaced atomically if it exists).
    ///   - metadata: Strings stored in the file's `__metadata__` (epoch, config, …).
    public func save(to url: URL, metadata: [String: String] = [:]) throws {
        try SafeTensors.write(stateDictionary(), metadata: metadata, to: url)
    }

    /// Saves to a file path; see `save(to:metadata:)`.
    public func save(to path: String, metadata: [String: String] = [:]) throws {
        try save(to: URL(fileURLWithPath: path), metadata: metadata)
    }

    /// Loads parameters and buffers saved by `save(to:)` (or any safetensors file using the
    /// same names), strictly: every name and shape must match.
    ///
    /// - Returns: The file's `__metadata__`.
    /// - Throws: `SerializationError` naming the file and every mismatch; the module is unchanged on failure.
    @discardableResult
    public func load(from url: URL) throws -> [String: String] {
        let (tensors, metadata) = try SafeTensors.read(from: url)
        do {
            try loadStateDictionary(tensors, strict: true)
        } catch let error as SerializationError {
            throw SerializationError(path: url.path, error.message)
        }
        return metadata
    }

    /// Loads from a file path; see `load(from:)`.
    @discardableResult
    public func load(from path: String) throws -> [String: String] {
        try load(from: URL(fileURLWithPath: path))
    }
}
