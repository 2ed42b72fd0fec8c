import Foundation

// The library's elementwise functions, each f and f′ in one type (ElementwiseFunction.swift).
// Those without a vector form of their own run the scalar function lane by lane.

/// y = x.
struct IdentityFunction: ElementwiseFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x }
    @inline(__always) func callAsFunction(_ x: SIMD16<Float>) -> SIMD16<Float> { x }
    var derivativeReadsOutput: Bool { true }
    func derivative(at saved: Tensor) -> Tensor? { Tensor.ones(saved.shape) }
    @inline(__always) func derivative(_ gradient: Float, at y: Float) -> Float { gradient }
    @inline(__always) func derivative(_ gradient: SIMD16<Float>, at y: SIMD16<Float>) -> SIMD16<Float> { gradient }
}

/// y = max(x, 0). y > 0 exactly when x > 0, so the output carries the derivative (0 at the kink).
struct ReLUFunction: ElementwiseFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x > 0 ? x : 0 }
    @inline(__always) func callAsFunction(_ x: SIMD16<Float>) -> SIMD16<Float> {
        x.replacing(with: 0, where: x .<= 0)
    }
    var derivativeReadsOutput: Bool { true }
    func derivative(at saved: Tensor) -> Tensor? { derivativeValues(at: saved) }
    @inline(__always) func derivative(_ gradient: Float, at y: Float) -> Float { y > 0 ? gradient : 0 }
    @inline(__always) func derivative(_ gradient: SIMD16<Float>, at y: SIMD16<Float>) -> SIMD16<Float> {
        gradient.replacing(with: 0, where: y .<= 0)
    }
}

/// y = x for x > 0, slope·x otherwise (`slope` at the kink). For slope > 0 the sign of y is the
/// sign of x, so the derivative reads the output; otherwise the same formula reads the input.
struct LeakyReLUFunction: ElementwiseFunction {
    let slope: Float
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x > 0 ? x : slope * x }
    @inline(__always) func callAsFunction(_ x: SIMD16<Float>) -> SIMD16<Float> {
        x.replacing(with: x * slope, where: x .<= 0)
    }
    var derivativeReadsOutput: Bool { slope > 0 }
    func derivative(at saved: Tensor) -> Tensor? { derivativeValues(at: saved) }
    @inline(__always) func derivative(_ gradient: Float, at saved: Float) -> Float {
        saved > 0 ? gradient : slope * gradient
    }
    @inline(__always) func derivative(_ gradient: SIMD16<Float>, at saved: SIMD16<Float>) -> SIMD16<Float> {
        gradient.replacing(with: gradient * slope, where: saved .<= 0)
    }
}

/// y = tanh(x) as Eigen's `generic_fast_tanh_float`: a 13/6-degree rational interpolant on
/// [-9, 9] (outside it tanh is ±1 in Float32), within 3·ε relative of libm's `tanhf` and
/// an order of magnitude faster than calling it per element. NaN propagates.
struct TanhFunction: ElementwiseFunction {
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
    var derivativeReadsOutput: Bool { true }
    func derivative(at saved: Tensor) -> Tensor? { 1 - saved.squared() }
    @inline(__always) func derivative(_ gradient: Float, at y: Float) -> Float { gradient * (1 - y * y) }
    @inline(__always) func derivative(_ gradient: SIMD16<Float>, at y: SIMD16<Float>) -> SIMD16<Float> {
        gradient * (1 - y * y)
    }
}

/// y = 1 / (1 + e⁻ˣ), stable for large |x|; f′ = y(1 − y).
struct SigmoidFunction: ElementwiseFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { stableSigmoid(x) }
    var derivativeReadsOutput: Bool { true }
    func derivative(at saved: Tensor) -> Tensor? { saved * (1 - saved) }
    @inline(__always) func derivative(_ gradient: Float, at y: Float) -> Float { gradient * (y * (1 - y)) }
}

/// y = eˣ; f′ = y.
struct ExpFunction: ElementwiseFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { Foundation.expf(x) }
    var derivativeReadsOutput: Bool { true }
    func derivative(at saved: Tensor) -> Tensor? { saved }
    @inline(__always) func derivative(_ gradient: Float, at y: Float) -> Float { gradient * y }
}

/// y = ln x; f′ = 1/x.
struct LogFunction: ElementwiseFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { Foundation.logf(x) }
    var derivativeReadsOutput: Bool { false }
    func derivative(at saved: Tensor) -> Tensor? { 1 / saved }
    @inline(__always) func derivative(_ gradient: Float, at x: Float) -> Float { gradient * (1 / x) }
}

