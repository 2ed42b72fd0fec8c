import CKernels
import Foundation

// Elementwise math functions and activations with their derivatives. Each pullback is one
// fused loop over the saved input or output.

extension Tensor {
    /// A unary op on 16-lane vectors (scalar functions for the tail), whose derivative is a
    /// function of the input.
    @inline(__always)
    private func vectorUnary(
        _ forward: (SIMD16<Float>) -> SIMD16<Float>, scalar: (Float) -> Float, kernel: Int32,
        op: StaticString = #function,
        derivative: @escaping (SIMD16<Float>) -> SIMD16<Float>, scalarDerivative: @escaping (Float) -> Float
    ) -> Tensor {
        let output = Tensor(uninitializedShape: shape), elements = count
        // The C kernel (`kernel` forward, `kernel + 1` backward) does the whole vectors where the
        // CPU allows; the Swift loops the rest. The level is read here: it is per thread.
        let level = Int32(PointwiseKernels.level)
        withPointers(self, output) { x, y in
            parallelChunks(elements, grain: 65_536) { range in
                var i = range.lowerBound
                i += dl_unary_vectors(level, kernel, x + i, nil, y + i, range.count)
                while i + 16 <= range.upperBound {
                    storeVector(forward(loadVector(x + i)), y + i)
                    i += 16
                }
                while i < range.upperBound {
                    y[i] = scalar(x[i])
                    i += 1
                }
            }
        }
        guard GradientMode.isRecording && node != nil else { return output }
        let input = detached()
        return Tensor.recording(output, inputs: [self], op: op) { gradient, _ in
            let inputGradient = Tensor(uninitializedShape: input.shape)
            withPointers(gradient, input, inputGradient) { dy, x, dx in
                parallelChunks(elements, grain: 65_536) { range in
                    var i = range.lowerBound
                    i += dl_unary_vectors(level, kernel + 1, x + i, dy + i, dx + i, range.count)
                    while i + 16 <= range.upperBound {
                        storeVector(loadVector(dy + i) * derivative(loadVector(x + i)), dx + i)
                        i += 16
                    }
                    while i < range.upperBound {
                        dx[i] = dy[i] * scalarDerivative(x[i])
                        i += 1
                    }
                }
            }
            return [inputGradient]
        }
    }

    /// A unary op whose derivative is a function of the input `x` and output `y`.
    @inline(__always)
    private func unary(
        _ forward: (Float) -> Float, op: StaticString = #function,
        derivative: @escaping (_ x: Float, _ y: Float) -> Float
    ) -> Tensor {
        let output = mapElements(forward)
        guard GradientMode.isRecording && node != nil else { return output }
        let input = detached()
        return Tensor.recording(output, inputs: [self], op: op) { gradient, _ in
            [Tensor.zipElements(gradient, input, output) { g, x, y in g * derivative(x, y) }]
        }
    }

