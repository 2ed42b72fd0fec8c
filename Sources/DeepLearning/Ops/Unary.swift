import Foundation

// Elementwise math functions and activations with their derivatives. Each pullback is one
// fused loop over the saved input or output.

extension Tensor {
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
    /// xᵖ elementwise for a constant exponent.
    public func pow(_ exponent: Float) -> Tensor {
        unary({ Foundation.powf($0, exponent) }, derivative: { x, _ in exponent * Foundation.powf(x, exponent - 1) })
    }
    /// Clamps every element to `[lower, upper]`; the gradient passes only inside the range.
    public func clamped(to lower: Float, _ upper: Float) -> Tensor {
        unary({ Swift.min(Swift.max($0, lower), upper) }, derivative: { x, _ in x >= lower && x <= upper ? 1 : 0 })
    }
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
