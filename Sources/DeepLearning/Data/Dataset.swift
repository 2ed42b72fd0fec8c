// Datasets and samplers, after PyTorch's `torch.utils.data`: a dataset is a count and the sample
// at an index; a sampler is the order of an epoch's indices. DataLoader.swift batches them, on
// background workers.

/// A map-style dataset (PyTorch's `Dataset`): `count` samples, each loaded by index.
///
/// ```swift
/// struct Squares: Dataset {
///     var count: Int { 100 }
///     func sample(at index: Int, random: inout SeededGenerator) throws -> Tensor {
///         Tensor([Float(index * index)])
///     }
/// }
/// ```
///
/// `sample(at:random:)` is called from the loader's worker threads, several at once: it must
/// only read shared state. Random transforms (crops, flips, noise) draw from `random`, which
/// the loader seeds from its seed, the epoch and the index — so a sample is the same whichever
/// worker loads it and however many there are.
public protocol Dataset {
    /// What one index loads: a tensor, an (image, label) pair, a pair of images.
    associatedtype Sample
    /// The number of samples.
    var count: Int { get }
    /// The sample at `index` (in `0..<count`), transforms drawn from `random`.
    ///
    /// - Throws: an error naming the sample (its file) when it cannot be loaded.
    func sample(at index: Int, random: inout SeededGenerator) throws -> Sample
}

/// The order in which an epoch visits a dataset's indices (PyTorch's `Sampler`).
public protocol Sampler {
    /// The indices of `epoch`, in order; a function of the epoch alone.
    func indices(epoch: Int) -> [Int]
}

/// Every index in order, each epoch (PyTorch's `SequentialSampler`).
public struct SequentialSampler: Sampler, Sendable {
    /// Samples in the dataset.
    public let count: Int

    /// The indices 0..<count.
    public init(count: Int) {
        precondition(count >= 0, "SequentialSampler: negative count \(count)")
        self.count = count
    }

    public func indices(epoch: Int) -> [Int] { Array(0..<count) }
}

/// A fresh permutation each epoch, drawn from the seed and the epoch (PyTorch's
/// `RandomSampler` with a seeded generator): epoch e's order never depends on what ran before.
public struct RandomSampler: Sampler, Sendable {
    /// Samples in the dataset.
    public let count: Int
    /// Seed of the per-epoch permutations.
    public let seed: UInt64

    /// Permutations of 0..<count seeded by `seed` (default 0) and the epoch.
    public init(count: Int, seed: UInt64 = 0) {
        precondition(count >= 0, "RandomSampler: negative count \(count)")
        self.count = count
        self.seed = seed
    }

    public func indices(epoch: Int) -> [Int] {
        var order = Array(0..<count)
        var generator = SeededGenerator(seed: seed &+ UInt64(truncatingIfNeeded: epoch) &* 0x9E37_79B9_7F4A_7C15)
        order.shuffle(using: &generator)
        return order
    }
}

extension DistributedSampler: Sampler {}

/// An epoch's order fixed in advance (for an order drawn elsewhere, such as a resumable
/// shuffling stream).
public struct FixedOrderSampler: Sampler {
    /// The indices, in order.
    public let order: [Int]

    /// Visits `order`, whatever the epoch.
    public init(_ order: [Int]) { self.order = order }

    public func indices(epoch: Int) -> [Int] { order }
}

/// An epoch's indices cut into batches (PyTorch's `BatchSampler`): consecutive runs of
/// `batchSize`, the last one shorter unless `dropLast`.
public struct BatchSampler {
    /// The order of the indices.
    public let sampler: any Sampler
    /// Samples per batch.
    public let batchSize: Int
    /// Whether a last, incomplete batch is dropped.
    public let dropLast: Bool

    /// Batches of `batchSize` (≥ 1) of `sampler`'s indices.
    public init(_ sampler: any Sampler, batchSize: Int, dropLast: Bool = false) {
        precondition(batchSize >= 1, "BatchSampler: batch size \(batchSize) must be at least 1")
        self.sampler = sampler
        self.batchSize = batchSize
        self.dropLast = dropLast
    }

    /// The batches of `epoch`, in order.
    public func batches(epoch: Int) -> [[Int]] {
        let indices = sampler.indices(epoch: epoch)
        let end = dropLast ? indices.count - indices.count % batchSize : indices.count
        return stride(from: 0, to: end, by: batchSize).map { Array(indices[$0..<Swift.min($0 + batchSize, end)]) }
    }
}

extension Tensor {
    /// Tensors of one shape stacked along a new first axis: `[N] + shape` (PyTorch's
    /// `torch.stack`, the default collate of a batch of tensors).
    ///
    /// - Precondition: at least one tensor; all of the same shape.
    public static func stacked(_ tensors: [Tensor]) -> Tensor {
        precondition(!tensors.isEmpty, "stacked: needs at least one tensor")
        let shape = tensors[0].shape
        for (index, tensor) in tensors.enumerated() where tensor.shape != shape {
            preconditionFailure(
                "stacked: tensor \(index) has shape \(describeShape(tensor.shape)), the first \(describeShape(shape))")
        }
        return concatenate(tensors.map { $0.reshaped(to: [1] + shape) }, axis: 0)
    }
}
