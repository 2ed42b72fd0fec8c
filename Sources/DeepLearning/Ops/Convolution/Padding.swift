// How a convolution treats the border of its input: the `Padding` of `conv2D`, `Conv2D`,
// `conv2DTranspose` and the pooling ops. (`Tensor.padded(top:bottom:left:right:mode:)`, which
// pads a tensor itself, is in Shape/Padded.swift.)

/// How a convolution treats the border.
public enum Padding: Sendable, Codable, Equatable, Hashable {
    /// Output size ⌈H / stride⌉; zeros are added, the odd one at the bottom/right
    /// (Keras/TensorFlow `'same'`).
    case same
    /// No padding: output size ⌊(H − d·(k − 1) − 1) / s⌋ + 1 (Keras `'valid'`, PyTorch `padding=0`).
    case valid
    /// `height` zero rows above and below, `width` zero columns left and right: PyTorch's
    /// `padding=(h, w)`; output size ⌊(H + 2h − d·(k − 1) − 1) / s⌋ + 1.
    case explicit(height: Int, width: Int)
}
