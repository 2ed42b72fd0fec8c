// Vectorised pointwise kernels for the activations of convolutional networks.
//
// The generic `mapElements`/`zipElements` loops take a closure per element; for the
// activations that run on every feature map of a training step (ReLU, leaky ReLU) that left
// them at a fifth of memory speed. These kernels are written over `SIMD16<Float>` and
// specialised per activation (a generic over `PointwiseActivation`), so each compiles to a
// plain vector loop. Normalisation fuses the same activations into its own passes.

/// An activation applied elementwise inside fused kernels, with its derivative expressed
/// through the *output* y, so a pullback needs only the saved output.
protocol PointwiseActivation {
    func callAsFunction(_ x: Float) -> Float
    func callAsFunction(_ x: SIMD16<Float>) -> SIMD16<Float>
    /// ∂y/∂x · g, from the output y (the derivative at the kink is 0 for ReLU, `slope` for leaky ReLU).
    func backward(_ gradient: Float, output y: Float) -> Float
    func backward(_ gradient: SIMD16<Float>, output y: SIMD16<Float>) -> SIMD16<Float>
}

/// y = x.
struct IdentityActivation: PointwiseActivation {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x }
    @inline(__always) func callAsFunction(_ x: SIMD16<Float>) -> SIMD16<Float> { x }
    @inline(__always) func backward(_ gradient: Float, output y: Float) -> Float { gradient }
    @inline(__always) func backward(_ gradient: SIMD16<Float>, output y: SIMD16<Float>) -> SIMD16<Float> { gradient }
}

/// y = max(x, 0). y > 0 exactly when x > 0, so the output carries the derivative.
struct ReLUActivation: PointwiseActivation {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x > 0 ? x : 0 }
    @inline(__always) func callAsFunction(_ x: SIMD16<Float>) -> SIMD16<Float> {
        x.replacing(with: 0, where: x .<= 0)
    }
    @inline(__always) func backward(_ gradient: Float, output y: Float) -> Float { y > 0 ? gradient : 0 }
    @inline(__always) func backward(_ gradient: SIMD16<Float>, output y: SIMD16<Float>) -> SIMD16<Float> {
        gradient.replacing(with: 0, where: y .<= 0)
    }
}

/// y = x for x > 0, slope·x otherwise. For slope > 0 the sign of y is the sign of x, so the
/// output carries the derivative (callers with slope ≤ 0 must keep the input instead).
struct LeakyReLUActivation: PointwiseActivation {
    let slope: Float
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x > 0 ? x : slope * x }
    @inline(__always) func callAsFunction(_ x: SIMD16<Float>) -> SIMD16<Float> {
        x.replacing(with: x * slope, where: x .<= 0)
    }
    @inline(__always) func backward(_ gradient: Float, output y: Float) -> Float { y > 0 ? gradient : slope * gradient }
    @inline(__always) func backward(_ gradient: SIMD16<Float>, output y: SIMD16<Float>) -> SIMD16<Float> {
        gradient.replacing(with: gradient * slope, where: y .<= 0)
    }
}

/// y = tanh(x) as Eigen's `generic_fast_tanh_float`: a 13/6-degree rational interpolant on
/// [-9, 9] (outside it tanh is ±1 in Float32), within 3·ε relative of libm's `tanhf` and
/// an order of magnitude faster than calling it per element. NaN propagates.
struct TanhActivation: PointwiseActivation {
    @inline(__always) func callAsFunction(_ x: Float) -> Float {
        var v = SIMD16<Float>(repeating: 0)
        v[0] = x
        return self(v)[0]
    }
    @inline(__always) func callAsFunction(_ input: SIMD16<Float>) -> SIMD16<Float> {
        // (`clamped` and `pointwiseMin` do not vectorise; comparisons and `replacing` do.)
        var x = input.replacing(with: 9, where: input .> 9)
        x.replace(with: -9, where: x .< -9)
        let x2 = x * x
        var p = x2 * -2.76076847742355e-16 + 2.00018790482477e-13
        p = x2 * p + -8.60467152213735e-11
        p = x2 * p + 5.12229709037114e-08
        p = x2 * p + 1.48572235717979e-05
        p = x2 * p + 6.37261928875436e-04
        p = x2 * p + 4.89352455891786e-03
        p = x * p
        var q = x2 * 1.19825839466702e-06 + 1.18534705686654e-04
        q = x2 * q + 2.26843463243900e-03
        q = x2 * q + 4.89352518554385e-03
        // Tiny x gives x·α₁/β₀ = x·(1 − 1.3·10⁻⁷) (−0 stays −0); NaN passes both comparisons
        // above unchanged and propagates.
        return p / q
    }
    @inline(__always) func backward(_ gradient: Float, output y: Float) -> Float { gradient * (1 - y * y) }
    @inline(__always) func backward(_ gradient: SIMD16<Float>, output y: SIMD16<Float>) -> SIMD16<Float> {
        gradient * (1 - y * y)
    }
}

