/// Pads height and width by reflection (PyTorch `ReflectionPad2d`), as a layer.
public final class ReflectionPad2D: Layer {
    /// Pixels added on every side.
    public let padding: Int
    /// Creates the layer.
    public init(_ padding: Int) { self.padding = padding }
    /// `[N, H, W, C]` → `[N, H + 2p, W + 2p, C]`.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        input.padded(top: padding, bottom: padding, left: padding, right: padding, mode: .reflect)
    }
}
