import ArgumentParser
import DeepLearning
import Imaging
import Pix2Pix

// The options of `maps` that take one of a few words. Each is an enum whose raw value is the
// word, as typed after its flag and as saved in RUN_DIR/options.json; ArgumentParser parses
// and checks them, and lists the words in `--help`.

/// The generator of a run (`maps train --generator`): junyanz's `unet_N` and `resnet_Nblocks`.
enum GeneratorArchitecture: String, CaseIterable, ExpressibleByArgument {
    /// The U-Net of `--depth` downsamplings (8 = `unet_256`, 7 = `unet_128`).
    case unet
    /// The ResNet with 9 residual blocks (`resnet_9blocks`).
    case resnet9
    /// The ResNet with 6 residual blocks (`resnet_6blocks`).
    case resnet6

    /// The residual blocks of a ResNet; nil for the U-Net.
    var residualBlocks: Int? {
        switch self {
        case .unet: nil
        case .resnet9: 9
        case .resnet6: 6
        }
    }

    /// What every input side of this generator must be a multiple of, for a U-Net of `depth`
    /// downsamplings (the ResNets ignore `depth`).
    func inputSideMultiple(depth: Int) -> Int { Self.inputSideMultiple(unetDepth: self == .unet ? depth : nil) }

    /// What every input side of a generator must be a multiple of: a U-Net of `unetDepth`
    /// downsamplings halves its input that many times, a ResNet (`unetDepth` nil) twice.
    static func inputSideMultiple(unetDepth: Int?) -> Int { unetDepth.map { 1 << $0 } ?? 4 }
}

/// The `--precision` of `maps train` and `maps demo`: how matrix products are computed.
enum PrecisionOption: String, CaseIterable, ExpressibleByArgument {
    /// Float32 operands and sums (the default).
    case fp32
    /// Bfloat16 operands with float32 sums, float32 weights and optimizer (PyTorch's CPU autocast).
    case bf16

    /// The library's precision of this option.
    var matrixPrecision: MatrixPrecision {
        switch self {
        case .fp32: .float32
        case .bf16: .bfloat16
        }
    }
}

extension Direction: ExpressibleByArgument {}

extension Pix2PixTrainer.GANLoss: ExpressibleByArgument {}

extension InferenceMode: ExpressibleByArgument {}

extension NormalizationKind: ExpressibleByArgument {
    /// `maps` trains with batch or instance norm; `none` is the library's alone.
    static let choices: [NormalizationKind] = [.batch, .instance]

    public init?(argument: String) {
        guard let kind = NormalizationKind(rawValue: argument), Self.choices.contains(kind) else { return nil }
        self = kind
    }

    public static var allValueStrings: [String] { choices.map(\.rawValue) }
}

/// `["a", "b", "c"]` as "a, b or c".
func spokenList(_ words: [String]) -> String {
    guard let last = words.last, words.count > 1 else { return words.first ?? "" }
    return words.dropLast().joined(separator: ", ") + " or " + last
}
