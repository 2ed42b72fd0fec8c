import Foundation

/// The safetensors format (Hugging Face): an 8-byte little-endian header length, a JSON header
/// `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}`, and
/// the raw little-endian data. Checkpoints of this package are safetensors files.
public enum SafeTensors {
    /// The bytes of a safetensors file holding `tensors` as F32, in the given order.
    public static func encode(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:]) throws -> Data {
        var header: [String: Any] = [:]
        var offset = 0
        var seen = Set<String>()
        for (name, tensor) in tensors {
            guard seen.insert(name).inserted else { throw SerializationError("safetensors: duplicate tensor name '\(name)'") }
            guard name != "__metadata__" else { throw SerializationError("safetensors: '__metadata__' is reserved") }
            header[name] = ["dtype": "F32", "shape": tensor.shape, "data_offsets": [offset, offset + tensor.count * 4]]
            offset += tensor.count * 4
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        // Pad with spaces so the data section starts 8-byte aligned, as the reference writer does.
        json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))
        var data = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(json)
        for (_, tensor) in tensors {
            tensor.withUnsafeBufferPointer { buffer in
                data.append(UnsafeBufferPointer(start: UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: UInt8.self),
                                                count: buffer.count * 4))
            }
        }
        return data
    }

    /// Writes a safetensors file atomically (temp file, fsync, rename).
    public static func write(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:], to url: URL) throws {
        let data: Data
        do {
            data = try encode(tensors, metadata: metadata)
        } catch let error as SerializationError {
            throw SerializationError(file: url.path, error.message)
        }
        try writeAtomically(data, to: url)
    }

    /// Reads every tensor (converted to Float32) and the metadata of a safetensors file.
    public static func read(from url: URL) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        try decode(readFile(url), source: url.path)
    }

    /// Parses safetensors bytes, validating everything before allocating: header length within
    /// the file, valid JSON, known dtypes, non-negative shapes whose byte size equals the
    /// offsets' span, offsets inside the data section, and no overlapping tensors.
    public static func decode(_ data: Data, source: String) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        func fail(_ problem: String) -> SerializationError { SerializationError(file: source, problem) }
        guard data.count >= 8 else { throw fail("not a safetensors file (\(data.count) bytes, shorter than its 8-byte header length)") }
        let headerLength = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(data.count - 8), headerLength <= 100_000_000 else {
            throw fail("header length \(headerLength) runs past the end of the file (\(data.count) bytes): truncated or not a safetensors file")
        }
        let headerEnd = 8 + Int(headerLength)
        let parsed = try? JSONSerialization.jsonObject(with: data.subdata(in: 8..<headerEnd))
        guard let header = parsed as? [String: Any] else { throw fail("header is not a JSON object") }
        var metadata: [String: String] = [:]
        if let raw = header["__metadata__"] {
            guard let values = raw as? [String: String] else { throw fail("__metadata__ must map strings to strings") }
            metadata = values
        }
        let dataLength = data.count - headerEnd
        struct Entry { let name: String; let type: StoredElementType; let shape: [Int]; let begin: Int; let end: Int }
        var entries: [Entry] = []
        let dtypes: [String: StoredElementType] = [
            "F32": .float32, "F64": .float64, "F16": .float16, "BF16": .bfloat16, "I8": .int8, "I16": .int16,
            "I32": .int32, "I64": .int64, "U8": .uint8, "BOOL": .bool,
        ]
        for (name, value) in header where name != "__metadata__" {
            guard let info = value as? [String: Any] else { throw fail("entry '\(name)' is not an object") }
            guard let dtypeName = info["dtype"] as? String, let type = dtypes[dtypeName] else {
                throw fail("tensor '\(name)' has unsupported dtype \(info["dtype"] ?? "none")")
            }
            guard let shapeValues = info["shape"] as? [Any] else { throw fail("tensor '\(name)' has no shape") }
            let shape = shapeValues.compactMap { ($0 as? NSNumber)?.intValue }
            guard shape.count == shapeValues.count, shape.allSatisfy({ $0 >= 0 }) else {
                throw fail("tensor '\(name)' has an invalid shape \(shapeValues)")
            }
            guard let offsets = info["data_offsets"] as? [Any], offsets.count == 2,
                  let begin = (offsets[0] as? NSNumber)?.intValue, let end = (offsets[1] as? NSNumber)?.intValue,
                  begin >= 0, begin <= end, end <= dataLength else {
                throw fail("tensor '\(name)' has data offsets \(info["data_offsets"] ?? "none") outside the \(dataLength)-byte data section")
            }
            guard let count = checkedProduct(shape, limit: maximumElementCount) else {
                throw fail("tensor '\(name)' has an implausible shape \(describeShape(shape))")
            }
            guard count * type.size == end - begin else {
                throw fail("tensor '\(name)' of shape \(describeShape(shape)) and dtype \(dtypeName) needs \(count * type.size) bytes but its offsets span \(end - begin)")
            }
            entries.append(Entry(name: name, type: type, shape: shape, begin: begin, end: end))
        }
        entries.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        for (previous, next) in zip(entries, entries.dropFirst()) where next.begin < previous.end {
            throw fail("tensors '\(previous.name)' and '\(next.name)' overlap")
        }
        var tensors: [String: Tensor] = [:]
        data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            for entry in entries {
                var tensor = Tensor(uninitializedShape: entry.shape)
                tensor.withUnsafeMutableBufferPointer { target in
                    if target.count > 0 {
                        entry.type.decode(bytes.baseAddress! + headerEnd + entry.begin, count: target.count, into: target.baseAddress!)
                    }
                }
                tensors[entry.name] = tensor
            }
        }
        return (tensors, metadata)
    }
}
