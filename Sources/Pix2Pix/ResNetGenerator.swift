import DeepLearning

/// A residual block: x + (pad → conv3×3 → norm → ReLU → dropout? → pad → conv3×3 → norm)(x).
public final class ResidualBlock: Layer {
    /// First 3×3 convolution (after reflection padding by 1).
    public let conv1: Conv2D
    /// Normalisation after `conv1`.
    public let norm1: Layer?
    /// Dropout(0.5) between the convolutions, when enabled.
    public let dropout: Dropout?
    /// Second 3×3 convolution.
    public let conv2: Conv2D
    /// Normalisation after `conv2`.
    public let norm2: Layer?

    /// Creates a block keeping `channels` channels; `batchNormEpsilon` is Keras's 1e-3 unless
    /// given (PyTorch's is 1e-5).
    public init(_ channels: Int, norm: NormalizationKind, dropout: Bool, batchNormEpsilon: Float = 1e-3) {
        let useBias = norm != .batch  // junyanz: a bias before batch norm is redundant
        conv1 = Conv2D(
            channels, channels, kernelSize: 3, padding: .valid, useBias: useBias,
            kernelInitializer: pix2pixKernelInitializer)
        norm1 = norm.makeForResNet(channels, epsilon: batchNormEpsilon)
        self.dropout = dropout ? Dropout(rate: 0.5) : nil
        conv2 = Conv2D(
            channels, channels, kernelSize: 3, padding: .valid, useBias: useBias,
            kernelInitializer: pix2pixKernelInitializer)
        norm2 = norm.makeForResNet(channels, epsilon: batchNormEpsilon)
    }

    /// `[N, H, W, C]` → `[N, H, W, C]`.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var y = conv1(x.padded(top: 1, bottom: 1, left: 1, right: 1, mode: .reflect))
        if let norm1 { y = norm1(y) }
        y = relu(y)
        if let dropout { y = dropout(y) }
        y = conv2(y.padded(top: 1, bottom: 1, left: 1, right: 1, mode: .reflect))
        if let norm2 { y = norm2(y) }
        return x + y
    }
}

extension NormalizationKind {
    /// junyanz's ResNet uses non-affine instance norm (no parameters) and affine batch norm.
    func makeForResNet(_ channels: Int, epsilon: Float = 1e-3) -> Layer? {
        switch self {
        case .instance: return InstanceNorm(channels, affine: false)
        case .batch: return BatchNorm(channels, epsilon: epsilon)
        case .none: return nil
        }
    }
}

/// Whose arithmetic a model's layers follow where Keras and PyTorch differ, so that weights
/// trained in either framework give the same outputs here.
public enum ModelConvention: String, Codable, Sendable, CaseIterable {
    /// Keras/TensorFlow: 'same' padding (the odd pixel at the end), batch-norm ε 1e-3.
    case keras
    /// PyTorch (junyanz's pytorch-CycleGAN-and-pix2pix): symmetric integer padding of the
    /// stride-2 convolutions, `output_padding` for the transposed ones, batch-norm ε 1e-5.
    case pytorch
}

/// junyanz's ResNet generator (`resnet_9blocks` / `resnet_6blocks`, from Johnson et al.):
/// c7s1-64, d128, d256, R256 × blocks, u128, u64, c7s1-3 + tanh, where c7s1 is a
/// reflection-padded 7×7 convolution, d a 3×3 stride-2 convolution, R a residual block and u a
/// 3×3 stride-2 transposed convolution, each followed by norm and ReLU.
///
/// Built only from the public `DeepLearning` API — the worked example of Docs/Extending.md.
/// Input sides must be multiples of 4.
public final class ResNetGenerator: Layer {
    /// The architecture's settings.
    public struct Configuration: Codable, Equatable, Sendable {
        /// Residual blocks: 9 (`resnet_9blocks`, for 256×256) or 6.
        public var blocks: Int = 9
        /// Filters of the first layer (`ngf`).
        public var baseFilters: Int = 64
        /// Channels of the input image.
        public var inputChannels: Int = 3
        /// Channels of the output image.
        public var outputChannels: Int = 3
        /// Normalisation (junyanz's default for pix2pix is batch).
        public var norm: NormalizationKind = .batch
        /// Dropout(0.5) inside each residual block.
        public var dropout: Bool = false
        /// Whose arithmetic the stride-2 layers and batch norm follow (`.keras` by default).
        public var convention: ModelConvention = .keras

