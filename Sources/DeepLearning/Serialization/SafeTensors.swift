import CDeflate
import Foundation

/// The safetensors format (Hugging Face): readable by `safetensors.torch.load_file`,
/// `safetensors.numpy.load_file` and every framework that supports it.
///
/// Layout (https://github.com/huggingface/safetensors#format): an 8-byte little-endian
/// header length `N`; `N` bytes of JSON mapping each tensor name to
/// `{"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}` (offsets relative to the
/// data section) plus an optional `"__metadata__": {String: String}`; then the data section.
///
/// Writing stores `F32` tensors in the order given, the header padded with spaces so the
/// data section starts 8-byte aligned. Reading converts `F16`, `BF16`, `F64` and the integer
/// and `BOOL` dtypes to `Float`. Before anything is allocated the reader checks the header
/// length against the file size (and a 100 MB cap), that the JSON is well-formed, that every
/// dtype is known, every shape non-negative with `product × dtype size == end − begin`, and
/// that the tensors tile the data section exactly: no entry outside it, no overlaps, no holes.
///
/// The format has no checksum, so a flipped bit in a weight would load silently. The writer
/// therefore records each tensor's CRC-32 (zlib's, over its bytes in the file) in the metadata,
/// under the key `crc32` as a JSON object `{"name": "8 hex digits"}`, as TensorFlow's
/// checkpoint bundles keep one checksum per tensor. The reader verifies every checksum it
/// finds and names the tensor and the file on a mismatch; files without the key (from other
/// tools) load as before. Other readers see the key as ordinary metadata.
public enum SafeTensors {
    /// Larger headers are rejected without being read (the reference implementation also caps at 100 MB).
    static let maximumHeaderLength = 100_000_000

    /// The metadata key of the per-tensor checksums; reserved, and not returned by `read`.
    public static let checksumKey = "crc32"

    static let elementTypes: [String: StoredElementType] = [
        "F32": .float32, "F16": .float16, "BF16": .bfloat16, "F64": .float64,
        "I8": .int8, "I16": .int16, "I32": .int32, "I64": .int64,
        "U8": .uint8, "U16": .uint16, "U32": .uint32, "U64": .uint64, "BOOL": .bool,
    ]