    /// eˣ elementwise.
    public func exp() -> Tensor { unary({ Foundation.expf($0) }, derivative: { _, y in y }) }
    /// Natural logarithm elementwise.
    public func log() -> Tensor { unary({ Foundation.logf($0) }, derivative: { x, _ in 1 / x }) }
    /// Square root elementwise.
    public func sqrt() -> Tensor { unary({ $0.squareRoot() }, derivative: { _, y in 0.5 / y }) }
    /// x² elementwise.
    public func squared() -> Tensor { unary({ $0 * $0 }, derivative: { x, _ in 2 * x }) }
    /// |x| elementwise; the derivative at 0 is taken as 0 (as PyTorch does).
    public func abs() -> Tensor {
        unary({ Swift.abs($0) }, derivative: { x, _ in x > 0 ? 1 : (x < 0 ? -1 : 0) })
    }
    /// Hyperbolic tangent elementwise.
    public func tanh() -> Tensor { activated(TanhActivation()) }
    /// Logistic sigmoid 1 / (1 + e⁻ˣ) elementwise, stable for large |x|.
    public func sigmoid() -> Tensor { unary(stableSigmoid, derivative: { _, y in y * (1 - y) }) }
    /// max(x, 0) elementwise; derivative 0 at 0.
    public func relu() -> Tensor { activated(ReLUActivation()) }
    /// x for x > 0, `slope`·x otherwise (Keras's default slope is 0.3, pix2pix uses 0.2).
    public func leakyReLU(slope: Float = 0.2) -> Tensor {
        // The vector kernel recovers the derivative from the output, which needs slope > 0.
        if slope > 0 { return activated(LeakyReLUActivation(slope: slope)) }
        return unary({ $0 > 0 ? $0 : slope * $0 }, derivative: { x, _ in x > 0 ? 1 : slope })
    }
    /// sin(x) elementwise.
    public func sin() -> Tensor { unary({ Foundation.sinf($0) }, derivative: { x, _ in Foundation.cosf(x) }) }
    /// cos(x) elementwise.
    public func cos() -> Tensor { unary({ Foundation.cosf($0) }, derivative: { x, _ in -Foundation.sinf(x) }) }
    /// The error function erf(x) elementwise; derivative 2/√π · e^(−x²).
    public func erf() -> Tensor {
        unary({ Foundation.erff($0) }, derivative: { x, _ in 1.128_379_2 * Foundation.expf(-x * x) })
    }
    /// GELU (Hendrycks & Gimpel) elementwise: `x·Φ(x)` with the exact normal CDF
    /// `Φ(x) = ½(1 + erf(x/√2))`, or with `approximate: .tanh` the tanh approximation
    /// `½x(1 + tanh(√(2/π)(x + 0.044715x³)))` — PyTorch's `F.gelu(x, approximate="none" | "tanh")`.
    public func gelu(approximate: GELUApproximation = .none) -> Tensor {
        switch approximate {
        case .none:
            // Φ(x) = ½(1 + erf(x/√2)); d/dx x·Φ(x) = Φ(x) + x·φ(x).
            return vectorUnary(
                { x in 0.5 * x * (1 + vectorErf(x * 0.707_106_77)) },
                scalar: { 0.5 * $0 * (1 + Foundation.erff($0 * 0.707_106_77)) }, kernel: 0,
                derivative: { x in
                    0.5 * (1 + vectorErf(x * 0.707_106_77)) + x * 0.398_942_3 * vectorExp(-0.5 * x * x)
                },
                scalarDerivative: { x in
                    0.5 * (1 + Foundation.erff(x * 0.707_106_77)) + x * 0.398_942_3 * Foundation.expf(-0.5 * x * x)
                })
        case .tanh:
            return unary(
                { x in 0.5 * x * (1 + Foundation.tanhf(0.797_884_6 * (x + 0.044_715 * x * x * x))) },
                derivative: { x, _ in
                    let t = Foundation.tanhf(0.797_884_6 * (x + 0.044_715 * x * x * x))
                    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * 0.797_884_6 * (1 + 3 * 0.044_715 * x * x)
                })
        }
    }
    /// SiLU (swish) elementwise: `x·σ(x)`.
    public func silu() -> Tensor {
        // σ(x) = 1/(1 + e^−x), with e^−x saturating to +∞ (σ = 0) far below zero.
        vectorUnary(
            { x in x / (1 + vectorExp(-x)) },
            scalar: { $0 * stableSigmoid($0) }, kernel: 2,
            derivative: { x in
                let s = 1 / (1 + vectorExp(-x))
                return s * (1 + x * (1 - s))
            },
            scalarDerivative: { x in
                let s = stableSigmoid(x)
                return s * (1 + x * (1 - s))
            })
    }
    /// ELU elementwise: `x` for x > 0, `alpha·(eˣ − 1)` otherwise (PyTorch's default α = 1).
    public func elu(alpha: Float = 1) -> Tensor {
        unary(
            { $0 > 0 ? $0 : alpha * Foundation.expm1f($0) },
            derivative: { x, _ in x > 0 ? 1 : alpha * Foundation.expf(x) })
    }
    /// Softplus elementwise: `log(1 + e^(βx))/β`, and `x` itself where `βx > threshold` (PyTorch's
    /// `F.softplus(x, beta=1, threshold=20)`), so it never overflows.
    public func softplus(beta: Float = 1, threshold: Float = 20) -> Tensor {
        unary(
            { x in beta * x > threshold ? x : Foundation.log1pf(Foundation.expf(beta * x)) / beta },
            derivative: { x, _ in beta * x > threshold ? 1 : stableSigmoid(beta * x) })
    }
    /// xᵖ elementwise for a constant exponent.
    public func pow(_ exponent: Float) -> Tensor {
        unary({ Foundation.powf($0, exponent) }, derivative: { x, _ in exponent * Foundation.powf(x, exponent - 1) })
    }
    /// Clamps every element to `[lower, upper]`; the gradient passes only inside the range.
    public func clamped(to lower: Float, _ upper: Float) -> Tensor {
        unary({ Swift.min(Swift.max($0, lower), upper) }, derivative: { x, _ in x >= lower && x <= upper ? 1 : 0 })
    }
}

/// Which form of GELU to compute (PyTorch's `approximate=` argument).
public enum GELUApproximation: String, Sendable, Codable {
    /// The exact `x·Φ(x)`, with erf.
    case none
    /// The tanh approximation of the original paper (and of GPT-2, BERT's code).
    case tanh
}

@inline(__always)
func stableSigmoid(_ x: Float) -> Float {
    if x >= 0 { return 1 / (1 + Foundation.expf(-x)) }
    let e = Foundation.expf(x)
    return e / (1 + e)
}

/// eˣ elementwise.
public func exp(_ x: Tensor) -> Tensor { x.exp() }
/// Natural logarithm elementwise.
public func log(_ x: Tensor) -> Tensor { x.log() }
/// Square root elementwise.
public func sqrt(_ x: Tensor) -> Tensor { x.sqrt() }
/// |x| elementwise.
public func abs(_ x: Tensor) -> Tensor { x.abs() }
/// Hyperbolic tangent elementwise.
public func tanh(_ x: Tensor) -> Tensor { x.tanh() }
/// Logistic sigmoid elementwise.
public func sigmoid(_ x: Tensor) -> Tensor { x.sigmoid() }
/// max(x, 0) elementwise.
public func relu(_ x: Tensor) -> Tensor { x.relu() }
/// Leaky ReLU with the given negative slope.
public func leakyReLU(_ x: Tensor, slope: Float = 0.2) -> Tensor { x.leakyReLU(slope: slope) }
/// sin(x) elementwise.
public func sin(_ x: Tensor) -> Tensor { x.sin() }
/// cos(x) elementwise.
public func cos(_ x: Tensor) -> Tensor { x.cos() }
/// erf(x) elementwise.
public func erf(_ x: Tensor) -> Tensor { x.erf() }
/// GELU elementwise (exact by default).
public func gelu(_ x: Tensor, approximate: GELUApproximation = .none) -> Tensor { x.gelu(approximate: approximate) }
/// SiLU (swish) elementwise.
public func silu(_ x: Tensor) -> Tensor { x.silu() }
/// ELU elementwise.
public func elu(_ x: Tensor, alpha: Float = 1) -> Tensor { x.elu(alpha: alpha) }
/// Softplus elementwise.
public func softplus(_ x: Tensor, beta: Float = 1, threshold: Float = 20) -> Tensor {
    x.softplus(beta: beta, threshold: threshold)
}
