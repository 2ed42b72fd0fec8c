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

/// Joins several tensors along an axis (Keras `Concatenate`; channels by default).
public final class Concatenate: Module {
    /// The axis to join along; −1 is channels in NHWC.
    public let axis: Int
    /// Creates the layer.
    public init(axis: Int = -1) { self.axis = axis }
    /// Concatenates `inputs`, whose shapes must agree off `axis`.
    public func callAsFunction(_ inputs: [Tensor]) -> Tensor { concatenate(inputs, axis: axis) }
}