/// y = √x; f′ = 1/(2y).
struct SquareRootFunction: ElementwiseFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x.squareRoot() }
    var derivativeReadsOutput: Bool { true }
    func derivative(at saved: Tensor) -> Tensor? { 0.5 / saved }
    @inline(__always) func derivative(_ gradient: Float, at y: Float) -> Float { gradient * (0.5 / y) }
}

/// y = x²; f′ = 2x.
struct SquareFunction: ElementwiseFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x * x }
    @inline(__always) func callAsFunction(_ x: SIMD16<Float>) -> SIMD16<Float> { x * x }
    var derivativeReadsOutput: Bool { false }
    func derivative(at saved: Tensor) -> Tensor? { saved * 2 }
    @inline(__always) func derivative(_ gradient: Float, at x: Float) -> Float { gradient * (2 * x) }
    @inline(__always) func derivative(_ gradient: SIMD16<Float>, at x: SIMD16<Float>) -> SIMD16<Float> {
        gradient * (2 * x)
    }
}

/// y = |x|; f′ = sign(x), 0 at 0 (as PyTorch).
struct AbsoluteValueFunction: ElementwiseFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { Swift.abs(x) }
    var derivativeReadsOutput: Bool { false }
    func derivative(at saved: Tensor) -> Tensor? { derivativeValues(at: saved) }
    @inline(__always) func derivative(_ gradient: Float, at x: Float) -> Float {
        gradient * (x > 0 ? 1 : (x < 0 ? -1 : 0))
    }
}

/// y = sin x; f′ = cos x.
struct SineFunction: ElementwiseFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { Foundation.sinf(x) }
    var derivativeReadsOutput: Bool { false }
    func derivative(at saved: Tensor) -> Tensor? { saved.cos() }
    @inline(__always) func derivative(_ gradient: Float, at x: Float) -> Float { gradient * Foundation.cosf(x) }
}

/// y = cos x; f′ = −sin x.
struct CosineFunction: ElementwiseFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { Foundation.cosf(x) }
    var derivativeReadsOutput: Bool { false }
    func derivative(at saved: Tensor) -> Tensor? { -saved.sin() }
    @inline(__always) func derivative(_ gradient: Float, at x: Float) -> Float { gradient * -Foundation.sinf(x) }
}

/// y = erf x; f′ = 2/√π · e^(−x²).
struct ErrorFunction: ElementwiseFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { Foundation.erff(x) }
    var derivativeReadsOutput: Bool { false }
    func derivative(at saved: Tensor) -> Tensor? { (-saved.squared()).exp() * 1.128_379_2 }
    @inline(__always) func derivative(_ gradient: Float, at x: Float) -> Float {
        gradient * (1.128_379_2 * Foundation.expf(-x * x))
    }
}

/// The exact GELU x·Φ(x), Φ(x) = ½(1 + erf(x/√2)); f′ = Φ(x) + x·φ(x). C kernel 0.
struct GELUFunction: VectorKernelFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { 0.5 * x * (1 + Foundation.erff(x * 0.707_106_77)) }
    @inline(__always) func callAsFunction(_ x: SIMD16<Float>) -> SIMD16<Float> {
        0.5 * x * (1 + vectorErf(x * 0.707_106_77))
    }
    var derivativeReadsOutput: Bool { false }
    func derivative(at saved: Tensor) -> Tensor? {
        0.5 * (1 + (saved * 0.707_106_77).erf()) + saved * (saved.squared() * -0.5).exp() * 0.398_942_3
    }
    @inline(__always) func derivative(_ gradient: Float, at x: Float) -> Float {
        gradient * (0.5 * (1 + Foundation.erff(x * 0.707_106_77)) + x * 0.398_942_3 * Foundation.expf(-0.5 * x * x))
    }
    @inline(__always) func derivative(_ gradient: SIMD16<Float>, at x: SIMD16<Float>) -> SIMD16<Float> {
        gradient * (0.5 * (1 + vectorErf(x * 0.707_106_77)) + x * 0.398_942_3 * vectorExp(-0.5 * x * x))
    }
    var cKernel: Int32 { 0 }
}

/// GELU's tanh approximation ½x(1 + tanh(√(2/π)(x + 0.044715x³))).
struct GELUTanhFunction: ElementwiseFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float {
        0.5 * x * (1 + Foundation.tanhf(0.797_884_6 * (x + 0.044_715 * x * x * x)))
    }
    var derivativeReadsOutput: Bool { false }
    func derivative(at saved: Tensor) -> Tensor? {
        let t = ((saved + saved.pow(3) * 0.044_715) * 0.797_884_6).tanh()
        return 0.5 * (1 + t) + 0.5 * saved * (1 - t.squared()) * 0.797_884_6 * (1 + 3 * 0.044_715 * saved.squared())
    }
    @inline(__always) func derivative(_ gradient: Float, at x: Float) -> Float {
        let t = Foundation.tanhf(0.797_884_6 * (x + 0.044_715 * x * x * x))
        return gradient * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * 0.797_884_6 * (1 + 3 * 0.044_715 * x * x))
    }
}

