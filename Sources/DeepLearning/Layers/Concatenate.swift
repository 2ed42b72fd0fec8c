/// Joins several tensors along an axis (Keras `Concatenate`; channels by default).
public final class Concatenate: Module {
    /// The axis to join along; −1 is channels in NHWC.
    public let axis: Int
    /// Creates the layer.
    public init(axis: Int = -1) { self.axis = axis }
    /// Concatenates `inputs`, whose shapes must agree off `axis`.
    public func callAsFunction(_ inputs: [Tensor]) -> Tensor { concatenate(inputs, axis: axis) }
}
