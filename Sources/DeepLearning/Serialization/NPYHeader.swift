/// The parsed preamble of an `.npy` file: magic, version, header length and the Python
/// dict literal `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`.
///
/// Format reference: numpy/lib/format.py (versions 1.0, 2.0 and 3.0).
struct NPYHeader {
    var elementType: StoredElementType
    var fortranOrder: Bool
    var shape: [Int]
    /// Offset of the first data byte from the start of the file.
    var dataOffset: Int
    /// Bytes of array data the header promises, validated against overflow.
    var dataByteCount: Int

    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"
    /// NumPy itself refuses headers above 10 000 bytes by default; allow far more, but not
    /// enough for a lying length to make us buffer gigabytes before failing.
    static let maximumHeaderLength = 1 << 20

    /// How many leading bytes must be available to know the header length (10 or 12).
    static func preambleLength(_ bytes: UnsafeRawBufferPointer, source: String) throws -> Int {
        guard bytes.count >= 8 else {
            throw SerializationError(
                path: source, "not an NPY file: \(bytes.count) bytes, shorter than the 10-byte preamble")
        }
        guard bytes.prefix(6).elementsEqual(magic) else {
            throw SerializationError(path: source, "not an NPY file: missing the \\x93NUMPY magic")
        }
        switch (bytes[6], bytes[7]) {
        case (1, 0): return 10
        case (2, 0), (3, 0): return 12
        case let (major, minor):
            throw SerializationError(
                path: source, "unsupported NPY format version \(major).\(minor) (known: 1.0, 2.0, 3.0)")
        }
    }

