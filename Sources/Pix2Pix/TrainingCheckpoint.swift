import DeepLearning
import Foundation

/// Saving and resuming the whole training state in one safetensors file.
///
/// The file holds the generator's and discriminator's parameters and buffers, both Adam
/// optimizers' moments (tensor names prefixed `generator/`, `discriminator/`,
/// `generatorOptimizer/`, `discriminatorOptimizer/`), and in its metadata the step and epoch,
/// the options, every dropout generator's position and any caller data (e.g. the shuffling
/// generator of a data loader). It is written atomically (temp file, fsync, rename), so a crash
/// mid-save leaves the previous checkpoint intact, and resuming continues the same random
/// streams: N steps, save, load, M steps equals N + M steps straight.
extension Pix2PixTrainer {
    private struct State: Codable {
        var format = 1
        var completedSteps: Int
        var epoch: Int
        var options: Options
        var generatorOptimizerStep: Int
        var discriminatorOptimizerStep: Int
        var dropoutGenerators: [String: SeededGenerator]
        /// WGAN-GP's stream; absent in checkpoints written before gradient penalties.
        var penaltyGenerator: SeededGenerator?
        var extra: [String: String]
    }

    private static let stateKey = "pix2pix.training-state"

    /// Writes the complete training state to `url` (atomically).
    ///
    /// - Parameters:
    ///   - url: the checkpoint file (replaced atomically if it exists).
    ///   - extra: caller data restored by `loadCheckpoint(from:)`.
    public func saveCheckpoint(to url: URL, extra: [String: String] = [:]) throws {
        var tensors: [(name: String, tensor: Tensor)] = []
        for (name, tensor) in generator.stateDictionary() { tensors.append(("generator/" + name, tensor)) }
        for (name, tensor) in discriminator.stateDictionary() { tensors.append(("discriminator/" + name, tensor)) }
        for (name, tensor) in generatorOptimizer.stateTensors().sorted(by: { $0.key < $1.key }) {
            tensors.append(("generatorOptimizer/" + name, tensor))
        }
        for (name, tensor) in discriminatorOptimizer.stateTensors().sorted(by: { $0.key < $1.key }) {
            tensors.append(("discriminatorOptimizer/" + name, tensor))
        }
        let state = State(
            completedSteps: completedSteps, epoch: epoch, options: options,
            generatorOptimizerStep: generatorOptimizer.step,
            discriminatorOptimizerStep: discriminatorOptimizer.step,
            dropoutGenerators: dropoutGenerators(), penaltyGenerator: penaltyGenerator, extra: extra)
        let json = String(decoding: try JSONEncoder().encode(state), as: UTF8.self)
        try SafeTensors.write(tensors, metadata: [Self.stateKey: json], to: url)
    }

    /// Restores a state written by `saveCheckpoint(to:)` into this trainer, whose networks
    /// must have the same architecture.
    ///
    /// - Returns: the caller data saved with it.
    /// - Throws: `SerializationError` naming the file and the tensor when anything is missing,
    ///   mis-shaped or corrupt; the trainer is then left unchanged only if the failure is found
    ///   before loading starts (names and shapes are all checked first).
    @discardableResult
    public func loadCheckpoint(from url: URL) throws -> [String: String] {
        let (tensors, metadata) = try SafeTensors.read(from: url)
        guard let json = metadata[Self.stateKey],
            let state = try? JSONDecoder().decode(State.self, from: Data(json.utf8))
        else {
            throw SerializationError(
                path: url.path, "not a pix2pix training checkpoint (metadata '\(Self.stateKey)' missing or unreadable)")
        }
        func part(_ prefix: String) -> [String: Tensor] {
            var result: [String: Tensor] = [:]
            for (name, tensor) in tensors where name.hasPrefix(prefix) {
                result[String(name.dropFirst(prefix.count))] = tensor
            }
            return result
        }
        do {
            try generator.loadStateDictionary(part("generator/"))
            try discriminator.loadStateDictionary(part("discriminator/"))
            try generatorOptimizer.loadState(part("generatorOptimizer/"), step: state.generatorOptimizerStep)
            try discriminatorOptimizer.loadState(
                part("discriminatorOptimizer/"), step: state.discriminatorOptimizerStep)
        } catch {
            throw SerializationError(path: url.path, "\(error)")
        }
        let dropouts = namedDropouts()
        for (name, dropout) in dropouts {
            if let saved = state.dropoutGenerators[name] { dropout.generator = saved }
        }
        if let saved = state.penaltyGenerator { penaltyGenerator = saved }
        restore(completedSteps: state.completedSteps, epoch: state.epoch)
        return state.extra
    }

    private func namedDropouts() -> [(String, Dropout)] {
        var result: [(String, Dropout)] = []
        for (prefix, module) in [("generator", generator as Module), ("discriminator", discriminator)] {
            for (name, child) in module.namedModules {
                if let dropout = child as? Dropout { result.append((prefix + "." + name, dropout)) }
            }
        }
        return result
    }

    /// Every dropout layer's random generator by name (`generator.decoder.0.dropout`, …): the
    /// masks' stream, saved in checkpoints. Setting it replaces the generators it names.
    /// Data-parallel processes give each rank a stream of its own.
    public var dropoutGeneratorStates: [String: SeededGenerator] {
        get { dropoutGenerators() }
        set {
            for (name, dropout) in namedDropouts() {
                if let state = newValue[name] { dropout.generator = state }
            }
        }
    }

    private func dropoutGenerators() -> [String: SeededGenerator] {
        Dictionary(uniqueKeysWithValues: namedDropouts().map { ($0.0, $0.1.generator) })
    }
}
