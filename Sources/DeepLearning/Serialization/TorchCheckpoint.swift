import Foundation

/// Reads the state dictionaries PyTorch's `torch.save(model.state_dict(), path)` writes (the
/// zip format of PyTorch ≥ 1.6: `ARCHIVE/data.pkl`, a pickle, and one `ARCHIVE/data/KEY` entry
/// per tensor storage).
///
/// A pickle is a program for Python's unpickler, able to call any function it names. This
/// reader is not an unpickler: it understands only the opcodes a state dictionary uses (dicts,
/// lists, tuples, strings, numbers, memo references, persistent storage references) and only
/// the callables that rebuild tensors and ordered dicts (`collections.OrderedDict`,
/// `torch._utils._rebuild_tensor_v2`, `torch._utils._rebuild_parameter`, the typed storage
/// classes as markers). Any other global, or any other opcode, is refused with an error naming
/// the file and what it asked for. Nothing a file contains is executed.
///
/// Tensors come back in PyTorch's layout (a convolution's weight is `[out, in, kh, kw]`) as
/// float32: float32 storages as they are, float64, float16, bfloat16, int64, int32, uint8 and
/// bool converted (`num_batches_tracked` of a batch norm is an int64 scalar, `[]`).
public enum TorchCheckpoint {
    /// The tensors of the state dictionary in the file at `url`, by their PyTorch names
    /// (`model.1.weight`, `model.2.running_mean`, …).
    ///
    /// - Throws: `SerializationError` naming the file for a missing or truncated file, a zip
    ///   without `data.pkl`, a pickle that asks for anything but tensors and containers, a
    ///   storage shorter than its tensors, a top-level object that is not a dictionary of
    ///   tensors, or an unsupported dtype.
    public static func readStateDictionary(from url: URL) throws -> [String: Tensor] {
        let path = url.path
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let fileSize = (attributes[.size] as? NSNumber)?.intValue
        else {
            throw SerializationError(path: path, "no such file")
        }
        let (data, entries) = try NPZ.validateLayout(of: url, fileSize: fileSize, kind: "PyTorch")
        guard let pickleEntry = entries.first(where: { $0.path.hasSuffix("data.pkl") && !$0.path.contains("/.") })
        else {
            throw SerializationError(
                path: path,
                "not a PyTorch checkpoint: the zip holds no data.pkl (a file saved with _use_new_zipfile_serialization=False, or not by torch.save)"
            )
        }
        let archive = String(pickleEntry.path.dropLast("data.pkl".count))
        func entryBytes(_ entry: ZipEntry) throws -> Data {
            var bytes = Data(capacity: entry.uncompressedSize)
            try NPZ.streamEntry(entry, in: data, source: "\(path) (\(entry.path))", fileSize: fileSize) {
                bytes.append(contentsOf: $0)
            }
            return bytes
        }
        if let order = entries.first(where: { $0.path == archive + "byteorder" }) {
            let value = String(decoding: try entryBytes(order), as: UTF8.self)
            guard value == "little" else {
                throw SerializationError(path: path, "tensors are stored \(value)-endian; only little-endian is read")
            }
        }
        var machine = PickleMachine(source: path)
        let root = try machine.run(try entryBytes(pickleEntry))
        guard case .dictionary(let items) = root else {
            throw SerializationError(
                path: path,
                "the pickle holds \(root.kind), not a state dictionary (save model.state_dict(), not the model)")
        }
        let storageEntries = Dictionary(
            entries.filter { $0.path.hasPrefix(archive + "data/") }.map {
                (String($0.path.dropFirst(archive.count + 5)), $0)
            },
            uniquingKeysWith: { first, _ in first })
        var storages: [String: Data] = [:]
        var tensors: [String: Tensor] = [:]
        for (key, value) in items {
            guard case .string(let name) = key else {
                throw SerializationError(path: path, "a state-dictionary key is \(key.kind), not a string")
            }
            guard case .tensor(let reference) = value else {
                throw SerializationError(path: path, "'\(name)' is \(value.kind), not a tensor")
            }
            if storages[reference.storage.key] == nil {
                guard let entry = storageEntries[reference.storage.key] else {
                    throw SerializationError(
                        path: path, "'\(name)': storage \(reference.storage.key) is missing from the archive")
                }
                storages[reference.storage.key] = try entryBytes(entry)
            }
            tensors[name] = try reference.tensor(from: storages[reference.storage.key]!, source: "\(path) ('\(name)')")
        }
        return tensors
    }
}

/// A storage a pickle refers to: its key in `data/`, element type and element count.
struct TorchStorage {
    let key: String
    let dtype: String
    let count: Int

