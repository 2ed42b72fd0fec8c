import CKernels

// The one way an elementwise function becomes a differentiable op: a type conforming to
// `ElementwiseFunction` (f on a scalar and on 16 lanes, f′ from the one operand it reads), run
// by `Tensor.applying(_:)`. The loops are generic over the function, so each compiles to a plain
// vector loop specialised for it — Swift closures cannot be generic, and a closure per element
// ran at a fifth of memory speed. Normalisation and concatenation fuse the same types into their
// own passes (`Activation.withKernel`). ElementwiseFunctions.swift holds the library's
// functions; Docs/Extending.md shows how to add one.

/// A function applied to every element, with its derivative: the one pattern for an
/// elementwise op or activation. `Tensor.applying(_:)` runs it as a recorded op.
///
/// ```swift
/// struct Swish: ElementwiseFunction {
///     func callAsFunction(_ x: Float) -> Float { x / (1 + Foundation.exp(-x)) }
///     var derivativeReadsOutput: Bool { false }
///     func derivative(_ gradient: Float, at x: Float) -> Float {
///         let s = 1 / (1 + Foundation.exp(-x))
///         return gradient * (s + x * s * (1 - s))
///     }
/// }
/// let y = x.applying(Swish())
/// ```
///
/// The pullback saves one operand, the input x or the output y (`derivativeReadsOutput`), and
/// computes ∂x = f′·∂y from it: reading y lets a pullback free the input, and is what the fused
/// kernels need, which keep only their output. The 16-lane forms default to the scalar ones
/// lane by lane; write them where the function has a vector form.
public protocol ElementwiseFunction {
    /// f(x).
    func callAsFunction(_ x: Float) -> Float
    /// f on 16 lanes; by default the scalar f lane by lane.
    func callAsFunction(_ x: SIMD16<Float>) -> SIMD16<Float>
    /// Whether `derivative` reads the output y (true) or the input x (false).
    var derivativeReadsOutput: Bool { get }
    /// f′·`gradient`, from the saved operand (y if `derivativeReadsOutput`, else x).
    func derivative(_ gradient: Float, at saved: Float) -> Float
    /// f′·`gradient` on 16 lanes; by default the scalar derivative lane by lane.
    func derivative(_ gradient: SIMD16<Float>, at saved: SIMD16<Float>) -> SIMD16<Float>
    /// f′ at the saved operand, written with differentiable ops (`saved` is recorded), for
    /// gradients of gradients (`createGraph: true`): the rule is then itself differentiated, to
    /// any order. `nil` (the default) when the function has none; a recorded pass through it
    /// then stops with a message naming the function.
    func derivative(at saved: Tensor) -> Tensor?
}

/// A library function that also has a C kernel of `dl_unary_vectors` (CKernels/pointwise.c) for
/// the whole vectors: `cKernel` runs f, `cKernel + 1` its derivative from the input.
protocol VectorKernelFunction: ElementwiseFunction {
    var cKernel: Int32 { get }
}

extension ElementwiseFunction {
    /// No differentiable derivative: first order only.
    public func derivative(at saved: Tensor) -> Tensor? { nil }

    /// f lane by lane.
    @inline(__always) public func callAsFunction(_ x: SIMD16<Float>) -> SIMD16<Float> {
        var y = x
        for lane in 0..<16 { y[lane] = self(x[lane]) }
        return y
    }

    /// f′·`gradient` lane by lane.
    @inline(__always) public func derivative(_ gradient: SIMD16<Float>, at saved: SIMD16<Float>) -> SIMD16<Float> {
        var result = gradient
        for lane in 0..<16 { result[lane] = derivative(gradient[lane], at: saved[lane]) }
        return result
    }
}

extension Tensor {
    /// `function` applied to every element, recorded with a pullback that reads the saved input
    /// or output (`ElementwiseFunction.derivativeReadsOutput`): any shape, the same shape out.
    ///
    /// - Parameter op: the name the op profiler charges; defaults to the calling function.
    @inline(__always)
    public func applying<F: ElementwiseFunction>(_ function: F, op: StaticString = #function) -> Tensor {
        let output = Tensor(uninitializedShape: shape)
        // The C kernels' level is per thread: read it here, not on the workers.
        let kernel = (function as? any VectorKernelFunction).map { ($0.cKernel, Int32(PointwiseKernels.level)) }
        withPointers(self, output) { x, y in applyElementwise(function, x, y, count: count, kernel: kernel) }
        guard GradientMode.isRecording && node != nil else { return output }
        // The pullback keeps the one operand the derivative reads, and nothing else.
        if function.derivativeReadsOutput {
            return Tensor.recording(output, inputs: [self], op: op) { gradient, _, output in
                [elementwiseDerivative(function, gradient: gradient, at: output, kernel: kernel, op: op)]
            }
        }
        let input = self
        return Tensor.recording(output, inputs: [self], op: op) { gradient, _ in
            [elementwiseDerivative(function, gradient: gradient, at: input, kernel: kernel, op: op)]
        }
    }
}

