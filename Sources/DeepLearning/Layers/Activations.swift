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
    func callAsFunction<A: PointwiseActivation>(_ activation: A) -> Tensor {
        input.activated(activation, op: "Activation")
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
