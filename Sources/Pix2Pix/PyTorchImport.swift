import DeepLearning
import Foundation

// Models trained with junyanz's pytorch-CycleGAN-and-pix2pix, loaded from the state
// dictionaries it saves (`latest_net_G.pth`, read by `TorchCheckpoint`), as configurations of
// our models with `ModelConvention.pytorch` arithmetic (Docs/Interop.md).

/// Copies converted PyTorch tensors into a model's parameters and buffers, checking shapes,
/// and reports tensors the model has no place for.
private struct StateDictionaryLoader {
    let state: [String: Tensor]
    let source: String
    private(set) var used: Set<String> = []

    init(_ state: [String: Tensor], source: String) {
        (self.state, self.source) = (state, source)
    }

    func error(_ message: String) -> SerializationError { SerializationError(path: source, message) }

    func has(_ key: String) -> Bool { state[key] != nil }

    /// The tensor `key`, converted by `permutation` (nil: as is), which must have `shape`.
    mutating func take(_ key: String, as shape: [Int], permutation: [Int]? = nil) throws -> Tensor {
        guard let tensor = state[key] else { throw error("'\(key)' is missing") }
        let converted = permutation.map { tensor.rank == $0.count ? tensor.permuted($0) : tensor } ?? tensor
        guard converted.shape == shape else {
            throw error(
                "'\(key)' has shape \(tensor.shape)\(permutation == nil ? "" : " (PyTorch layout)"); the model needs \(shape)"
            )
        }
        used.insert(key)
        return converted
    }

    /// A convolution's weight (OIHW → HWIO, or IOHW → HWOI for a transposed one) and bias.
    mutating func convolution(_ prefix: String, kernel: Parameter, bias: Parameter?) throws {
        kernel.value = try take("\(prefix).weight", as: kernel.value.shape, permutation: [2, 3, 1, 0])
        if let bias { bias.value = try take("\(prefix).bias", as: bias.value.shape) }
    }

    /// A batch norm's affine parameters and running statistics (nothing for a parameter-free
    /// instance norm).
    mutating func norm(_ prefix: String, _ layer: Layer?) throws {
        guard let norm = layer as? BatchNorm else { return }
        norm.gamma.value = try take("\(prefix).weight", as: norm.gamma.value.shape)
        norm.beta.value = try take("\(prefix).bias", as: norm.beta.value.shape)
        norm.runningMean.value = try take("\(prefix).running_mean", as: norm.runningMean.value.shape)
        norm.runningVariance.value = try take("\(prefix).running_var", as: norm.runningVariance.value.shape)
        used.insert("\(prefix).num_batches_tracked")
    }

    /// Fails, listing them, if the state dictionary holds tensors nothing took.
    func checkAllUsed(_ model: String) throws {
        let left = state.keys.filter { !used.contains($0) }.sorted()
        guard left.isEmpty else {
            throw error(
                "\(left.count) tensor(s) have no place in \(model): \(left.prefix(5).joined(separator: ", "))\(left.count > 5 ? ", …" : "")"
            )
        }
    }
}

extension ResNetGenerator {
    /// junyanz's `ResnetGenerator` (`--netG resnet_9blocks` / `resnet_6blocks`, any `--ngf`,
    /// `--norm batch|instance`, with or without `--no_dropout`) from its state dictionary, as a
    /// `ResNetGenerator` with `ModelConvention.pytorch`. The configuration is read from the
    /// tensors' names and shapes.
    ///
    /// - Parameters:
    ///   - state: the state dictionary, as `TorchCheckpoint.readStateDictionary` returns it.
    ///   - source: the file it came from, for error messages.
    /// - Throws: `SerializationError` naming the file and the tensor for a missing tensor, a
    ///   shape that does not fit, or tensors the architecture has no place for.
    public static func fromPyTorch(_ state: [String: Tensor], source: String) throws -> ResNetGenerator {
        var loader = StateDictionaryLoader(state, source: source)
        guard let stem = state["model.1.weight"], stem.rank == 4, state["model.10.conv_block.1.weight"] != nil else {
            throw loader.error(
                "not a junyanz ResnetGenerator state dictionary (no model.1.weight and model.10.conv_block.1.weight)")
        }
        var blocks = 0
        while state["model.\(10 + blocks).conv_block.1.weight"] != nil { blocks += 1 }
        let norm: NormalizationKind = state["model.2.running_mean"] != nil ? .batch : .instance
        let dropout = state["model.10.conv_block.6.weight"]?.rank == 4  // conv2 after a Dropout; else a norm
        let outputKey = "model.\(17 + blocks).weight"
        guard let output = state[outputKey], output.rank == 4 else { throw loader.error("'\(outputKey)' is missing") }
        let configuration = Configuration(
            blocks: blocks, baseFilters: stem.shape[0], inputChannels: stem.shape[1], outputChannels: output.shape[0],
            norm: norm, dropout: dropout, convention: .pytorch)
        let generator = ResNetGenerator(configuration)
        try loader.convolution("model.1", kernel: generator.stem.kernel, bias: generator.stem.bias)
        try loader.norm("model.2", generator.stemNorm)
        for i in 0..<2 {
            try loader.convolution(
                "model.\(4 + 3 * i)", kernel: generator.down[i].kernel, bias: generator.down[i].bias)
            try loader.norm("model.\(5 + 3 * i)", generator.downNorms.isEmpty ? nil : generator.downNorms[i])
        }
        for (b, block) in generator.residuals.enumerated() {
            let prefix = "model.\(10 + b).conv_block", second = dropout ? 6 : 5
            try loader.convolution("\(prefix).1", kernel: block.conv1.kernel, bias: block.conv1.bias)
            try loader.norm("\(prefix).2", block.norm1)
            try loader.convolution("\(prefix).\(second)", kernel: block.conv2.kernel, bias: block.conv2.bias)
            try loader.norm("\(prefix).\(second + 1)", block.norm2)
        }
        for i in 0..<2 {
            try loader.convolution(
                "model.\(10 + blocks + 3 * i)", kernel: generator.up[i].kernel, bias: generator.up[i].bias)
            try loader.norm("model.\(11 + blocks + 3 * i)", generator.upNorms.isEmpty ? nil : generator.upNorms[i])
        }
        try loader.convolution("model.\(17 + blocks)", kernel: generator.output.kernel, bias: generator.output.bias)
        try loader.checkAllUsed("resnet_\(blocks)blocks (ngf \(configuration.baseFilters), \(norm) norm)")
        return generator
    }