    /// Offset of the first data byte (preamble + header length), or `nil` if `bytes` is too
    /// short to tell yet. Used by streaming readers to know how much to buffer.
    static func dataOffset(_ bytes: UnsafeRawBufferPointer, source: String) throws -> Int? {
        guard bytes.count >= 12 || (bytes.count >= 10 && bytes.count >= 8 && bytes[6] == 1) else { return nil }
        let preamble = try preambleLength(bytes, source: source)
        let headerLength =
            preamble == 10
            ? Int(bytes.loadUnaligned(fromByteOffset: 8, as: UInt16.self).littleEndian)
            : Int(bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self).littleEndian)
        guard headerLength <= maximumHeaderLength else {
            throw SerializationError(
                path: source, "NPY header length \(headerLength) is implausible (limit \(maximumHeaderLength))")
        }
        return preamble + headerLength
    }

    /// Parses the header at the start of `bytes`, which must hold at least the whole header
    /// (not necessarily the data). Validates everything except the data length.
    static func parse(_ bytes: UnsafeRawBufferPointer, source: String) throws -> NPYHeader {
        let preamble = try preambleLength(bytes, source: source)
        guard let dataOffset = try dataOffset(bytes, source: source) else {
            throw SerializationError(path: source, "truncated NPY preamble: \(bytes.count) bytes")
        }
        let headerLength = dataOffset - preamble
        guard preamble + headerLength <= bytes.count else {
            throw SerializationError(
                path: source, "NPY header length \(headerLength) runs past the end of the data (\(bytes.count) bytes)")
        }
        let text = Array(bytes[preamble..<(preamble + headerLength)])
        var parser = PythonLiteralParser(text, source: source)
        guard case let .dict(entries) = try parser.parseHeader() else {
            throw SerializationError(path: source, "NPY header is not a dict: \(String(decoding: text, as: UTF8.self))")
        }
        func entry(_ key: String) throws -> PythonLiteral {
            guard let value = entries.last(where: { $0.0 == key })?.1 else {
                throw SerializationError(
                    path: source, "NPY header lacks '\(key)': \(String(decoding: text, as: UTF8.self))")
            }
            return value
        }
        let elementType: StoredElementType
        switch try entry("descr") {
        case let .string(descr): elementType = try parseDescr(descr, source: source)
        default:
            throw SerializationError(
                path: source, "structured NPY dtypes are not supported (descr is not a plain type string)")
        }
        guard case let .bool(fortranOrder) = try entry("fortran_order") else {
            throw SerializationError(path: source, "NPY header: fortran_order is not True or False")
        }
        guard case let .tuple(items) = try entry("shape") else {
            throw SerializationError(path: source, "NPY header: shape is not a tuple")
        }
        var shape: [Int] = []
        for item in items {
            guard case let .int(dimension) = item, dimension >= 0 else {
                throw SerializationError(path: source, "NPY header: shape entries must be non-negative integers")
            }
            shape.append(dimension)
        }
        guard let byteCount = checkedByteCount(shape: shape, itemSize: elementType.size) else {
            throw SerializationError(path: source, "NPY shape \(describeShape(shape)) is too large to address")
        }
        return NPYHeader(
            elementType: elementType, fortranOrder: fortranOrder, shape: shape,
            dataOffset: preamble + headerLength, dataByteCount: byteCount)
    }

    /// Maps a NumPy type string to an element type; rejects big-endian, object and exotic types.
    static func parseDescr(_ descr: String, source: String) throws -> StoredElementType {
        if descr.dropFirst().first == "O" {
            throw SerializationError(
                path: source, "object arrays (pickled Python objects) are not supported; save a numeric dtype")
        }
        guard let order = descr.first, "<>|=".contains(order) else {
            throw SerializationError(path: source, "unsupported NPY dtype '\(descr)'")
        }
        let typeCode = String(descr.dropFirst())
        let types: [String: StoredElementType] = [
            "f2": .float16, "f4": .float32, "f8": .float64,
            "i1": .int8, "i2": .int16, "i4": .int32, "i8": .int64,
            "u1": .uint8, "u2": .uint16, "u4": .uint32, "u8": .uint64, "b1": .bool,
        ]
        guard let type = types[typeCode] else {
            throw SerializationError(
                path: source, "unsupported NPY dtype '\(descr)' (supported: float16/32/64, int8–64, uint8–64, bool)")
        }
        if order == ">" && type.size > 1 {
            throw SerializationError(
                path: source, "big-endian NPY data ('\(descr)') is not supported; save with dtype '<\(typeCode)'")
        }
        return type
    }

    /// The header NumPy's `np.save` would write for a little-endian float32 C-order array:
    /// version 1.0 (2.0 only if the dict exceeds 65 535 bytes), padded with spaces and a
    /// newline so the data starts at a multiple of 64 bytes.
    static func encode(shape: [Int]) -> [UInt8] {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var dict = Array("{'descr': '<f4', 'fortran_order': False, 'shape': \(shapeText), }".utf8)
        var preamble = 10
        var total = preamble + dict.count + 1
        if (total + 63) / 64 * 64 - preamble > 65535 { preamble = 12; total += 2 }
        let padded = (total + 63) / 64 * 64
        dict.append(contentsOf: repeatElement(UInt8(ascii: " "), count: padded - total))
        dict.append(UInt8(ascii: "\n"))
        let headerLength = dict.count
        var bytes = magic + (preamble == 10 ? [1, 0] : [2, 0])
        if preamble == 10 {
            bytes += [UInt8(headerLength & 0xff), UInt8(headerLength >> 8)]
        } else {
            bytes += (0..<4).map { UInt8((headerLength >> (8 * $0)) & 0xff) }
        }
        return bytes + dict
    }
}

/// A value of the tiny subset of Python literals NPY headers use.
indirect enum PythonLiteral {
    case string(String), bool(Bool), int(Int), none
    case tuple([PythonLiteral]), list([PythonLiteral])
    case dict([(String, PythonLiteral)])
}

/// Recursive-descent parser for NPY header dicts. Never traps: every malformed input throws.
struct PythonLiteralParser {
    private let text: [UInt8]
    private var index = 0
    private let source: String
    private var depth = 0

    init(_ text: [UInt8], source: String) {
        self.text = text
        self.source = source
    }