        /// `resnet_9blocks` by default.
        public init(
            blocks: Int = 9, baseFilters: Int = 64, inputChannels: Int = 3, outputChannels: Int = 3,
            norm: NormalizationKind = .batch, dropout: Bool = false, convention: ModelConvention = .keras
        ) {
            self.blocks = blocks
            self.baseFilters = baseFilters
            self.inputChannels = inputChannels
            self.outputChannels = outputChannels
            self.norm = norm
            self.dropout = dropout
            self.convention = convention
        }
    }

    /// The settings this generator was built with.
    public let configuration: Configuration
    /// c7s1-ngf: the 7×7 stem convolution and its norm.
    public let stem: Conv2D
    /// Norm after the stem.
    public let stemNorm: Layer?
    /// The two stride-2 downsampling convolutions.
    public let down: [Conv2D]
    /// Norms after them.
    public let downNorms: [Layer]
    /// The residual blocks at 4·ngf channels.
    public let residuals: [ResidualBlock]
    /// The two stride-2 upsampling transposed convolutions.
    public let up: [Conv2DTranspose]
    /// Norms after them.
    public let upNorms: [Layer]
    /// c7s1-3: the output convolution (then tanh).
    public let output: Conv2D

    /// Builds the generator; weights are drawn from `RandomState`.
    public init(_ configuration: Configuration = Configuration()) {
        self.configuration = configuration
        let ngf = configuration.baseFilters, norm = configuration.norm
        let useBias = norm != .batch
        let pytorch = configuration.convention == .pytorch
        let epsilon: Float = pytorch ? 1e-5 : 1e-3
        stem = Conv2D(
            configuration.inputChannels, ngf, kernelSize: 7, padding: .valid, useBias: useBias,
            kernelInitializer: pix2pixKernelInitializer)
        stemNorm = norm.makeForResNet(ngf, epsilon: epsilon)
        down = [1, 2].map { mult in
            Conv2D(
                ngf * mult, ngf * mult * 2, kernelSize: 3, stride: 2,
                padding: pytorch ? .explicit(height: 1, width: 1) : .same, useBias: useBias,
                kernelInitializer: pix2pixKernelInitializer)
        }
        downNorms = [2, 4].compactMap { norm.makeForResNet(ngf * $0, epsilon: epsilon) }
        residuals = (0..<configuration.blocks).map { _ in
            ResidualBlock(ngf * 4, norm: norm, dropout: configuration.dropout, batchNormEpsilon: epsilon)
        }
        // PyTorch's ConvTranspose2d(3, stride 2, padding 1, output_padding 1): the same 2H
        // output as 'same', cropped one pixel earlier.
        let (upPadding, upOutputPadding): (Padding, (Int, Int)) =
            pytorch ? (.explicit(height: 1, width: 1), (1, 1)) : (.same, (0, 0))
        up = [4, 2].map { mult in
            Conv2DTranspose(
                ngf * mult, ngf * mult / 2, kernelSize: (3, 3), stride: (2, 2), padding: upPadding,
                outputPadding: upOutputPadding, useBias: useBias, kernelInitializer: pix2pixKernelInitializer)
        }
        upNorms = [2, 1].compactMap { norm.makeForResNet(ngf * $0, epsilon: epsilon) }
        output = Conv2D(
            ngf, configuration.outputChannels, kernelSize: 7, padding: .valid,
            kernelInitializer: pix2pixKernelInitializer)
    }

    /// `[N, H, W, inputChannels]` in [-1, 1] → `[N, H, W, outputChannels]` in (-1, 1).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(
            x.rank == 4 && x.shape[1] % 4 == 0 && x.shape[2] % 4 == 0,
            "ResNetGenerator: input \(describeShape(x.shape)) must be [N, H, W, C] with H and W multiples of 4")
        func normalized(_ y: Tensor, _ norm: Layer?) -> Tensor { relu(norm?(y) ?? y) }
        var y = normalized(stem(x.padded(top: 3, bottom: 3, left: 3, right: 3, mode: .reflect)), stemNorm)
        for (i, conv) in down.enumerated() { y = normalized(conv(y), downNorms.isEmpty ? nil : downNorms[i]) }
        for block in residuals { y = block(y) }
        for (i, deconv) in up.enumerated() { y = normalized(deconv(y), upNorms.isEmpty ? nil : upNorms[i]) }
        return tanh(output(y.padded(top: 3, bottom: 3, left: 3, right: 3, mode: .reflect)))
    }
}