    /// `fromPyTorch(_:source:)` on the `.pth` file at `url` (e.g. `latest_net_G.pth`).
    public static func fromPyTorch(checkpoint url: URL) throws -> ResNetGenerator {
        try fromPyTorch(TorchCheckpoint.readStateDictionary(from: url), source: url.path)
    }
}

extension UNetGenerator {
    /// junyanz's `UnetGenerator` (`--netG unet_256` / `unet_128`, any `--ngf`, `--norm
    /// batch|instance`) from its state dictionary, as a `UNetGenerator` with
    /// `ModelConvention.pytorch`. Depth, filters and norm are read from the tensors.
    ///
    /// junyanz writes the U-Net as nested `UnetSkipConnectionBlock`s: `model.model.0` is the
    /// outermost down convolution, `model.model.1` the next block (its `model.1` down conv,
    /// `model.2` down norm, `model.3` the block inside it, `model.5` up conv, `model.6` up norm),
    /// down to the innermost (`model.1` down conv, `model.3` up conv, `model.4` up norm), and
    /// `model.model.3` the outermost up convolution.
    ///
    /// - Throws: `SerializationError` naming the file and the tensor, as
    ///   `ResNetGenerator.fromPyTorch`.
    public static func fromPyTorch(_ state: [String: Tensor], source: String) throws -> UNetGenerator {
        var loader = StateDictionaryLoader(state, source: source)
        guard let first = state["model.model.0.weight"], first.rank == 4 else {
            throw loader.error("not a junyanz UnetGenerator state dictionary (no model.model.0.weight)")
        }
        // The nested blocks' prefixes, outermost first: model.model.1.model., …, innermost.
        var prefixes: [String] = []
        var prefix = "model.model.1.model."
        while state[prefix + "1.weight"] != nil {
            prefixes.append(prefix)
            prefix += "3.model."
        }
        guard let innermost = prefixes.last, prefixes.count >= 1 else {
            throw loader.error("not a junyanz UnetGenerator state dictionary (no model.model.1.model.1.weight)")
        }
        let depth = prefixes.count + 1
        let norm: NormalizationKind = state[prefixes[0] + "2.running_mean"] != nil ? .batch : .instance
        guard let output = state["model.model.3.weight"], output.rank == 4 else {
            throw loader.error("'model.model.3.weight' is missing")
        }
        let configuration = Configuration(
            depth: depth, baseFilters: first.shape[0], inputChannels: first.shape[1], outputChannels: output.shape[1],
            dropout: true, norm: norm, convention: .pytorch)
        let generator = UNetGenerator(configuration)
        try loader.convolution(
            "model.model.0", kernel: generator.encoder[0].conv.kernel, bias: generator.encoder[0].conv.bias)
        for (i, prefix) in prefixes.dropLast().enumerated() {
            let block = generator.encoder[i + 1]
            try loader.convolution(prefix + "1", kernel: block.conv.kernel, bias: block.conv.bias)
            try loader.norm(prefix + "2", block.norm)
            // The decoder runs innermost first: this block's up path is decoder[depth − 2 − i].
            let up = generator.decoder[depth - 2 - i]
            try loader.convolution(prefix + "5", kernel: up.deconv.kernel, bias: up.deconv.bias)
            try loader.norm(prefix + "6", up.norm)
        }
        try loader.convolution(innermost + "1", kernel: generator.bottleneck.kernel, bias: generator.bottleneck.bias)
        let innermostUp = generator.decoder[0]
        try loader.convolution(innermost + "3", kernel: innermostUp.deconv.kernel, bias: innermostUp.deconv.bias)
        try loader.norm(innermost + "4", innermostUp.norm)
        try loader.convolution("model.model.3", kernel: generator.output.kernel, bias: generator.output.bias)
        try loader.checkAllUsed("unet (depth \(depth), ngf \(configuration.baseFilters), \(norm) norm)")
        return generator
    }
}