/// ∂x = ∂y·f′(saved), on the fused kernels — or, in a recorded pass, with f′ written in
/// differentiable ops (`ElementwiseFunction.derivative(at:)`).
@inline(__always)
private func elementwiseDerivative<F: ElementwiseFunction>(
    _ function: F, gradient: Tensor, at saved: Tensor, kernel: (id: Int32, level: Int32)?, op: StaticString
) -> Tensor {
    if GradientMode.isRecording {
        guard let slope = function.derivative(at: saved) else {
            preconditionFailure(
                "createGraph: \(F.self) (\(op)) has no differentiable derivative; implement derivative(at:) to differentiate it twice"
            )
        }
        return gradient * slope
    }
    let result = Tensor(uninitializedShape: saved.shape)
    withPointers(gradient, saved, result) { dy, s, dx in
        elementwiseGradient(function, gradient: dy, saved: s, dx, count: saved.count, kernel: kernel)
    }
    return result
}

extension ElementwiseFunction {
    /// f′ at every element of `saved` as constants (not recorded): the differentiable
    /// derivative of a piecewise-linear function (ReLU, clamp), whose own derivative is zero.
    func derivativeValues(at saved: Tensor) -> Tensor {
        withoutGradient { saved.applying(SlopeOf(function: self)) }
    }
}

/// f′ of a piecewise-linear function as a function of its own, so the vector loops compute it.
private struct SlopeOf<F: ElementwiseFunction>: ElementwiseFunction {
    let function: F
    @inline(__always) func callAsFunction(_ x: Float) -> Float { function.derivative(1, at: x) }
    @inline(__always) func callAsFunction(_ x: SIMD16<Float>) -> SIMD16<Float> {
        function.derivative(SIMD16(repeating: 1), at: x)
    }
    var derivativeReadsOutput: Bool { false }
    @inline(__always) func derivative(_ gradient: Float, at x: Float) -> Float { 0 }
}

/// target[i] = function(source[i]) for i < count, on all cores for large counts; the C kernel
/// (id, level) takes the whole vectors where given.
@inline(__always)
func applyElementwise<F: ElementwiseFunction>(
    _ function: F, _ source: UnsafePointer<Float>, _ target: UnsafeMutablePointer<Float>, count: Int,
    kernel: (id: Int32, level: Int32)? = nil
) {
    parallelChunks(count, grain: 65_536) { range in
        var i = range.lowerBound
        if let kernel { i += dl_unary_vectors(kernel.level, kernel.id, source + i, nil, target + i, range.count) }
        while i + 16 <= range.upperBound {
            storeVector(function(loadVector(source + i)), target + i)
            i += 16
        }
        while i < range.upperBound {
            target[i] = function(source[i])
            i += 1
        }
    }
}

/// target[i] = function′ at saved[i] · gradient[i] (saved: the input or the output, as the
/// function reads); the C kernel (id + 1, from the input) takes the whole vectors where given.
@inline(__always)
func elementwiseGradient<F: ElementwiseFunction>(
    _ function: F, gradient: UnsafePointer<Float>, saved: UnsafePointer<Float>,
    _ target: UnsafeMutablePointer<Float>, count: Int, kernel: (id: Int32, level: Int32)? = nil
) {
    parallelChunks(count, grain: 65_536) { range in
        var i = range.lowerBound
        if let kernel {
            i += dl_unary_vectors(kernel.level, kernel.id + 1, saved + i, gradient + i, target + i, range.count)
        }
        while i + 16 <= range.upperBound {
            storeVector(function.derivative(loadVector(gradient + i), at: loadVector(saved + i)), target + i)
            i += 16
        }
        while i < range.upperBound {
            target[i] = function.derivative(gradient[i], at: saved[i])
            i += 1
        }
    }
}

/// Code that runs on the vector kernel of an `Activation`. A protocol rather than a closure
/// because Swift closures cannot be generic, and the loops must be specialised per activation.
protocol ActivationKernelUser {
    associatedtype Result
    func callAsFunction<F: ElementwiseFunction>(_ activation: F) -> Result
}

extension Activation {
    /// Runs `user` with this activation's function type; `nil` when the activation has none whose
    /// derivative reads its output (leaky ReLU with a slope ≤ 0), for the caller to apply it as a
    /// separate op. The one place an `Activation` is mapped to its function: every function
    /// handed to a fused kernel has `derivativeReadsOutput`.
    func withKernel<User: ActivationKernelUser>(_ user: User) -> User.Result? {
        switch self {
        case .identity: return user(IdentityFunction())
        case .relu: return user(ReLUFunction())
        case .leakyReLU(let slope) where slope > 0: return user(LeakyReLUFunction(slope: slope))
        case .tanh: return user(TanhFunction())
        case .leakyReLU: return nil
        }
    }
}
