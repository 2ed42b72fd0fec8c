import DeepLearning
import Foundation

/// Saving and resuming a CycleGAN run in one safetensors file: the four networks
/// (`generatorA/`, `generatorB/`, `discriminatorA/`, `discriminatorB/`), both optimizers'
/// moments, both image pools' stored images (`poolA/0`, …) and, in the metadata, the step, the
/// optimizers' steps, the epoch and the pools' random streams — so N steps, save, load, M steps
/// equals N + M steps straight. Written atomically.
extension CycleGANTrainer {
    private struct State: Codable {
        var format = 1
        var completedSteps: Int
        /// nil in checkpoints written before the schedule existed (epoch 0).
        var epoch: Int?
        var options: Options
        var generatorOptimizerStep: Int
        var discriminatorOptimizerStep: Int
        var poolA: PoolState
        var poolB: PoolState
    }

    private struct PoolState: Codable {
        var count: Int
        var generator: SeededGenerator
    }

    private static let stateKey = "cyclegan.training-state"

    /// Writes the whole training state to `url` (atomically), with `extra` metadata of the
    /// caller's (a data loader's position, say) returned by `loadCheckpoint(from:)`.
    public func saveCheckpoint(to url: URL, extra: [String: String] = [:]) throws {
        var tensors: [(name: String, tensor: Tensor)] = []
        let networks: [(String, Module)] = [
            ("generatorA", generatorA), ("generatorB", generatorB), ("discriminatorA", discriminatorA),
            ("discriminatorB", discriminatorB),
        ]
        for (prefix, module) in networks {
            tensors += module.stateDictionary().map { ("\(prefix)/\($0.name)", $0.tensor) }
        }
        for (prefix, optimizer) in [
            ("generatorOptimizer", generatorOptimizer), ("discriminatorOptimizer", discriminatorOptimizer),
        ] {
            tensors += optimizer.stateTensors().sorted { $0.key < $1.key }.map { ("\(prefix)/\($0.key)", $0.value) }
        }
        for (prefix, pool) in [("poolA", poolA), ("poolB", poolB)] {
            tensors += pool.images.enumerated().map { ("\(prefix)/\($0.offset)", $0.element) }
        }
        let state = State(
            completedSteps: completedSteps, epoch: epoch, options: options,
            generatorOptimizerStep: generatorOptimizer.step,
            discriminatorOptimizerStep: discriminatorOptimizer.step,
            poolA: PoolState(count: poolA.images.count, generator: poolA.generator),
            poolB: PoolState(count: poolB.images.count, generator: poolB.generator))
        let json = String(decoding: try JSONEncoder().encode(state), as: UTF8.self)
        var metadata = extra
        metadata[Self.stateKey] = json
        try SafeTensors.write(tensors, metadata: metadata, to: url)
    }

    /// Restores a state written by `saveCheckpoint(to:extra:)` into this trainer, whose networks
    /// must have the same architecture; returns the caller's `extra` metadata.
    ///
    /// - Throws: `SerializationError` naming the file (and the tensor) when anything is missing,
    ///   mis-shaped or corrupt, or the file is not a CycleGAN checkpoint (a pix2pix one, say).
    @discardableResult
    public func loadCheckpoint(from url: URL) throws -> [String: String] {
        let (tensors, metadata) = try SafeTensors.read(from: url)
        guard let json = metadata[Self.stateKey],
            let state = try? JSONDecoder().decode(State.self, from: Data(json.utf8))
        else {
            throw SerializationError(
                path: url.path, "not a CycleGAN training checkpoint (metadata '\(Self.stateKey)' missing or unreadable)"
            )
        }
        func part(_ prefix: String) -> [String: Tensor] {
            var result: [String: Tensor] = [:]
            for (name, tensor) in tensors where name.hasPrefix(prefix + "/") {
                result[String(name.dropFirst(prefix.count + 1))] = tensor
            }
            return result
        }
        func pool(_ prefix: String, _ saved: PoolState) throws -> ImagePool {
            let images = part(prefix)
            let ordered = try (0..<saved.count).map { index -> Tensor in
                guard let image = images["\(index)"] else {
                    throw SerializationError(path: url.path, "pool image '\(prefix)/\(index)' is missing")
                }
                return image
            }
            return ImagePool(capacity: options.poolSize, images: ordered, generator: saved.generator)
        }
        do {
            try generatorA.loadStateDictionary(part("generatorA"))
            try generatorB.loadStateDictionary(part("generatorB"))
            try discriminatorA.loadStateDictionary(part("discriminatorA"))
            try discriminatorB.loadStateDictionary(part("discriminatorB"))
            try generatorOptimizer.loadState(part("generatorOptimizer"), step: state.generatorOptimizerStep)
            try discriminatorOptimizer.loadState(part("discriminatorOptimizer"), step: state.discriminatorOptimizerStep)
        } catch let error as SerializationError {
            throw error
        } catch {
            throw SerializationError(path: url.path, "\(error)")
        }
        (poolA, poolB) = (try pool("poolA", state.poolA), try pool("poolB", state.poolB))
        restore(completedSteps: state.completedSteps, epoch: state.epoch ?? 0)
        var extra = metadata
        extra[Self.stateKey] = nil
        return extra
    }
}
