import Foundation

/// Saving and loading a module's parameters and buffers.
///
/// Tensor names are property paths (`encoder.1.conv.kernel`, `decoder.0.norm.runningMean`,
/// array elements by index, optionals skipped when `nil`): see Docs/Checkpoints.md.
extension Module {
    /// Every parameter and buffer by name, parameters first, in declaration order.
    public func stateDictionary() -> [(name: String, tensor: Tensor)] {
        namedParameters.map { ($0.name, $0.parameter.value.detached()) } + namedBuffers.map { ($0.name, $0.buffer.value) }
    }

    /// Replaces parameters and buffers with the given tensors.
    ///
    /// Everything is checked before anything is assigned, so a failed load leaves the module
    /// unchanged.
    ///
    /// - Parameter strict: also reject tensors that match no parameter or buffer.
    /// - Throws: `ShapeError` naming the missing, unexpected or mis-shaped tensors.
    public func loadStateDictionary(_ tensors: [String: Tensor], strict: Bool = true) throws {
        let parameters = namedParameters, buffers = namedBuffers
        var expected: [(String, [Int])] = parameters.map { ($0.name, $0.parameter.shape) }
        expected += buffers.map { ($0.name, $0.buffer.value.shape) }
        let missing = expected.filter { tensors[$0.0] == nil }.map(\.0)
        if !missing.isEmpty {
            throw ShapeError("missing tensors: \(missing.prefix(5).joined(separator: ", "))\(missing.count > 5 ? " and \(missing.count - 5) more" : "")")
        }
        for (name, shape) in expected where tensors[name]!.shape != shape {
            throw ShapeError("tensor \(name) has shape \(describeShape(tensors[name]!.shape)) but the model expects \(describeShape(shape))")
        }
        if strict {
            let known = Set(expected.map(\.0))
            let unexpected = tensors.keys.filter { !known.contains($0) }.sorted()
            if !unexpected.isEmpty {
                throw ShapeError("unexpected tensors: \(unexpected.prefix(5).joined(separator: ", "))\(unexpected.count > 5 ? " and \(unexpected.count - 5) more" : "")")
            }
        }
        for (name, parameter) in parameters { parameter.value = tensors[name]! }
        for (name, buffer) in buffers { buffer.value = tensors[name]! }
    }

    /// Writes parameters and buffers to a safetensors file, atomically.
    public func save(to url: URL, metadata: [String: String] = [:]) throws {
        try SafeTensors.write(stateDictionary(), metadata: metadata, to: url)
    }

    /// Loads parameters and buffers from a safetensors file written by `save(to:)`.
    ///
    /// - Throws: `SerializationError` naming the file and the problem; the module is unchanged then.
    @discardableResult
    public func load(from url: URL, strict: Bool = true) throws -> [String: String] {
        let (tensors, metadata) = try SafeTensors.read(from: url)
        do {
            try loadStateDictionary(tensors, strict: strict)
        } catch let error as ShapeError {
            throw SerializationError(file: url.path, error.message)
        }
        return metadata
    }
}
