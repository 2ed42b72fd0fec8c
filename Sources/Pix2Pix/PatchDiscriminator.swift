import DeepLearning

/// The pix2pix PatchGAN discriminator: it sees the source and a (real or generated) target
/// concatenated along channels and scores every patch, returning a map of logits.
///
/// Default (the seed's `define_discriminator`): C64(no norm)-C128-C256-C512 with stride 2,
/// C512 stride 1, C1 stride 1, all 4×4 'same', LeakyReLU(0.2): a 256×256 pair gives a
/// 16×16 map. `layers` is junyanz's `n_layers`: 3 gives his 70×70 `basic` model (a 32×32
/// map here, since 'same' padding keeps sizes exact); `.pixel` is the 1×1 PixelGAN. The seed ends in a
/// sigmoid; this returns logits and the losses apply the sigmoid stably
/// (`binaryCrossEntropy(logits:)`). Use `probabilities(source:target:)` for the sigmoid output.
public final class PatchDiscriminator: Module {
    /// The discriminator's shape.
    public enum Architecture: Codable, Equatable, Sendable {
        /// `layers` stride-2 4×4 convolutions, then a stride-1 4×4 conv and the 1-channel output.
        case patch(layers: Int)
        /// 1×1 convolutions only: every pixel judged on its own.
        case pixel
    }

    /// The settings this discriminator was built with.
    public struct Configuration: Codable, Equatable, Sendable {
        /// Patch (default: the seed's 4 downsamplings) or pixel.
        public var architecture: Architecture = .patch(layers: 4)
        /// Filters of the first layer (junyanz's `ndf`).
        public var baseFilters: Int = 64
        /// Channels of source + target (3 + 3).
        public var inputChannels: Int = 6
        /// Normalisation after every conv but the first and the last.
        public var norm: NormalizationKind = .batch
        /// `.keras`: the seed's. `.pytorch`: junyanz's `basic`/`n_layers`/`pixel` — the
        /// stride-1 4×4 convolutions pad by 1 on both sides (a 256² input gives 30×30 patch
        /// logits with 3 layers, where 'same' gives 32×32), no bias under batch norm (nor in the
        /// pixel discriminator's output), batch-norm ε 1e-5, instance norm without γ and β.
        public var convention: ModelConvention = .keras

        /// The seed's discriminator.
        public init(
            architecture: Architecture = .patch(layers: 4), baseFilters: Int = 64, inputChannels: Int = 6,
            norm: NormalizationKind = .batch, convention: ModelConvention = .keras
        ) {
            self.architecture = architecture
            self.baseFilters = baseFilters
            self.inputChannels = inputChannels
            self.norm = norm
            self.convention = convention
        }
    }

    /// The settings this discriminator was built with.
    public let configuration: Configuration
    /// The conv → norm → LeakyReLU stages.
    public let stages: [ConvBlock]
    /// The final 1-channel convolution producing patch logits.
    public let output: Conv2D

    /// Builds the discriminator; weights are drawn from `RandomState`.
    public init(_ configuration: Configuration = Configuration()) {
        self.configuration = configuration
        let ndf = configuration.baseFilters
        let pytorch = configuration.convention == .pytorch
        let useBias = !pytorch || configuration.norm != .batch  // of the convolutions under a norm
        let epsilon: Float = pytorch ? 1e-5 : 1e-3
        let strideOnePadding: Padding = pytorch ? .explicit(height: 1, width: 1) : .same
        var stages: [ConvBlock] = []
        switch configuration.architecture {
        case .patch(let layers):
            precondition(layers >= 1, "PatchDiscriminator: layers \(layers) must be at least 1")
            var channels = configuration.inputChannels
            for i in 0..<layers {
                let f = ndf * (1 << Swift.min(i, 3))
                stages.append(
                    ConvBlock(
                        channels, f, kernelSize: 4, stride: 2, norm: i == 0 ? .none : configuration.norm,
                        useBias: i == 0 || useBias, batchNormEpsilon: epsilon, instanceNormAffine: !pytorch))
                channels = f
            }
            let f = ndf * (1 << Swift.min(layers, 3))
            stages.append(
                ConvBlock(
                    channels, f, kernelSize: 4, stride: 1, norm: configuration.norm, useBias: useBias,
                    batchNormEpsilon: epsilon, padding: strideOnePadding, instanceNormAffine: !pytorch))
            output = Conv2D(
                f, 1, kernelSize: 4, stride: 1, padding: strideOnePadding, kernelInitializer: pix2pixKernelInitializer)
        case .pixel:
            stages.append(ConvBlock(configuration.inputChannels, ndf, kernelSize: 1, stride: 1, norm: .none))
            stages.append(
                ConvBlock(
                    ndf, ndf * 2, kernelSize: 1, stride: 1, norm: configuration.norm, useBias: useBias,
                    batchNormEpsilon: epsilon, instanceNormAffine: !pytorch))
            output = Conv2D(
                ndf * 2, 1, kernelSize: 1, stride: 1, padding: .same, useBias: useBias,
                kernelInitializer: pix2pixKernelInitializer)
        }
        self.stages = stages
    }

    /// Patch logits for a (source, target) pair.
    ///
    /// - Parameters:
    ///   - source: `[N, H, W, c₁]`, the condition (the satellite image).
    ///   - target: `[N, H, W, c₂]`, a real or generated map.
    /// - Returns: `[N, H/2^layers, W/2^layers, 1]` logits (`[N, 16, 16, 1]` for 256×256 by default;
    ///   two fewer rows and columns with `.pytorch`, whose stride-1 layers each lose one).
    public func callAsFunction(source: Tensor, target: Tensor) -> Tensor {
        precondition(
            source.shape.dropLast() == target.shape.dropLast(),
            "PatchDiscriminator: source \(describeShape(source.shape)) and target \(describeShape(target.shape)) differ in size"
        )
        let pair = concatenate([source, target], axis: -1)
        return output(stages.reduce(pair) { $1($0) })
    }

    /// Patch logits for one image: an unconditional discriminator (CycleGAN's), whose
    /// `inputChannels` are the image's.
    ///
    /// - Parameter image: `[N, H, W, inputChannels]`.
    /// - Returns: `[N, H/2^layers, W/2^layers, 1]` logits, as `callAsFunction(source:target:)`.
    public func callAsFunction(_ image: Tensor) -> Tensor {
        output(stages.reduce(image) { $1($0) })
    }

    /// The seed's sigmoid output: the probability that each patch is real.
    public func probabilities(source: Tensor, target: Tensor) -> Tensor {
        sigmoid(self(source: source, target: target))
    }
}