    /// Bytes per element of `dtype`, or nil for a type this reader does not convert.
    static func itemSize(_ dtype: String) -> Int? {
        switch dtype {
        case "FloatStorage", "IntStorage": return 4
        case "DoubleStorage", "LongStorage": return 8
        case "HalfStorage", "BFloat16Storage": return 2
        case "ByteStorage", "BoolStorage", "CharStorage": return 1
        default: return nil
        }
    }
}

/// `_rebuild_tensor_v2(storage, offset, size, stride, …)`: a strided view of a storage.
struct TorchTensorReference {
    let storage: TorchStorage
    let offset: Int
    let shape: [Int]
    let strides: [Int]

    /// The view's elements as a contiguous float32 tensor, after checking that every element
    /// lies inside the storage and the storage's bytes are all there.
    func tensor(from bytes: Data, source: String) throws -> Tensor {
        guard let itemSize = TorchStorage.itemSize(storage.dtype) else {
            throw SerializationError(path: source, "storage type \(storage.dtype) is not supported")
        }
        guard shape.count == strides.count, shape.allSatisfy({ $0 >= 0 }), strides.allSatisfy({ $0 >= 0 }),
            offset >= 0, storage.count >= 0
        else {
            throw SerializationError(
                path: source, "invalid view: size \(shape), stride \(strides), offset \(offset)")
        }
        guard let needed = checkedByteCount(shape: [storage.count], itemSize: itemSize), bytes.count >= needed else {
            throw SerializationError(
                path: source,
                "storage \(storage.key) should hold \(storage.count) × \(itemSize) bytes but has \(bytes.count)")
        }
        guard let count = checkedByteCount(shape: shape, itemSize: 1) else {
            throw SerializationError(path: source, "size \(shape) overflows")
        }
        if count > 0 {
            var last = offset
            for (size, stride) in zip(shape, strides) {
                let (product, overflow) = (size - 1).multipliedReportingOverflow(by: stride)
                guard !overflow else { throw SerializationError(path: source, "stride \(strides) overflows") }
                last += product
            }
            guard last < storage.count else {
                throw SerializationError(
                    path: source,
                    "view (size \(shape), stride \(strides), offset \(offset)) reaches element \(last) of a \(storage.count)-element storage"
                )
            }
        }
        var values = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            func element(_ index: Int) -> Float {
                let at = index * itemSize
                switch storage.dtype {
                case "FloatStorage": return raw.loadUnaligned(fromByteOffset: at, as: Float.self)
                case "DoubleStorage": return Float(raw.loadUnaligned(fromByteOffset: at, as: Double.self))
                case "LongStorage": return Float(raw.loadUnaligned(fromByteOffset: at, as: Int64.self))
                case "IntStorage": return Float(raw.loadUnaligned(fromByteOffset: at, as: Int32.self))
                case "HalfStorage":
                    return Float(Float16(bitPattern: raw.loadUnaligned(fromByteOffset: at, as: UInt16.self)))
                case "BFloat16Storage":
                    return Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: at, as: UInt16.self)) << 16)
                case "CharStorage": return Float(raw.loadUnaligned(fromByteOffset: at, as: Int8.self))
                default: return Float(raw[at])
                }
            }
            var index = [Int](repeating: 0, count: shape.count)
            for i in 0..<count {
                var position = offset
                for axis in 0..<shape.count { position += index[axis] * strides[axis] }
                values[i] = element(position)
                var axis = shape.count - 1
                while axis >= 0 {
                    index[axis] += 1
                    if index[axis] < shape[axis] { break }
                    index[axis] = 0
                    axis -= 1
                }
            }
        }
        return Tensor(shape: shape, scalars: values)
    }
}

/// A value on the restricted unpickler's stack.
indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case bytes(Data)
    case tuple([PickleValue])
    case list([PickleValue])
    case dictionary([(PickleValue, PickleValue)])
    /// One of the allowed callables or storage classes, by qualified name.
    case global(String)
    case storage(TorchStorage)
    case tensor(TorchTensorReference)
    case mark

    var kind: String {
        switch self {
        case .none: return "None"
        case .bool: return "a bool"
        case .int: return "an int"
        case .float: return "a float"
        case .string: return "a string"
        case .bytes: return "bytes"
        case .tuple: return "a tuple"
        case .list: return "a list"
        case .dictionary: return "a dictionary"
        case .global(let name): return name
        case .storage: return "a storage"
        case .tensor: return "a tensor"
        case .mark: return "a mark"
        }
    }
}

/// Pickle opcodes of protocols 2–5 that a state dictionary uses, and nothing else.
struct PickleMachine {
    let source: String
    private var stack: [PickleValue] = []
    private var memo: [Int: PickleValue] = [:]

