// Elementwise math functions and activations as methods and free functions, each the
// `applying` of its `ElementwiseFunction` (ElementwiseFunctions.swift): one mechanism, whose
// pullback is one fused loop over the saved input or output.

extension Tensor {
    /// eˣ elementwise.
    public func exp() -> Tensor { applying(ExpFunction()) }
    /// Natural logarithm elementwise.
    public func log() -> Tensor { applying(LogFunction()) }
    /// Square root elementwise.
    public func sqrt() -> Tensor { applying(SquareRootFunction()) }
    /// x² elementwise.
    public func squared() -> Tensor { applying(SquareFunction()) }
    /// |x| elementwise; the derivative at 0 is taken as 0 (as PyTorch does).
    public func abs() -> Tensor { applying(AbsoluteValueFunction()) }
    /// Hyperbolic tangent elementwise.
    public func tanh() -> Tensor { applying(TanhFunction()) }
    /// Logistic sigmoid 1 / (1 + e⁻ˣ) elementwise, stable for large |x|.
    public func sigmoid() -> Tensor { applying(SigmoidFunction()) }
    /// max(x, 0) elementwise; derivative 0 at 0.
    public func relu() -> Tensor { applying(ReLUFunction()) }
    /// x for x > 0, `slope`·x otherwise (Keras's default slope is 0.3, pix2pix uses 0.2).
    public func leakyReLU(slope: Float = 0.2) -> Tensor { applying(LeakyReLUFunction(slope: slope)) }
    /// sin(x) elementwise.
    public func sin() -> Tensor { applying(SineFunction()) }
    /// cos(x) elementwise.
    public func cos() -> Tensor { applying(CosineFunction()) }
    /// The error function erf(x) elementwise; derivative 2/√π · e^(−x²).
    public func erf() -> Tensor { applying(ErrorFunction()) }
    /// GELU (Hendrycks & Gimpel) elementwise: `x·Φ(x)` with the exact normal CDF
    /// `Φ(x) = ½(1 + erf(x/√2))`, or with `approximate: .tanh` the tanh approximation
    /// `½x(1 + tanh(√(2/π)(x + 0.044715x³)))` — PyTorch's `F.gelu(x, approximate="none" | "tanh")`.
    public func gelu(approximate: GELUApproximation = .none) -> Tensor {
        switch approximate {
        case .none: return applying(GELUFunction())
        case .tanh: return applying(GELUTanhFunction())
        }
    }
    /// SiLU (swish) elementwise: `x·σ(x)`.
    public func silu() -> Tensor { applying(SiLUFunction()) }
    /// ELU elementwise: `x` for x > 0, `alpha·(eˣ − 1)` otherwise (PyTorch's default α = 1).
    public func elu(alpha: Float = 1) -> Tensor { applying(ELUFunction(alpha: alpha)) }
    /// Softplus elementwise: `log(1 + e^(βx))/β`, and `x` itself where `βx > threshold` (PyTorch's
    /// `F.softplus(x, beta=1, threshold=20)`), so it never overflows.
    public func softplus(beta: Float = 1, threshold: Float = 20) -> Tensor {
        applying(SoftplusFunction(beta: beta, threshold: threshold))
    }
    /// xᵖ elementwise for a constant exponent.
    public func pow(_ exponent: Float) -> Tensor { applying(PowerFunction(exponent: exponent)) }
    /// Clamps every element to `[lower, upper]`; the gradient passes only inside the range.
    public func clamped(to lower: Float, _ upper: Float) -> Tensor {
        applying(ClampFunction(lower: lower, upper: upper))
    }
}

/// Which form of GELU to compute (PyTorch's `approximate=` argument).
public enum GELUApproximation: String, Sendable, Codable {
    /// The exact `x·Φ(x)`, with erf.
    case none
    /// The tanh approximation of the original paper (and of GPT-2, BERT's code).
    case tanh
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
