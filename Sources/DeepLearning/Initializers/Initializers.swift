/// How a layer fills a new weight tensor. All random initializers are seeded: they draw from
/// the generator passed to `make`, by default `RandomState`.
///
/// Fans follow Keras: for a kernel of shape `[k₁, …, in, out]` the receptive field is
/// `k₁·…`, `fanIn = in·field`, `fanOut = out·field`; for a matrix `[in, out]` they are its sizes.
public enum Initializer: Sendable, Equatable {
    /// All zeros.
    case zeros
    /// All ones.
    case ones
    /// Every element `value`.
    case constant(Float)
    /// N(mean, standardDeviation²) — pix2pix uses `.normal(standardDeviation: 0.02)`.
    case normal(mean: Float = 0, standardDeviation: Float)
    /// U[lowerBound, upperBound).
    case uniform(lowerBound: Float, upperBound: Float)
    /// U[−l, l) with l = √(6 / (fanIn + fanOut)) — Keras's default for kernels.
    case glorotUniform
    /// N(0, 2 / (fanIn + fanOut)).
    case glorotNormal
    /// N(0, 2 / fanIn) — Kaiming/He for ReLU networks.
    case heNormal
    /// U[−l, l) with l = √(6 / fanIn).
    case heUniform
    /// A (semi-)orthogonal matrix from the QR decomposition of a Gaussian matrix, times `gain`,
    /// reshaped to the kernel (rows = product of all axes but the last).
    case orthogonal(gain: Float = 1)

    /// The fans of a weight shape, Keras's convention.
    public static func fans(of shape: [Int]) -> (fanIn: Int, fanOut: Int) {
        switch shape.count {
        case 0: return (1, 1)
        case 1: return (shape[0], shape[0])
        case 2: return (shape[0], shape[1])
        default:
            let field = shape.dropLast(2).reduce(1, *)
            return (shape[shape.count - 2] * field, shape[shape.count - 1] * field)
        }
    }

    /// A new tensor of `shape` filled by this initializer.
    public func make(_ shape: [Int], generator: inout SeededGenerator) -> Tensor {
        let (fanIn, fanOut) = Initializer.fans(of: shape)
        switch self {
        case .zeros: return .zeros(shape)
        case .ones: return .ones(shape)
        case .constant(let value): return Tensor(shape: shape, repeating: value)
        case let .normal(mean, deviation):
            return .randomNormal(shape, mean: mean, standardDeviation: deviation, generator: &generator)
        case let .uniform(lower, upper):
            return .randomUniform(shape, lowerBound: lower, upperBound: upper, generator: &generator)
        case .glorotUniform:
            let limit = (6 / Float(fanIn + fanOut)).squareRoot()
            return .randomUniform(shape, lowerBound: -limit, upperBound: limit, generator: &generator)
        case .glorotNormal:
            return .randomNormal(
                shape, standardDeviation: (2 / Float(fanIn + fanOut)).squareRoot(), generator: &generator)
        case .heNormal:
            return .randomNormal(shape, standardDeviation: (2 / Float(fanIn)).squareRoot(), generator: &generator)
        case .heUniform:
            let limit = (6 / Float(fanIn)).squareRoot()
            return .randomUniform(shape, lowerBound: -limit, upperBound: limit, generator: &generator)
        case .orthogonal(let gain):
            return orthogonalMatrix(shape, gain: gain, generator: &generator)
        }
    }

    /// A new tensor of `shape` drawn from the process-wide default generator (`RandomState`).
    public func make(_ shape: [Int]) -> Tensor {
        RandomState.withGenerator { make(shape, generator: &$0) }
    }
}