    /// Writes `tensors` (as `F32`) and `metadata` to `url`, atomically (see `writeAtomically(_:to:)`).
    ///
    /// - Parameters:
    ///   - tensors: Unique, non-empty names (not `__metadata__`) with their tensors, laid out in this order.
    ///   - url: The file to write (replaced atomically if it exists).
    ///   - metadata: Free-form string pairs stored under `__metadata__` (e.g. `["epoch": "12"]`);
    ///     the key `crc32` is reserved for the checksums the writer adds.
    public static func write(
        _ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:], to url: URL
    ) throws {
        guard metadata[checksumKey] == nil else {
            throw SerializationError(
                path: url.path, "metadata key '\(checksumKey)' is reserved for the tensor checksums")
        }
        var header: [String: Any] = [:]
        var checksums: [String: String] = [:]
        var offset = 0
        for (name, tensor) in tensors {
            guard !name.isEmpty, name != "__metadata__", header[name] == nil else {
                throw SerializationError(
                    path: url.path,
                    name.isEmpty
                        ? "tensor names must not be empty"
                        : name == "__metadata__"
                            ? "'__metadata__' is reserved and cannot name a tensor"
                            : "tensor name '\(name)' appears twice")
            }
            let byteCount = tensor.count * MemoryLayout<Float>.size
            header[name] =
                ["dtype": "F32", "shape": tensor.shape, "data_offsets": [offset, offset + byteCount]] as [String: Any]
            checksums[name] = hexadecimal(
                tensor.withPointer { crc32(UnsafeRawBufferPointer(start: $0, count: byteCount)) })
            offset += byteCount
        }
        var fullMetadata = metadata
        let checksumJSON = try JSONSerialization.data(withJSONObject: checksums, options: [.sortedKeys])
        fullMetadata[checksumKey] = String(decoding: checksumJSON, as: UTF8.self)
        header["__metadata__"] = fullMetadata
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        // Spaces are valid JSON whitespace; padding keeps the data section 8-byte aligned as the reference writer does.
        json.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - json.count % 8) % 8))
        try writeAtomically(to: url) { file in
            try file.write((0..<8).map { UInt8((UInt64(json.count) >> (8 * UInt64($0))) & 0xff) })
            try json.withUnsafeBytes { try file.write($0) }
            for (_, tensor) in tensors { try file.write(tensor) }
        }
    }

    /// Reads every tensor (converted to `Float`) and the `__metadata__` of the file at `url`.
    ///
    /// - Throws: `SerializationError` naming the file, and the tensor where there is one,
    ///   if the file is missing, truncated, malformed or uses an unsupported dtype, or if a
    ///   tensor's bytes do not match the checksum recorded for it.
    public static func read(from url: URL) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        try decode(readFileData(url), source: url.path)
    }

    /// Decodes a complete safetensors file held in memory; `source` names it in errors.
    public static func decode(
        _ data: Data, source: String
    ) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        func fail(_ message: String) -> SerializationError { SerializationError(path: source, message) }
        guard data.count >= 8 else {
            throw fail("not a safetensors file: \(data.count) bytes, shorter than the 8-byte header length")
        }
        let headerLength = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(maximumHeaderLength) else {
            throw fail("header length \(headerLength) exceeds the 100 MB limit: not a safetensors file, or corrupt")
        }
        guard headerLength <= UInt64(data.count - 8) else {
            throw fail("header length \(headerLength) runs past the end of the \(data.count)-byte file")
        }
        let dataStart = 8 + Int(headerLength)
        let headerBytes = data.subdata(in: (data.startIndex + 8)..<(data.startIndex + dataStart))
        guard headerBytes.first == UInt8(ascii: "{"),
            let header = try? JSONSerialization.jsonObject(with: headerBytes) as? [String: Any]
        else {
            throw fail("header is not a JSON object: \(String(decoding: headerBytes.prefix(120), as: UTF8.self))")
        }
        var metadata: [String: String] = [:]
        if let rawMetadata = header["__metadata__"] {
            guard let strings = rawMetadata as? [String: String] else {
                throw fail("__metadata__ must map strings to strings")
            }
            metadata = strings
        }
        let sectionLength = data.count - dataStart
        let entries = try header.filter { $0.key != "__metadata__" }.map { name, value in
            try parseEntry(name: name, value, sectionLength: sectionLength, source: source)
        }
        try checkTiling(entries, sectionLength: sectionLength, source: source)
        if let recorded = metadata.removeValue(forKey: checksumKey) {
            try verifyChecksums(recorded, of: entries, in: data, dataStart: dataStart, source: source)
        }
        var tensors: [String: Tensor] = [:]
        data.withUnsafeBytes { bytes in
            for entry in entries {
                let tensor = Tensor(uninitializedShape: entry.shape)
                if tensor.count > 0 {
                    entry.type.convert(
                        bytes.baseAddress! + dataStart + entry.offsets.lowerBound, count: tensor.count,
                        to: tensor.storage.pointer)
                }
                tensors[entry.name] = tensor
            }
        }
        return (tensors, metadata)
    }

    /// Checks every tensor against the checksums recorded in the metadata.
    private static func verifyChecksums(
        _ recorded: String, of entries: [Entry], in data: Data, dataStart: Int, source: String
    ) throws {
        guard let checksums = try? JSONSerialization.jsonObject(with: Data(recorded.utf8)) as? [String: String] else {
            throw SerializationError(path: source, "metadata '\(checksumKey)' is not a JSON object of strings")
        }
        try data.withUnsafeBytes { bytes in
            for entry in entries {
                guard let expected = checksums[entry.name] else {
                    throw SerializationError(path: source, "tensor '\(entry.name)': no checksum recorded for it")
                }
                let actual = hexadecimal(
                    crc32(
                        UnsafeRawBufferPointer(
                            rebasing: bytes[
                                (dataStart + entry.offsets.lowerBound)..<(dataStart + entry.offsets.upperBound)])))
                guard actual == expected.lowercased() else {
                    throw SerializationError(
                        path: source,
                        "tensor '\(entry.name)': checksum mismatch (recorded crc32 \(expected), data has \(actual)): the file is corrupt"
                    )
                }
            }
        }
    }

    private struct Entry {
        var name: String
        var type: StoredElementType
        var shape: [Int]
        var offsets: Range<Int>
    }

    private static func parseEntry(name: String, _ value: Any, sectionLength: Int, source: String) throws -> Entry {
        func fail(_ message: String) -> SerializationError {
            SerializationError(path: source, "tensor '\(name)': \(message)")
        }
        guard let fields = value as? [String: Any] else { throw fail("header entry is not an object") }
        guard let dtype = fields["dtype"] as? String else { throw fail("missing dtype") }
        guard let type = elementTypes[dtype] else {
            throw fail(
                "unsupported dtype '\(dtype)' (supported: \(elementTypes.keys.sorted().joined(separator: ", ")))")
        }
        guard let rawShape = fields["shape"] as? [Any], let shape = integers(rawShape), shape.allSatisfy({ $0 >= 0 })
        else {
            throw fail(
                "shape must be a list of non-negative integers, got \(fields["shape"].map { "\($0)" } ?? "nothing")")
        }
        guard let rawOffsets = fields["data_offsets"] as? [Any], let offsets = integers(rawOffsets), offsets.count == 2,
            offsets[0] >= 0, offsets[0] <= offsets[1]
        else {
            throw fail(
                "data_offsets must be [begin, end] with 0 ≤ begin ≤ end, got \(fields["data_offsets"].map { "\($0)" } ?? "nothing")"
            )
        }
        guard offsets[1] <= sectionLength else {
            throw fail("data_offsets \(offsets) lie outside the \(sectionLength)-byte data section")
        }
        guard let byteCount = checkedByteCount(shape: shape, itemSize: type.size), byteCount == offsets[1] - offsets[0]
        else {
            throw fail(
                "shape \(describeShape(shape)) of \(dtype) does not fill data_offsets \(offsets) (\(offsets[1] - offsets[0]) bytes)"
            )
        }
        return Entry(name: name, type: type, shape: shape, offsets: offsets[0]..<offsets[1])
    }

    /// JSON numbers that are exact integers (no fractions), or `nil`.
    private static func integers(_ values: [Any]) -> [Int]? {
        var result: [Int] = []
        for value in values {
            guard let number = value as? NSNumber, let integer = Int(exactly: number.doubleValue),
                number.int64Value == Int64(integer)
            else { return nil }
            result.append(integer)
        }
        return result
    }

    /// The tensors must cover the data section exactly once, like the reference reader demands.
    private static func checkTiling(_ entries: [Entry], sectionLength: Int, source: String) throws {
        var expected = 0
        var previous: String?
        for entry in entries.sorted(by: {
            ($0.offsets.lowerBound, $0.offsets.upperBound) < ($1.offsets.lowerBound, $1.offsets.upperBound)
        }) {
            if entry.offsets.lowerBound < expected {
                throw SerializationError(
                    path: source, "tensor '\(entry.name)' (bytes \(entry.offsets)) overlaps tensor '\(previous ?? "")'")
            }
            if entry.offsets.lowerBound > expected {
                throw SerializationError(
                    path: source,
                    "data bytes \(expected)..<\(entry.offsets.lowerBound) belong to no tensor (hole before '\(entry.name)')"
                )
            }
            expected = entry.offsets.upperBound
            previous = entry.name
        }
        guard expected == sectionLength else {
            throw SerializationError(
                path: source, "data section has \(sectionLength) bytes but the tensors cover \(expected)")
        }
    }
}

/// zlib's CRC-32 of `bytes`.
private func crc32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
    guard let base = bytes.baseAddress, bytes.count > 0 else { return 0 }
    return UInt32(crc32_z(0, base.assumingMemoryBound(to: UInt8.self), bytes.count))
}

/// Eight lowercase hexadecimal digits.
private func hexadecimal(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 8 - digits.count) + digits
}
