import DeepLearning

/// A 4×4 stride-2 upsampling block of the U-Net decoder:
/// transposed conv → norm → dropout(0.5)? → concat(skip) → ReLU.
public final class UNetUp: Module {
    /// The 4×4 stride-2 'same' transposed convolution.
    public let deconv: Conv2DTranspose
    /// Batch or instance normalisation.
    public let norm: (any NormalizationLayer)?
    /// Dropout(0.5) in the three innermost 512-channel blocks.
    public let dropout: Dropout?
    /// Whether the skip connection's channels come first in the concatenation (junyanz's
    /// PyTorch order) or last (the seed's Keras order).
    public let skipFirst: Bool

    /// Creates a block mapping `inChannels` to `outChannels` at twice the resolution.
    ///
    /// `useBias`, `batchNormEpsilon`, `skipFirst` and `instanceNormAffine` default to the seed's
    /// Keras model; junyanz's PyTorch model has no bias under batch norm, ε 1e-5, the skip first
    /// and instance norm without γ and β.
    public init(
        _ inChannels: Int, _ outChannels: Int, norm: NormalizationKind, dropout: Bool, useBias: Bool = true,
        batchNormEpsilon: Float = 1e-3, skipFirst: Bool = false, instanceNormAffine: Bool = true
    ) {
        deconv = Conv2DTranspose(
            inChannels, outChannels, kernelSize: 4, stride: 2, padding: .same, useBias: useBias,
            kernelInitializer: pix2pixKernelInitializer)
        self.norm = norm.make(outChannels, epsilon: batchNormEpsilon, instanceNormAffine: instanceNormAffine)
        self.dropout = dropout ? Dropout(rate: 0.5) : nil
        self.skipFirst = skipFirst
    }

    /// `x [N, H, W, in]`, `skip [N, 2H, 2W, s]` → `[N, 2H, 2W, out + s]` (`[…, s + out]` with
    /// `skipFirst`).
    public func callAsFunction(_ x: Tensor, skip: Tensor) -> Tensor {
        var y = deconv(x)
        if let norm { y = norm(y) }
        if let dropout { y = dropout(y) }
        // ReLU applied while concatenating (one pass instead of two).
        return concatenate(skipFirst ? [skip, y] : [y, skip], axis: -1, activation: .relu)
    }
}

/// The pix2pix U-Net generator (Isola et al. 2017; the seed's `define_generator`).
///
/// With the defaults it is `unet_256`: encoder C64(no norm)-C128-C256-C512-C512-C512-C512,
/// a C512 bottleneck with ReLU and no norm, decoder CD512-CD512-CD512-C512-C256-C128-C64
/// (D = dropout 0.5) each concatenated with the mirrored encoder output, and a 4×4
/// transposed conv to 3 channels with tanh. Its trainable parameters plus the batch-norm
/// running statistics add up to Keras's 54,429,315 for the seed's model.
///
/// Fully convolutional: any input whose height and width are multiples of 2^`depth` works.
public final class UNetGenerator: Layer {
    /// The architecture's settings.
    public struct Configuration: Codable, Equatable, Sendable {
        /// Number of stride-2 downsamplings: 8 for `unet_256`, 7 for `unet_128`.
        public var depth: Int = 8
        /// Filters of the first layer (junyanz's `ngf`); deeper layers double up to 8×.
        public var baseFilters: Int = 64
        /// Channels of the input image.
        public var inputChannels: Int = 3
        /// Channels of the output image.
        public var outputChannels: Int = 3
        /// Dropout(0.5) in the three innermost decoder blocks.
        public var dropout: Bool = true
        /// Normalisation in every block but the first encoder block and the bottleneck.
        public var norm: NormalizationKind = .batch
        /// `.keras`: the seed's model. `.pytorch`: junyanz's `unet_256`/`unet_128` — the same
        /// function with the skip connection first in each concatenation, no convolution bias
        /// under batch norm (but in the output layer), batch-norm ε 1e-5, instance norm without γ
        /// and β, and dropout in the `depth − 5` decoder blocks after the innermost one instead of
        /// the first three.
        public var convention: ModelConvention = .keras

