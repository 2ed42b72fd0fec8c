import DeepLearning

/// Which normalisation the pix2pix networks use (junyanz's `--norm`).
public enum NormalizationKind: String, Codable, Sendable, CaseIterable {
    /// `BatchNorm` — the paper's and the seed's choice.
    case batch
    /// `InstanceNorm`: with learnable scale and offset in the seed's (Keras) convention, without
    /// them (PyTorch's `InstanceNorm2d(affine=False)`) in junyanz's.
    case instance
    /// No normalisation.
    case none

    /// A fresh normalisation layer for `channels` channels, or `nil` for `.none`; `epsilon`
    /// is batch norm's (Keras's 1e-3 unless given), `instanceNormAffine` whether instance norm
    /// has γ and β.
    func make(_ channels: Int, epsilon: Float = 1e-3, instanceNormAffine: Bool = true) -> (any NormalizationLayer)? {
        switch self {
        case .batch: return BatchNorm(channels, epsilon: epsilon)
        case .instance: return InstanceNorm(channels, affine: instanceNormAffine)
        case .none: return nil
        }
    }
}

/// The pix2pix weight initialisation: N(0, 0.02) kernels (Isola et al., and the seed's
/// `RandomNormal(stddev=0.02)`), zero biases.
public let pix2pixKernelInitializer = Initializer.normal(mean: 0, standardDeviation: 0.02)