@inline(__always)
func loadVector(_ pointer: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(pointer).loadUnaligned(as: SIMD16<Float>.self)
}

@inline(__always)
func storeVector(_ value: SIMD16<Float>, _ pointer: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: SIMD16<Float>.self)
}

/// target[i] = activation(source[i]) for i < count, on all cores for large counts.
@inline(__always)
func applyActivation<A: PointwiseActivation>(_ activation: A, _ source: UnsafePointer<Float>,
                                             _ target: UnsafeMutablePointer<Float>, count: Int) {
    parallelChunks(count, grain: 65_536) { range in
        var i = range.lowerBound
        while i + 16 <= range.upperBound {
            storeVector(activation(loadVector(source + i)), target + i)
            i += 16
        }
        while i < range.upperBound {
            target[i] = activation(source[i])
            i += 1
        }
    }
}

/// target[i] = ∂activation at output[i] · gradient[i].
@inline(__always)
func activationGradient<A: PointwiseActivation>(_ activation: A, gradient: UnsafePointer<Float>, output: UnsafePointer<Float>,
                                                _ target: UnsafeMutablePointer<Float>, count: Int) {
    parallelChunks(count, grain: 65_536) { range in
        var i = range.lowerBound
        while i + 16 <= range.upperBound {
            storeVector(activation.backward(loadVector(gradient + i), output: loadVector(output + i)), target + i)
            i += 16
        }
        while i < range.upperBound {
            target[i] = activation.backward(gradient[i], output: output[i])
            i += 1
        }
    }
}

extension Tensor {
    /// The activation applied to every element, recorded with a pullback that reads the saved
    /// output (which must determine the derivative; see `PointwiseActivation`).
    @inline(__always)
    func activated<A: PointwiseActivation>(_ activation: A, op: StaticString = #function) -> Tensor {
        let output = Tensor(uninitializedShape: shape)
        withExtendedLifetime(self) {
            applyActivation(activation, storage.pointer, output.storage.pointer, count: count)
        }
        guard GradientMode.isRecording && node != nil else { return output }
        let saved = output.detached()
        return Tensor.recording(output, inputs: [self], op: op) { gradient, _ in
            let result = Tensor(uninitializedShape: saved.shape)
            withExtendedLifetime((gradient, saved)) {
                activationGradient(activation, gradient: gradient.storage.pointer, output: saved.storage.pointer,
                                   result.storage.pointer, count: saved.count)
            }
            return [result]
        }
    }
}

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

/// An elementwise activation, for the ops and layers that can apply one in their own pass
/// over the data (normalisation, concatenation) instead of a separate op.
///
/// `activation(x)` applies it as an ordinary op.
public enum Activation: Sendable, Equatable {
    /// y = x.
    case identity
    /// y = max(x, 0).
    case relu
    /// y = x for x > 0, `slope`·x otherwise.
    case leakyReLU(slope: Float)
    /// y = tanh(x).
    case tanh

    /// Applies the activation as a separate op.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        switch self {
        case .identity: return x
        case .relu: return x.relu()
        case .leakyReLU(let slope): return x.leakyReLU(slope: slope)
        case .tanh: return x.tanh()
        }
    }
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
/// only the activations — for the U-Net's inner layers ~30× fewer floats than the gradient.
func kernelGradientIsProvablyFinite(_ a: Tensor, _ b: Tensor, rows: Int) -> Bool {
    guard let maxA = withExtendedLifetime(a, { maximumMagnitude(a.storage.pointer, count: a.count) }),
          let maxB = withExtendedLifetime(b, { maximumMagnitude(b.storage.pointer, count: b.count) }) else { return false }
    return Double(rows) * Double(maxA) * Double(maxB) < 1e36
}
