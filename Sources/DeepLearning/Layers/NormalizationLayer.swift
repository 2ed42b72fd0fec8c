/// A normalisation layer that can also apply an activation in its own pass over the data.
///
/// `norm(x, activation: a)` gives the same values and gradients as `a(norm(x))` and saves a
/// read and a write of the activations each way (the conv → norm → activation blocks of
/// pix2pix use it). `BatchNorm` and `InstanceNorm` conform.
public protocol NormalizationLayer: Layer {
    /// Normalises `input` and applies `activation`.
    func callAsFunction(_ input: Tensor, activation: Activation) -> Tensor
}
