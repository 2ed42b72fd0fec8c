#if !_endian(little)
#error("NPY and safetensors I/O assumes a little-endian host (x86-64, arm64)")
#endif

/// A stored element type that readers convert to `Float` (NPY descr `<f8`, safetensors `BF16`, …).
/// Writers always store `Float32`; the other types exist so files written by NumPy, PyTorch
/// or JAX in another precision can still be loaded.
enum StoredElementType: Equatable {
    case float16, bfloat16, float32, float64
    case int8, int16, int32, int64
    case uint8, uint16, uint32, uint64
    case bool

    /// Bytes per element.
    var size: Int {
        switch self {
        case .int8, .uint8, .bool: return 1
        case .float16, .bfloat16, .int16, .uint16: return 2
        case .float32, .int32, .uint32: return 4
        case .float64, .int64, .uint64: return 8
        }
    }

    /// Converts `count` little-endian elements at `source` (any alignment) to `Float`.
    ///
    /// The switch sits outside the loops so each loop is a plain load-convert-store.
    func convert(_ source: UnsafeRawPointer, count: Int, to destination: UnsafeMutablePointer<Float>) {
        func each<T>(_ type: T.Type, _ convert: (T) -> Float) {
            let stride = MemoryLayout<T>.size
            for i in 0..<count {
                destination[i] = convert(source.loadUnaligned(fromByteOffset: i * stride, as: T.self))
            }
        }
        switch self {
        case .float32: UnsafeMutableRawPointer(destination).copyMemory(from: source, byteCount: count * 4)
        case .float64: each(Double.self) { Float($0) }
        case .float16: each(UInt16.self, floatFromHalfBits)
        case .bfloat16: each(UInt16.self) { Float(bitPattern: UInt32($0) << 16) }
        case .int8: each(Int8.self) { Float($0) }
        case .int16: each(Int16.self) { Float($0) }
        case .int32: each(Int32.self) { Float($0) }
        case .int64: each(Int64.self) { Float($0) }
        case .uint8: each(UInt8.self) { Float($0) }
        case .uint16: each(UInt16.self) { Float($0) }
        case .uint32: each(UInt32.self) { Float($0) }
        case .uint64: each(UInt64.self) { Float($0) }
        case .bool: each(UInt8.self) { $0 != 0 ? 1 : 0 }
        }
    }
}

/// IEEE 754 binary16 → binary32, exact (every half is representable as a float). Written
/// out rather than using `Float16`, which is not available on every platform Swift targets.
func floatFromHalfBits(_ half: UInt16) -> Float {
    let sign: Float = half & 0x8000 != 0 ? -1 : 1
    let exponent = UInt32(half >> 10) & 0x1f
    let mantissa = UInt32(half & 0x3ff)
    switch exponent {
    case 0: return sign * Float(mantissa) * 0x1p-24  // zero and subnormals
    case 31: return Float(bitPattern: (UInt32(half & 0x8000) << 16) | 0x7f80_0000 | (mantissa << 13))  // inf, NaN
    default: return Float(bitPattern: (UInt32(half & 0x8000) << 16) | ((exponent + 112) << 23) | (mantissa << 13))
    }
}