/// A generator of junyanz's pytorch-CycleGAN-and-pix2pix from its `.pth` file (its U-Net or its
/// ResNet, told apart by the tensors' names), read by `TorchCheckpoint` without executing anything.
public func pix2pixGenerator(pytorchCheckpoint url: URL) throws -> Layer {
    let state = try TorchCheckpoint.readStateDictionary(from: url)
    if state["model.model.0.weight"] != nil { return try UNetGenerator.fromPyTorch(state, source: url.path) }
    return try ResNetGenerator.fromPyTorch(state, source: url.path)
}

extension PatchDiscriminator {
    /// junyanz's `NLayerDiscriminator` (`--netD basic`, the 70×70 PatchGAN, or `n_layers`
    /// with `--n_layers_D`) or `PixelDiscriminator` (`--netD pixel`) from its state dictionary
    /// (`latest_net_D.pth`), as a `PatchDiscriminator` with `ModelConvention.pytorch`. Its
    /// input is `cat(source, target)`, as junyanz's `cat(real_A, fake_B)`.
    ///
    /// - Throws: `SerializationError` naming the file and the tensor, as
    ///   `ResNetGenerator.fromPyTorch`.
    public static func fromPyTorch(_ state: [String: Tensor], source: String) throws -> PatchDiscriminator {
        var loader = StateDictionaryLoader(state, source: source)
        if let first = state["net.0.weight"], first.rank == 4 {
            let norm: NormalizationKind = state["net.3.running_mean"] != nil ? .batch : .instance
            let discriminator = PatchDiscriminator(
                .init(
                    architecture: .pixel, baseFilters: first.shape[0], inputChannels: first.shape[1], norm: norm,
                    convention: .pytorch))
            for (stage, prefix) in zip(discriminator.stages, ["net.0", "net.2"]) {
                try loader.convolution(prefix, kernel: stage.conv.kernel, bias: stage.conv.bias)
            }
            try loader.norm("net.3", discriminator.stages[1].norm)
            try loader.convolution("net.5", kernel: discriminator.output.kernel, bias: discriminator.output.bias)
            try loader.checkAllUsed("the pixel discriminator")
            return discriminator
        }
        guard let first = state["model.0.weight"], first.rank == 4 else {
            throw loader.error(
                "not a junyanz NLayerDiscriminator or PixelDiscriminator state dictionary (no model.0.weight or net.0.weight)"
            )
        }
        // Convolutions sit at model.0, then every third index from model.2: n_layers + 2 of them.
        var convolutions = 1
        while state["model.\(2 + 3 * (convolutions - 1)).weight"]?.rank == 4 { convolutions += 1 }
        let layers = convolutions - 2
        guard layers >= 1 else { throw loader.error("a discriminator needs at least one stride-2 layer") }
        let norm: NormalizationKind = state["model.3.running_mean"] != nil ? .batch : .instance
        let discriminator = PatchDiscriminator(
            .init(
                architecture: .patch(layers: layers), baseFilters: first.shape[0], inputChannels: first.shape[1],
                norm: norm, convention: .pytorch))
        try loader.convolution(
            "model.0", kernel: discriminator.stages[0].conv.kernel, bias: discriminator.stages[0].conv.bias)
        for (i, stage) in discriminator.stages.enumerated().dropFirst() {
            try loader.convolution("model.\(2 + 3 * (i - 1))", kernel: stage.conv.kernel, bias: stage.conv.bias)
            try loader.norm("model.\(3 + 3 * (i - 1))", stage.norm)
        }
        try loader.convolution(
            "model.\(2 + 3 * layers)", kernel: discriminator.output.kernel, bias: discriminator.output.bias)
        try loader.checkAllUsed("an \(layers)-layer PatchGAN (ndf \(first.shape[0]), \(norm) norm)")
        return discriminator
    }

    /// `fromPyTorch(_:source:)` on the `.pth` file at `url` (e.g. `latest_net_D.pth`).
    public static func fromPyTorch(checkpoint url: URL) throws -> PatchDiscriminator {
        try fromPyTorch(TorchCheckpoint.readStateDictionary(from: url), source: url.path)
    }
}
