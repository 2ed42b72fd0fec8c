import DeepLearning
import Foundation

// The seed's Keras models (its `define_generator()` and `define_discriminator()`) from the
// weights of their layers, as a Keras HDF5 file holds them (module KerasHDF5 reads the file).
// Layouts already agree (NHWC, HWIO and HWOI kernels), so this only assigns tensors in the
// layers' creation order — the mapping Tools/keras/convert_keras_pix2pix.py documents.

/// The seed's layers of one kind (`conv2d`, `conv2d_transpose`, `batch_normalization`) in
/// creation order (Keras numbers them `conv2d`, `conv2d_1`, …; a session that built models
/// before starts at a higher number, which the order keeps).
private func kerasLayers(
    _ layers: [(name: String, weights: [Tensor])], kind: String
) -> [(name: String, weights: [Tensor])] {
    func index(_ name: String) -> Int? {
        if name == kind { return 0 }
        guard name.hasPrefix(kind + "_"), let n = Int(name.dropFirst(kind.count + 1)) else { return nil }
        return n
    }
    return layers.compactMap { layer in index(layer.name).map { ($0, layer) } }.sorted { $0.0 < $1.0 }.map(\.1)
}

/// Assigns a Keras layer's weights to parameters and buffers, checking count and shapes.
private func assign(
    _ layer: (name: String, weights: [Tensor]), to targets: [(String, (Tensor) -> Void, [Int])], source: String
) throws {
    guard layer.weights.count == targets.count else {
        throw SerializationError(
            path: source, "Keras layer '\(layer.name)' has \(layer.weights.count) weights; expected \(targets.count)")
    }
    for (tensor, (what, set, shape)) in zip(layer.weights, targets) {
        guard tensor.shape == shape else {
            throw SerializationError(
                path: source, "Keras layer '\(layer.name)': \(what) has shape \(tensor.shape); the model needs \(shape)"
            )
        }
        set(tensor)
    }
}

private func convolutionTargets(_ kernel: Parameter, _ bias: Parameter?) -> [(String, (Tensor) -> Void, [Int])] {
    var targets: [(String, (Tensor) -> Void, [Int])] = [("kernel", { kernel.value = $0 }, kernel.value.shape)]
    if let bias { targets.append(("bias", { bias.value = $0 }, bias.value.shape)) }
    return targets
}

private func batchNormTargets(_ layer: Layer?) -> [(String, (Tensor) -> Void, [Int])] {
    guard let norm = layer as? BatchNorm else { return [] }
    return [
        ("gamma", { norm.gamma.value = $0 }, norm.gamma.value.shape),
        ("beta", { norm.beta.value = $0 }, norm.beta.value.shape),
        ("moving_mean", { norm.runningMean.value = $0 }, norm.runningMean.value.shape),
        ("moving_variance", { norm.runningVariance.value = $0 }, norm.runningVariance.value.shape),
    ]
}

extension UNetGenerator {
    /// The seed's Keras U-Net generator from its layers' weights (`KerasModelFile(contentsOf:)`
    /// of `model_109600.h5`, mapped to `(name, weights)`): depth and width are read from them.
    ///
    /// - Throws: `SerializationError` naming `source` and the Keras layer when the layers are
    ///   not those of `define_generator()` or a shape does not fit.
    public static func fromKeras(_ layers: [(name: String, weights: [Tensor])], source: String) throws -> UNetGenerator
    {
        let convolutions = kerasLayers(layers, kind: "conv2d")
        let transposed = kerasLayers(layers, kind: "conv2d_transpose")
        let norms = kerasLayers(layers, kind: "batch_normalization")
        let depth = convolutions.count
        guard depth >= 2, transposed.count == depth, norms.count == 2 * depth - 3,
            let first = convolutions.first?.weights.first, first.rank == 4,
            let last = transposed.last?.weights.first, last.rank == 4
        else {
            throw SerializationError(
                path: source,
                "not the seed's Keras U-Net generator (\(convolutions.count) Conv2D, \(transposed.count) Conv2DTranspose, \(norms.count) BatchNormalization layers)"
            )
        }
        let generator = UNetGenerator(
            .init(
                depth: depth, baseFilters: first.shape[3], inputChannels: first.shape[2], outputChannels: last.shape[2])
        )
        for (k, layer) in convolutions.enumerated() {
            let conv = k < depth - 1 ? generator.encoder[k].conv : generator.bottleneck
            try assign(layer, to: convolutionTargets(conv.kernel, conv.bias), source: source)
        }
        for (k, layer) in transposed.enumerated() {
            let deconv = k < depth - 1 ? generator.decoder[k].deconv : generator.output
            try assign(layer, to: convolutionTargets(deconv.kernel, deconv.bias), source: source)
        }
        for (k, layer) in norms.enumerated() {
            let norm = k < depth - 2 ? generator.encoder[k + 1].norm : generator.decoder[k - (depth - 2)].norm
            try assign(layer, to: batchNormTargets(norm), source: source)
        }
        return generator
    }
}

extension PatchDiscriminator {
    /// The seed's Keras PatchGAN discriminator (`define_discriminator()`) from its layers'
    /// weights; the number of stride-2 layers and the width are read from them.
    public static func fromKeras(
        _ layers: [(name: String, weights: [Tensor])], source: String
    ) throws -> PatchDiscriminator {
        let convolutions = kerasLayers(layers, kind: "conv2d")
        let norms = kerasLayers(layers, kind: "batch_normalization")
        let stages = convolutions.count - 1
        guard stages >= 2, norms.count == stages - 1, let first = convolutions.first?.weights.first, first.rank == 4
        else {
            throw SerializationError(
                path: source,
                "not the seed's Keras PatchGAN discriminator (\(convolutions.count) Conv2D, \(norms.count) BatchNormalization layers)"
            )
        }
        let discriminator = PatchDiscriminator(
            .init(architecture: .patch(layers: stages - 1), baseFilters: first.shape[3], inputChannels: first.shape[2]))
        for (k, layer) in convolutions.enumerated() {
            let conv = k < stages ? discriminator.stages[k].conv : discriminator.output
            try assign(layer, to: convolutionTargets(conv.kernel, conv.bias), source: source)
        }
        for (k, layer) in norms.enumerated() {
            try assign(layer, to: batchNormTargets(discriminator.stages[k + 1].norm), source: source)
        }
        return discriminator
    }
}
