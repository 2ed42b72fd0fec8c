import Foundation

/// NumPy's `.npy` format (versions 1.0–3.0): read any little-endian numeric array as Float32,
/// write Float32 C-order arrays (`np.load` reads them).
public enum NPY {
    /// The bytes of a `.npy` file holding `tensor` as `<f4`, C order (format 1.0).
    public static func encode(_ tensor: Tensor) -> Data {
        let shape = tensor.shape.map(String.init).joined(separator: ", ") + (tensor.rank == 1 ? "," : "")
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(shape)), }"
        // Magic (6) + version (2) + length (2) + header + '\n' is padded to a multiple of 64.
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var data = Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0])
        let length = UInt16(header.utf8.count)
        data.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)])
        data.append(contentsOf: Array(header.utf8))
        tensor.withUnsafeBufferPointer { data.append(UnsafeBufferPointer(start: UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: UInt8.self), count: $0.count * 4)) }
        return data
    }

    /// Parses `.npy` bytes; `source` names the file in errors.
    ///
    /// Accepts `<f4 <f8 <f2 |i1 <i2 <i4 <i8 |u1 |b1` (and `=`/`|` byte orders where unambiguous),
    /// C or Fortran order. Rejects big-endian, object and structured arrays with a clear message,
    /// and validates the declared size against the file before allocating.
    public static func decode(_ data: Data, source: String) throws -> Tensor {
        func fail(_ problem: String) -> SerializationError { SerializationError(file: source, problem) }
        return try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) -> Tensor in
            guard bytes.count >= 10 else { throw fail("not an .npy file (only \(bytes.count) bytes)") }
            guard Array(bytes[0..<6]) == [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59] else {
                throw fail("not an .npy file (wrong magic \(bytes[0..<6].map { String(format: "%02x", $0) }.joined(separator: " ")))")
            }
            let major = bytes[6]
            let headerLength: Int, headerStart: Int
            switch major {
            case 1:
                headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
                headerStart = 10
            case 2, 3:
                guard bytes.count >= 12 else { throw fail("truncated .npy header") }
                headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
                headerStart = 12
            default:
                throw fail("unsupported .npy version \(major).\(bytes[7])")
            }
            guard headerLength <= bytes.count - headerStart, headerLength <= 1 << 20 else {
                throw fail("header length \(headerLength) runs past the end of the file (\(bytes.count) bytes)")
            }
            guard let header = String(bytes: bytes[headerStart..<(headerStart + headerLength)], encoding: .utf8) else {
                throw fail("header is not text")
            }
            let (type, fortranOrder, shape) = try parseHeader(header, fail: fail)
            guard let count = checkedProduct(shape, limit: maximumElementCount) else {
                throw fail("shape \(describeShape(shape)) is too large or invalid")
            }
            let payload = bytes.count - headerStart - headerLength
            guard payload == count * type.size else {
                throw fail("shape \(describeShape(shape)) needs \(count * type.size) bytes of data but the file has \(payload)")
            }
            var tensor = Tensor(uninitializedShape: fortranOrder ? shape.reversed() : shape)
            tensor.withUnsafeMutableBufferPointer { target in
                if count > 0 { type.decode(bytes.baseAddress! + headerStart + headerLength, count: count, into: target.baseAddress!) }
            }
            // Fortran order: the data is the C-order array of the reversed shape, transposed.
            return fortranOrder ? tensor.permutedWithoutRecording(Array((0..<shape.count).reversed())) : tensor
        }
    }

    private static func parseHeader(_ header: String, fail: (String) -> SerializationError) throws
        -> (StoredElementType, Bool, [Int]) {
        func value(of key: String) -> Substring? {
            guard let range = header.range(of: "'\(key)':") else { return nil }
            return header[range.upperBound...].drop(while: { $0 == " " })
        }
        guard let descrStart = value(of: "descr"), descrStart.first == "'",
              let descrEnd = descrStart.dropFirst().firstIndex(of: "'") else {
            throw fail("header has no readable 'descr' (\(header.prefix(80)))")
        }
        let descr = String(descrStart[descrStart.index(after: descrStart.startIndex)..<descrEnd])
        let types: [String: StoredElementType] = [
            "<f4": .float32, "<f8": .float64, "<f2": .float16, "|i1": .int8, "<i2": .int16, "<i4": .int32,
            "<i8": .int64, "|u1": .uint8, "|b1": .bool, "=f4": .float32, "=f8": .float64, "<u1": .uint8, "|i8": .int64,
        ]
        guard let type = types[descr] else {
            throw fail("unsupported dtype '\(descr)' (expected little-endian float, int, uint8 or bool)")
        }
        guard let orderValue = value(of: "fortran_order") else { throw fail("header has no 'fortran_order'") }
        let fortran: Bool
        if orderValue.hasPrefix("True") { fortran = true } else if orderValue.hasPrefix("False") { fortran = false } else {
            throw fail("unreadable 'fortran_order'")
        }
        guard let shapeStart = value(of: "shape"), shapeStart.first == "(",
              let shapeEnd = shapeStart.firstIndex(of: ")") else {
            throw fail("header has no readable 'shape'")
        }
        let inner = shapeStart[shapeStart.index(after: shapeStart.startIndex)..<shapeEnd]
        var shape: [Int] = []
        for part in inner.split(separator: ",") {
            let text = part.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            guard let size = Int(text), size >= 0 else { throw fail("invalid dimension '\(text)' in shape") }
            shape.append(size)
        }
        return (type, fortran, shape)
    }

    /// Writes `tensor` to `url` atomically.
    public static func write(_ tensor: Tensor, to url: URL) throws {
        try writeAtomically(encode(tensor), to: url)
    }

    /// Reads an `.npy` file.
    public static func read(from url: URL) throws -> Tensor {
        try decode(readFile(url), source: url.path)
    }
}