    /// The globals a state dictionary needs. Storage classes are markers (never called);
    /// the two callables are interpreted here, not run.
    static let allowedGlobals: Set<String> = [
        "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
        "torch.FloatStorage", "torch.DoubleStorage", "torch.HalfStorage", "torch.BFloat16Storage",
        "torch.LongStorage", "torch.IntStorage", "torch.ByteStorage", "torch.CharStorage", "torch.BoolStorage",
    ]

    init(source: String) { self.source = source }

    private func fail(_ message: String) -> SerializationError {
        SerializationError(path: source, "data.pkl: \(message)")
    }

    mutating func run(_ data: Data) throws -> PickleValue {
        let bytes = [UInt8](data)
        var position = 0
        func take(_ count: Int) throws -> ArraySlice<UInt8> {
            guard count >= 0, position + count <= bytes.count else { throw fail("truncated at byte \(position)") }
            defer { position += count }
            return bytes[position..<(position + count)]
        }
        func unsigned(_ count: Int) throws -> Int {
            var value = 0
            for (shift, byte) in try take(count).enumerated() { value |= Int(byte) << (8 * shift) }
            return value
        }
        func line() throws -> String {
            guard let end = bytes[position...].firstIndex(of: 0x0A) else { throw fail("truncated at byte \(position)") }
            defer { position = end + 1 }
            return String(decoding: bytes[position..<end], as: UTF8.self)
        }
        func pop() throws -> PickleValue {
            guard let value = stack.popLast() else { throw fail("stack underflow at byte \(position)") }
            return value
        }
        func popToMark() throws -> [PickleValue] {
            guard let mark = stack.lastIndex(where: { if case .mark = $0 { return true } else { return false } }) else {
                throw fail("no mark at byte \(position)")
            }
            let items = Array(stack[(mark + 1)...])
            stack.removeSubrange(mark...)
            return items
        }
        func string(_ count: Int) throws -> PickleValue {
            guard let text = String(validating: try take(count), as: UTF8.self) else {
                throw fail("invalid UTF-8 at byte \(position)")
            }
            return .string(text)
        }
        func global(_ module: String, _ name: String) throws -> PickleValue {
            let qualified = "\(module).\(name)"
            guard Self.allowedGlobals.contains(qualified) else {
                throw fail(
                    "refuses to load '\(qualified)': only tensors and state-dictionary containers are read, and nothing in the file is executed"
                )
            }
            return .global(qualified)
        }
        while true {
            let opcode = try unsigned(1)
            switch opcode {
            case 0x80: _ = try unsigned(1)  // PROTO
            case 0x95: _ = try unsigned(8)  // FRAME
            case 0x2E: return try pop()  // STOP
            case 0x28: stack.append(.mark)  // MARK
            case 0x7D: stack.append(.dictionary([]))  // EMPTY_DICT
            case 0x5D: stack.append(.list([]))  // EMPTY_LIST
            case 0x29: stack.append(.tuple([]))  // EMPTY_TUPLE
            case 0x4E: stack.append(.none)  // NONE
            case 0x88: stack.append(.bool(true))  // NEWTRUE
            case 0x89: stack.append(.bool(false))  // NEWFALSE
            case 0x4A: stack.append(.int(Int(Int32(truncatingIfNeeded: try unsigned(4)))))  // BININT
            case 0x4B: stack.append(.int(try unsigned(1)))  // BININT1
            case 0x4D: stack.append(.int(try unsigned(2)))  // BININT2
            case 0x8A:  // LONG1
                let count = try unsigned(1)
                guard count <= 8 else { throw fail("integer of \(count) bytes") }
                var value = 0
                for (shift, byte) in try take(count).enumerated() { value |= Int(byte) << (8 * shift) }
                if count > 0 && count < 8 && bytes[position - 1] & 0x80 != 0 { value -= 1 << (8 * count) }
                stack.append(.int(value))
            case 0x47:  // BINFLOAT (big-endian)
                var raw: UInt64 = 0
                for byte in try take(8) { raw = raw << 8 | UInt64(byte) }
                stack.append(.float(Double(bitPattern: raw)))
            case 0x58: stack.append(try string(try unsigned(4)))  // BINUNICODE
            case 0x8C: stack.append(try string(try unsigned(1)))  // SHORT_BINUNICODE
            case 0x8D: stack.append(try string(try unsigned(8)))  // BINUNICODE8
            case 0x55: stack.append(try string(try unsigned(1)))  // SHORT_BINSTRING
            case 0x54: stack.append(try string(try unsigned(4)))  // BINSTRING
            case 0x43: stack.append(.bytes(Data(try take(try unsigned(1)))))  // SHORT_BINBYTES
            case 0x42: stack.append(.bytes(Data(try take(try unsigned(4)))))  // BINBYTES
            case 0x74: stack.append(.tuple(try popToMark()))  // TUPLE
            case 0x85: stack.append(.tuple([try pop()]))  // TUPLE1
            case 0x86:  // TUPLE2
                let b = try pop(), a = try pop()
                stack.append(.tuple([a, b]))
            case 0x87:  // TUPLE3
                let c = try pop(), b = try pop(), a = try pop()
                stack.append(.tuple([a, b, c]))
            case 0x71: memo[try unsigned(1)] = stack.last  // BINPUT
            case 0x72: memo[try unsigned(4)] = stack.last  // LONG_BINPUT
            case 0x94: memo[memo.count] = stack.last  // MEMOIZE
            case 0x68, 0x6A:  // BINGET, LONG_BINGET
                let index = try unsigned(opcode == 0x68 ? 1 : 4)
                guard let value = memo[index] else { throw fail("memo \(index) is empty") }
                stack.append(value)
            case 0x73:  // SETITEM
                let value = try pop(), key = try pop()
                try setItems([key, value])
            case 0x75: try setItems(try popToMark())  // SETITEMS
            case 0x61:  // APPEND
                let value = try pop()
                try append([value])
            case 0x65: try append(try popToMark())  // APPENDS
            case 0x63: stack.append(try global(try line(), try line()))  // GLOBAL
            case 0x93:  // STACK_GLOBAL
                guard case .string(let name) = try pop(), case .string(let module) = try pop() else {
                    throw fail("STACK_GLOBAL without two strings")
                }
                stack.append(try global(module, name))
            case 0x51:  // BINPERSID: ('storage', storage class, key, location, count)
                guard case .tuple(let fields) = try pop(), fields.count >= 5, case .string("storage") = fields[0],
                    case .global(let type) = fields[1], case .string(let key) = fields[2],
                    case .int(let count) = fields[4]
                else {
                    throw fail("a persistent reference that is not a tensor storage")
                }
                let dtype = String(type.dropFirst("torch.".count))
                guard TorchStorage.itemSize(dtype) != nil, key.allSatisfy({ $0.isLetter || $0.isNumber }) else {
                    throw fail("unsupported storage \(type) '\(key)'")
                }
                stack.append(.storage(TorchStorage(key: key, dtype: dtype, count: count)))
            case 0x52:  // REDUCE
                let arguments = try pop(), callable = try pop()
                stack.append(try reduce(callable, arguments))
            case 0x62:  // BUILD: only an ordered dict's state (its `_metadata`) is accepted, and ignored
                let state = try pop()
                guard case .dictionary = stack.last, case .dictionary = state else {
                    throw fail("BUILD of \(stack.last?.kind ?? "nothing") is not a state dictionary's")
                }
            default:
                throw fail(
                    String(format: "opcode 0x%02X at byte %d is not part of a state dictionary", opcode, position - 1))
            }
        }
    }

