// Vectorised pointwise kernels for the activations of convolutional networks.
//
// The generic `mapElements`/`zipElements` loops take a closure per element, which the
// activations that run on every feature map of a training step cannot afford. These kernels
// are written over `SIMD16<Float>` and specialised per activation (a generic over
// `PointwiseActivation`), so each compiles to a plain vector loop. Normalisation and
// concatenation fuse the same activations into their own passes, through `Activation.withKernel`.

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

/// target[i] = activation(source[i]) for i < count, on all cores for large counts.
@inline(__always)
func applyActivation<A: PointwiseActivation>(
    _ activation: A, _ source: UnsafePointer<Float>,
    _ target: UnsafeMutablePointer<Float>, count: Int
) {
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
func activationGradient<A: PointwiseActivation>(
    _ activation: A, gradient: UnsafePointer<Float>, output: UnsafePointer<Float>,
    _ target: UnsafeMutablePointer<Float>, count: Int
) {
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
        withPointers(self, output) { x, y in applyActivation(activation, x, y, count: count) }
        guard GradientMode.isRecording && node != nil else { return output }
        let saved = output.detached()
        return Tensor.recording(output, inputs: [self], op: op) { gradient, _ in
            let result = Tensor(uninitializedShape: saved.shape)
            withPointers(gradient, saved, result) { dy, y, dx in
                activationGradient(activation, gradient: dy, output: y, dx, count: saved.count)
            }
            return [result]
        }
    }
}

/// Code that runs on the vector kernel of an `Activation`. A protocol rather than a closure
/// because Swift closures cannot be generic, and the loops must be specialised per activation.
protocol ActivationKernelUser {
    associatedtype Result
    func callAsFunction<A: PointwiseActivation>(_ activation: A) -> Result
}

extension Activation {
    /// Runs `user` with this activation's kernel; `nil` when the activation has none that
    /// recovers its derivative from the output (leaky ReLU with a slope ≤ 0), for the caller to
    /// apply it as a separate op. The one place an `Activation` is mapped to its kernel.
    func withKernel<User: ActivationKernelUser>(_ user: User) -> User.Result? {
        switch self {
        case .identity: return user(IdentityActivation())
        case .relu: return user(ReLUActivation())
        case .leakyReLU(let slope) where slope > 0: return user(LeakyReLUActivation(slope: slope))
        case .tanh: return user(TanhActivation())
        case .leakyReLU: return nil
        }
    }
}