    /// Parses one literal followed only by whitespace (NumPy pads with spaces and `\n`).
    mutating func parseHeader() throws -> PythonLiteral {
        let value = try parseValue()
        skipWhitespace()
        guard index == text.count else { throw failure("unexpected text after the header dict") }
        return value
    }

    private func failure(_ problem: String) -> SerializationError {
        SerializationError(
            path: source,
            "malformed NPY header (\(problem) at byte \(index)): \(String(decoding: text.prefix(200), as: UTF8.self))")
    }

    private mutating func skipWhitespace() {
        while index < text.count, [0x20, 0x0a, 0x0d, 0x09].contains(text[index]) { index += 1 }
    }

    private mutating func parseValue() throws -> PythonLiteral {
        skipWhitespace()
        guard index < text.count else { throw failure("unexpected end") }
        depth += 1
        defer { depth -= 1 }
        guard depth < 32 else { throw failure("nesting too deep") }
        switch text[index] {
        case UInt8(ascii: "{"):
            let items = try parseSequence(closing: "}") { parser -> (String, PythonLiteral) in
                guard case let .string(key) = try parser.parseValue() else {
                    throw parser.failure("dict key is not a string")
                }
                parser.skipWhitespace()
                guard parser.index < parser.text.count, parser.text[parser.index] == UInt8(ascii: ":") else {
                    throw parser.failure("expected ':'")
                }
                parser.index += 1
                return (key, try parser.parseValue())
            }
            return .dict(items)
        case UInt8(ascii: "("): return .tuple(try parseSequence(closing: ")") { try $0.parseValue() })
        case UInt8(ascii: "["): return .list(try parseSequence(closing: "]") { try $0.parseValue() })
        case UInt8(ascii: "'"), UInt8(ascii: "\""): return .string(try parseString())
        default: return try parseWordOrNumber()
        }
    }

    /// Items separated by commas, trailing comma allowed, up to `closing`.
    private mutating func parseSequence<T>(
        closing: Unicode.Scalar, _ item: (inout PythonLiteralParser) throws -> T
    ) throws -> [T] {
        index += 1
        var items: [T] = []
        while true {
            skipWhitespace()
            guard index < text.count else { throw failure("unterminated '\(closing)'") }
            if text[index] == UInt8(ascii: closing) { index += 1; return items }
            items.append(try item(&self))
            skipWhitespace()
            guard index < text.count else { throw failure("unterminated '\(closing)'") }
            if text[index] == UInt8(ascii: ",") {
                index += 1
            } else if text[index] != UInt8(ascii: closing) {
                throw failure("expected ',' or '\(closing)'")
            }
        }
    }

    private mutating func parseString() throws -> String {
        let quote = text[index]
        index += 1
        let start = index
        while index < text.count, text[index] != quote {
            guard text[index] != UInt8(ascii: "\\") else { throw failure("escapes in strings are not supported") }
            index += 1
        }
        guard index < text.count else { throw failure("unterminated string") }
        defer { index += 1 }
        return String(decoding: text[start..<index], as: UTF8.self)
    }

    private mutating func parseWordOrNumber() throws -> PythonLiteral {
        let start = index
        while index < text.count,
            text[index] == UInt8(ascii: "-") || text[index] == UInt8(ascii: "_")
                || (0x30...0x39).contains(text[index]) || (0x41...0x5a).contains(text[index])
                || (0x61...0x7a).contains(text[index])
        {
            index += 1
        }
        var word = String(decoding: text[start..<index], as: UTF8.self)
        switch word {
        case "True": return .bool(true)
        case "False": return .bool(false)
        case "None": return .none
        default:
            if word.hasSuffix("L") { word.removeLast() }  // Python 2 longs in old files: (3L, 4L)
            guard !word.isEmpty, let value = Int(word) else {
                throw failure(
                    word.isEmpty ? "unexpected character" : "'\(word)' is not an integer that fits in 64 bits")
            }
            return .int(value)
        }
    }
}