    private mutating func setItems(_ items: [PickleValue]) throws {
        guard items.count % 2 == 0, case .dictionary(var entries) = stack.popLast() else {
            throw fail("SETITEMS outside a dictionary")
        }
        for i in stride(from: 0, to: items.count, by: 2) { entries.append((items[i], items[i + 1])) }
        stack.append(.dictionary(entries))
    }

    private mutating func append(_ items: [PickleValue]) throws {
        guard case .list(var values) = stack.popLast() else { throw fail("APPENDS outside a list") }
        values += items
        stack.append(.list(values))
    }

    private func reduce(_ callable: PickleValue, _ arguments: PickleValue) throws -> PickleValue {
        guard case .global(let name) = callable, case .tuple(let args) = arguments else {
            throw fail("REDUCE of \(callable.kind)")
        }
        switch name {
        case "collections.OrderedDict":
            guard args.isEmpty else { throw fail("OrderedDict with arguments") }
            return .dictionary([])
        case "torch._utils._rebuild_tensor_v2":
            func ints(_ value: PickleValue) -> [Int]? {
                guard case .tuple(let items) = value else { return nil }
                return items.compactMap { if case .int(let v) = $0 { return v } else { return nil } }
            }
            guard args.count >= 4, case .storage(let storage) = args[0], case .int(let offset) = args[1],
                let shape = ints(args[2]), let strides = ints(args[3]),
                case .tuple(let shapeItems) = args[2], shape.count == shapeItems.count
            else {
                throw fail("_rebuild_tensor_v2 with unexpected arguments")
            }
            return .tensor(TorchTensorReference(storage: storage, offset: offset, shape: shape, strides: strides))
        case "torch._utils._rebuild_parameter":
            guard let data = args.first, case .tensor = data else { throw fail("_rebuild_parameter without a tensor") }
            return data
        default:
            throw fail("refuses to call '\(name)'")
        }
    }
}