/// SiLU (swish) x·σ(x); f′ = σ(x)(1 + x(1 − σ(x))). C kernel 2.
struct SiLUFunction: VectorKernelFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x * stableSigmoid(x) }
    @inline(__always) func callAsFunction(_ x: SIMD16<Float>) -> SIMD16<Float> {
        // σ(x) = 1/(1 + e^−x), with e^−x saturating to +∞ (σ = 0) far below zero.
        x / (1 + vectorExp(-x))
    }
    var derivativeReadsOutput: Bool { false }
    func derivative(at saved: Tensor) -> Tensor? {
        let s = saved.sigmoid()
        return s * (1 + saved * (1 - s))
    }
    @inline(__always) func derivative(_ gradient: Float, at x: Float) -> Float {
        let s = stableSigmoid(x)
        return gradient * (s * (1 + x * (1 - s)))
    }
    @inline(__always) func derivative(_ gradient: SIMD16<Float>, at x: SIMD16<Float>) -> SIMD16<Float> {
        let s = 1 / (1 + vectorExp(-x))
        return gradient * (s * (1 + x * (1 - s)))
    }
    var cKernel: Int32 { 2 }
}

/// ELU: x for x > 0, α(eˣ − 1) otherwise; f′ = 1 or αeˣ.
struct ELUFunction: ElementwiseFunction {
    let alpha: Float
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x > 0 ? x : alpha * Foundation.expm1f(x) }
    var derivativeReadsOutput: Bool { false }
    func derivative(at saved: Tensor) -> Tensor? {
        // αeˣ below zero; the clamp keeps eˣ finite where the mask discards it.
        let positive = saved.detached().mapElements { $0 > 0 ? 1 : 0 }
        return positive + (1 - positive) * saved.clamped(to: -.infinity, 0).exp() * alpha
    }
    @inline(__always) func derivative(_ gradient: Float, at x: Float) -> Float {
        gradient * (x > 0 ? 1 : alpha * Foundation.expf(x))
    }
}

/// Softplus log(1 + e^(βx))/β, and x itself where βx > threshold; f′ = σ(βx) (1 past the threshold).
struct SoftplusFunction: ElementwiseFunction {
    let beta: Float, threshold: Float
    @inline(__always) func callAsFunction(_ x: Float) -> Float {
        beta * x > threshold ? x : Foundation.log1pf(Foundation.expf(beta * x)) / beta
    }
    var derivativeReadsOutput: Bool { false }
    func derivative(at saved: Tensor) -> Tensor? {
        let linear = saved.detached().mapElements { beta * $0 > threshold ? 1 : 0 }
        return linear + (1 - linear) * (saved * beta).sigmoid()
    }
    @inline(__always) func derivative(_ gradient: Float, at x: Float) -> Float {
        gradient * (beta * x > threshold ? 1 : stableSigmoid(beta * x))
    }
}

/// y = xᵖ for a constant p; f′ = p·xᵖ⁻¹.
struct PowerFunction: ElementwiseFunction {
    let exponent: Float
    @inline(__always) func callAsFunction(_ x: Float) -> Float { Foundation.powf(x, exponent) }
    var derivativeReadsOutput: Bool { false }
    func derivative(at saved: Tensor) -> Tensor? { saved.pow(exponent - 1) * exponent }
    @inline(__always) func derivative(_ gradient: Float, at x: Float) -> Float {
        gradient * (exponent * Foundation.powf(x, exponent - 1))
    }
}

/// y = min(max(x, lower), upper); f′ = 1 inside [lower, upper], 0 outside.
struct ClampFunction: ElementwiseFunction {
    let lower: Float, upper: Float
    @inline(__always) func callAsFunction(_ x: Float) -> Float { Swift.min(Swift.max(x, lower), upper) }
    var derivativeReadsOutput: Bool { false }
    func derivative(at saved: Tensor) -> Tensor? { derivativeValues(at: saved) }
    @inline(__always) func derivative(_ gradient: Float, at x: Float) -> Float {
        gradient * (x >= lower && x <= upper ? 1 : 0)
    }
}

@inline(__always)
func stableSigmoid(_ x: Float) -> Float {
    if x >= 0 { return 1 / (1 + Foundation.expf(-x)) }
    let e = Foundation.expf(x)
    return e / (1 + e)
}
