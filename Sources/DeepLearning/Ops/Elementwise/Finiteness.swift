// Finiteness checks: the NaN stop of training scans every gradient, and some are proved finite
// from the operands that produced them without being read at all.

/// Whether all `count` floats at `pointer` are finite: a branch-free vector scan of the
/// exponent bits on all cores (each 64 K-element chunk writes its own verdict, so threads
/// share nothing).
func allFinite(_ pointer: UnsafePointer<Float>, count: Int) -> Bool {
    let chunk = 1 << 16
    let chunks = (count + chunk - 1) / chunk
    let verdicts = UnsafeMutablePointer<Bool>.allocate(capacity: Swift.max(chunks, 1))
    verdicts.initialize(repeating: true, count: Swift.max(chunks, 1))
    defer { verdicts.deallocate() }
    let exponent = SIMD16<UInt32>(repeating: 0x7F80_0000)
    parallelChunks(chunks, grain: 4) { range in
        for c in range {
            let start = c * chunk, end = Swift.min(count, start + chunk)
            var bad = SIMDMask<SIMD16<Int32>>()
            var i = start
            while i + 16 <= end {
                let bits = UnsafeRawPointer(pointer + i).loadUnaligned(as: SIMD16<UInt32>.self)
                bad .|= (bits & exponent) .== exponent
                i += 16
            }
            var scalarBad = false
            while i < end {
                scalarBad = scalarBad || !pointer[i].isFinite
                i += 1
            }
            verdicts[c] = !(any(bad) || scalarBad)
        }
    }
    for c in 0..<chunks where !verdicts[c] { return false }
    return true
}

/// The largest |x| of `count` floats, or `nil` if any is NaN or infinite: one vector pass over
/// the bit patterns (for finite floats, the order of `bits & 0x7FFF_FFFF` is the order of |x|).
func maximumMagnitude(_ pointer: UnsafePointer<Float>, count: Int) -> Float? {
    let chunk = 1 << 16
    let chunks = Swift.max((count + chunk - 1) / chunk, 1)
    var maxima = [UInt32](repeating: 0, count: chunks)
    maxima.withUnsafeMutableBufferPointer { maxima in
        let maxima = maxima.baseAddress!
        parallelChunks(chunks, grain: 4) { range in
            for c in range {
                let start = c * chunk, end = Swift.min(count, start + chunk)
                var best = SIMD16<UInt32>(repeating: 0)
                let mask = SIMD16<UInt32>(repeating: 0x7FFF_FFFF)
                var i = start
                while i + 16 <= end {
                    let bits = UnsafeRawPointer(pointer + i).loadUnaligned(as: SIMD16<UInt32>.self) & mask
                    best.replace(with: bits, where: bits .> best)
                    i += 16
                }
                var scalar = best.max()
                while i < end {
                    scalar = Swift.max(scalar, pointer[i].bitPattern & 0x7FFF_FFFF)
                    i += 1
                }
                maxima[c] = scalar
            }
        }
    }
    let largest = maxima.max() ?? 0
    return largest >= 0x7F80_0000 ? nil : Float(bitPattern: largest)
}

/// Whether a kernel gradient Σ_r a[r, i]·b[r, j] over `rows` rows is certainly finite, from the
/// largest magnitudes of its two operands alone: every product and partial sum is then below
/// rows·max|a|·max|b| (times 1 + rows·ε for rounding), kept far under Float's 3.4·10³⁸. Reads
/// only the activations — for the U-Net's inner layers far fewer floats than the gradient.
func kernelGradientIsProvablyFinite(_ a: Tensor, _ b: Tensor, rows: Int) -> Bool {
    guard let maxA = a.withPointer({ maximumMagnitude($0, count: a.count) }),
        let maxB = b.withPointer({ maximumMagnitude($0, count: b.count) })
    else { return false }
    return Double(rows) * Double(maxA) * Double(maxB) < 1e36
}
