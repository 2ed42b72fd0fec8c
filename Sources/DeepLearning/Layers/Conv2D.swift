/// A 2-D convolution layer (Keras `Conv2D`): `conv2D(x, kernel) + bias`.
///
/// Input `[N, H, W, inChannels]` → output `[N, Ho, Wo, outChannels]` with `Ho = ⌈H / stride⌉`
/// for `.same` padding and `⌊(H − k) / stride⌋ + 1` for `.valid`.
public final class Conv2D: Layer {
    /// The filters, `[k, k, inChannels, outChannels]` (Keras layout).
    public let kernel: Parameter
    /// The bias `[outChannels]`, or `nil` when built with `useBias: false`.
    public let bias: Parameter?
    /// Step between windows, in both axes.
    public let stride: Int
    /// `.same` (TensorFlow's split) or `.valid`.
    public let padding: Padding

    /// Creates a convolution with square `kernelSize`×`kernelSize` filters.
    ///
    /// - Parameters:
    ///   - kernelInitializer: Keras's default Glorot-uniform; pix2pix uses `.normal(standardDeviation: 0.02)`.
    ///   - biasInitializer: zeros by default.
    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Padding = .same,
                useBias: Bool = true, kernelInitializer: Initializer = .glorotUniform,
                biasInitializer: Initializer = .zeros) {
        precondition(inChannels > 0 && outChannels > 0 && kernelSize > 0 && stride > 0,
                     "Conv2D: sizes must be positive (in \(inChannels), out \(outChannels), kernel \(kernelSize), stride \(stride))")
        kernel = Parameter(kernelInitializer.make([kernelSize, kernelSize, inChannels, outChannels]))
        bias = useBias ? Parameter(biasInitializer.make([outChannels])) : nil
        self.stride = stride
        self.padding = padding
    }

    /// Applies the convolution to `[N, H, W, inChannels]`.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        conv2D(input, kernel: kernel.value, bias: bias?.value, stride: stride, padding: padding)
    }
}

/// A 2-D transposed convolution layer (Keras `Conv2DTranspose`), the upsampling of the
/// pix2pix decoder.
///
/// Input `[N, H, W, inChannels]` → output `[N, H·stride, W·stride, outChannels]` for `.same`
/// padding, `H·stride + max(k − stride, 0)` for `.valid`.
public final class Conv2DTranspose: Layer {
    /// The filters, `[k, k, outChannels, inChannels]` (Keras layout).
    public let kernel: Parameter
    /// The bias `[outChannels]`, or `nil`.
    public let bias: Parameter?
    /// Upsampling factor in both axes.
    public let stride: Int
    /// `.same` or `.valid`.
    public let padding: Padding

    /// Creates a transposed convolution with square `kernelSize`×`kernelSize` filters.
    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Padding = .same,
                useBias: Bool = true, kernelInitializer: Initializer = .glorotUniform,
                biasInitializer: Initializer = .zeros) {
        precondition(inChannels > 0 && outChannels > 0 && kernelSize > 0 && stride > 0,
                     "Conv2DTranspose: sizes must be positive (in \(inChannels), out \(outChannels), kernel \(kernelSize), stride \(stride))")
        kernel = Parameter(kernelInitializer.make([kernelSize, kernelSize, outChannels, inChannels]))
        bias = useBias ? Parameter(biasInitializer.make([outChannels])) : nil
        self.stride = stride
        self.padding = padding
    }

    /// Applies the transposed convolution to `[N, H, W, inChannels]`.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        conv2DTranspose(input, kernel: kernel.value, bias: bias?.value, stride: stride, padding: padding)
    }
}
