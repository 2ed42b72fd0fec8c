import Foundation

/// Element types that files may hold; all are converted to `Float` on reading.
enum StoredElementType {
    case float32, float64, float16, bfloat16, int8, int16, int32, int64, uint8, bool

    var size: Int {
        switch self {
        case .float32, .int32: return 4
        case .float64, .int64: return 8
        case .float16, .bfloat16, .int16: return 2
        case .int8, .uint8, .bool: return 1
        }
    }

    /// Converts `count` little-endian elements at `source` into `target`.
    func decode(_ source: UnsafeRawPointer, count: Int, into target: UnsafeMutablePointer<Float>) {
        switch self {
        case .float32:
            // memcpy handles unaligned sources; the host is little-endian like the files.
            memcpy(target, source, count * 4)
        case .float64:
            for i in 0..<count { target[i] = Float(source.loadUnaligned(fromByteOffset: i * 8, as: Double.self)) }
        case .float16:
            for i in 0..<count {
                target[i] = Float(Float16(bitPattern: source.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
            }
        case .bfloat16:
            for i in 0..<count {
                let bits = UInt32(source.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) << 16
                target[i] = Float(bitPattern: bits)
            }
        case .int8: for i in 0..<count { target[i] = Float(source.load(fromByteOffset: i, as: Int8.self)) }
        case .int16: for i in 0..<count { target[i] = Float(source.loadUnaligned(fromByteOffset: i * 2, as: Int16.self)) }
        case .int32: for i in 0..<count { target[i] = Float(source.loadUnaligned(fromByteOffset: i * 4, as: Int32.self)) }
        case .int64: for i in 0..<count { target[i] = Float(source.loadUnaligned(fromByteOffset: i * 8, as: Int64.self)) }
        case .uint8: for i in 0..<count { target[i] = Float(source.load(fromByteOffset: i, as: UInt8.self)) }
        case .bool: for i in 0..<count { target[i] = source.load(fromByteOffset: i, as: UInt8.self) != 0 ? 1 : 0 }
        }
    }
}

/// The largest tensor a file may declare (2³¹ elements, 8 GiB of Float32): anything larger is
/// rejected as corrupt before any allocation.
let maximumElementCount = 1 << 31