        /// The seed's `unet_256`.
        public init(
            depth: Int = 8, baseFilters: Int = 64, inputChannels: Int = 3, outputChannels: Int = 3,
            dropout: Bool = true, norm: NormalizationKind = .batch, convention: ModelConvention = .keras
        ) {
            self.depth = depth
            self.baseFilters = baseFilters
            self.inputChannels = inputChannels
            self.outputChannels = outputChannels
            self.dropout = dropout
            self.norm = norm
            self.convention = convention
        }
    }

    /// The settings this generator was built with.
    public let configuration: Configuration
    /// Encoder blocks (4×4 stride 2), outermost first (`encoder.0` has no normalisation).
    public let encoder: [ConvBlock]
    /// The innermost 4×4 stride-2 convolution (ReLU, no normalisation).
    public let bottleneck: Conv2D
    /// Decoder blocks, innermost first.
    public let decoder: [UNetUp]
    /// The final 4×4 stride-2 transposed convolution to `outputChannels` (then tanh).
    public let output: Conv2DTranspose
    /// Whether the encoder and decoder blocks keep their intermediate values for backward
    /// (`false`, the default) or recompute them during the backward pass (`checkpointed`): a
    /// training step then holds only each block's input and output, for one more forward pass
    /// of the blocks. Results and gradients are the same either way. Not part of the
    /// configuration: it changes memory and time, not the model.
    public var recomputesBlocks = false

    /// Builds the generator; weights are drawn from `RandomState` (seed it first).
    public init(_ configuration: Configuration = Configuration()) {
        precondition(configuration.depth >= 2, "UNetGenerator: depth \(configuration.depth) must be at least 2")
        self.configuration = configuration
        let ngf = configuration.baseFilters
        let pytorch = configuration.convention == .pytorch
        let useBias = !pytorch || configuration.norm != .batch
        let epsilon: Float = pytorch ? 1e-5 : 1e-3
        // Filters of encoder block i: ngf·2^i, capped at ngf·8.
        let filters = (0..<(configuration.depth - 1)).map { ngf * (1 << Swift.min($0, 3)) }
        var encoder: [ConvBlock] = []
        var channels = configuration.inputChannels
        for (i, f) in filters.enumerated() {
            encoder.append(
                ConvBlock(
                    channels, f, norm: i == 0 ? .none : configuration.norm, useBias: useBias,
                    batchNormEpsilon: epsilon, instanceNormAffine: !pytorch))
            channels = f
        }
        self.encoder = encoder
        bottleneck = Conv2D(
            channels, ngf * 8, kernelSize: 4, stride: 2, padding: .same, useBias: useBias,
            kernelInitializer: pix2pixKernelInitializer)
        channels = ngf * 8
        var decoder: [UNetUp] = []
        for (i, f) in filters.reversed().enumerated() {
            let dropout = configuration.dropout && (pytorch ? i >= 1 && i <= configuration.depth - 5 : i < 3)
            decoder.append(
                UNetUp(
                    channels, f, norm: configuration.norm, dropout: dropout, useBias: useBias,
                    batchNormEpsilon: epsilon, skipFirst: pytorch, instanceNormAffine: !pytorch))
            channels = f * 2  // concatenated with the skip of the same width
        }
        self.decoder = decoder
        output = Conv2DTranspose(
            channels, configuration.outputChannels, kernelSize: 4, stride: 2, padding: .same,
            kernelInitializer: pix2pixKernelInitializer)
    }

    /// `[N, H, W, inputChannels]` in [-1, 1] → `[N, H, W, outputChannels]` in (-1, 1).
    ///
    /// - Precondition: H and W are multiples of 2^depth.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let multiple = 1 << configuration.depth
        precondition(
            x.rank == 4 && x.shape[1] % multiple == 0 && x.shape[2] % multiple == 0,
            "UNetGenerator(depth \(configuration.depth)): input \(describeShape(x.shape)) must be [N, H, W, C] with H and W multiples of \(multiple)"
        )
        var skips: [Tensor] = []
        var y = x
        for block in encoder {
            y = recomputesBlocks ? checkpointed(block, y) : block(y)
            skips.append(y)
        }
        y = relu(bottleneck(y))
        for (block, skip) in zip(decoder, skips.reversed()) {
            y =
                recomputesBlocks
                ? checkpointed([y, skip], through: [block]) { block($0[0], skip: $0[1]) } : block(y, skip: skip)
        }
        return tanh(output(y))
    }
}
