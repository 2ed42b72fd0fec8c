// Activations: the `Activation` enum that ops fuse into their own passes, and the activation
// layers.

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

    /// Applies the activation as a separate op; any shape.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        if self == .identity { return x }
        if let y = withKernel(ActivationOp(input: x)) { return y }
        guard case .leakyReLU(let slope) = self else { preconditionFailure("Activation \(self) has no kernel") }
        return x.leakyReLU(slope: slope)
    }
}

/// An activation applied to `input` as its own recorded op.
private struct ActivationOp: ActivationKernelUser {
    let input: Tensor
    func callAsFunction<A: ElementwiseFunction>(_ activation: A) -> Tensor {
        input.applying(activation, op: "Activation")
    }
}

/// max(x, 0) elementwise, as a layer.
public final class ReLU: Layer {
    /// Creates the layer.
    public init() {}
    /// Applies ReLU; any shape.
    public func callAsFunction(_ input: Tensor) -> Tensor { input.relu() }
}

/// x for x > 0, `slope`·x otherwise (Keras `LeakyReLU(alpha)`; pix2pix uses 0.2).
public final class LeakyReLU: Layer {
    /// The negative slope.
    public let slope: Float
    /// Creates the layer; Keras's own default slope is 0.3, pix2pix's 0.2 is the default here.
    public init(slope: Float = 0.2) { self.slope = slope }
    /// Applies leaky ReLU; any shape.
    public func callAsFunction(_ input: Tensor) -> Tensor { input.leakyReLU(slope: slope) }
}

/// Hyperbolic tangent as a layer (the pix2pix generator's output activation).
public final class Tanh: Layer {
    /// Creates the layer.
    public init() {}
    /// Applies tanh; any shape.
    public func callAsFunction(_ input: Tensor) -> Tensor { input.tanh() }
}

/// Logistic sigmoid as a layer (the seed's PatchGAN output activation).
public final class Sigmoid: Layer {
    /// Creates the layer.
    public init() {}
    /// Applies the sigmoid; any shape.
    public func callAsFunction(_ input: Tensor) -> Tensor { input.sigmoid() }
}

/// GELU as a layer (transformers, diffusion U-Nets); exact by default.
public final class GELU: Layer {
    /// Exact (`.none`) or the tanh approximation.
    public let approximate: GELUApproximation
    /// Creates the layer.
    public init(approximate: GELUApproximation = .none) { self.approximate = approximate }
    /// Applies GELU; any shape.
    public func callAsFunction(_ input: Tensor) -> Tensor { input.gelu(approximate: approximate) }
}

/// SiLU (swish, `x·σ(x)`) as a layer.
public final class SiLU: Layer {
    /// Creates the layer.
    public init() {}
    /// Applies SiLU; any shape.
    public func callAsFunction(_ input: Tensor) -> Tensor { input.silu() }
}

/// ELU as a layer (PyTorch's `nn.ELU(alpha=1)`).
public final class ELU: Layer {
    /// The saturation value for negative inputs.
    public let alpha: Float
    /// Creates the layer.
    public init(alpha: Float = 1) { self.alpha = alpha }
    /// Applies ELU; any shape.
    public func callAsFunction(_ input: Tensor) -> Tensor { input.elu(alpha: alpha) }
}

/// Softplus as a layer (PyTorch's `nn.Softplus(beta=1, threshold=20)`).
public final class Softplus: Layer {
    /// The sharpness β.
    public let beta: Float
    /// Above `β·x > threshold` the layer is the identity.
    public let threshold: Float
    /// Creates the layer.
    public init(beta: Float = 1, threshold: Float = 20) {
        self.beta = beta
        self.threshold = threshold
    }
    /// Applies softplus; any shape.
    public func callAsFunction(_ input: Tensor) -> Tensor { input.softplus(beta: beta, threshold: threshold) }
}

/// Softmax along an axis as a layer (default: the last, the classes).
public final class Softmax: Layer {
    /// The axis that sums to 1.
    public let axis: Int
    /// Creates the layer.
    public init(axis: Int = -1) { self.axis = axis }
    /// Applies softmax; any shape.
    public func callAsFunction(_ input: Tensor) -> Tensor { input.softmax(alongAxis: axis) }
}
