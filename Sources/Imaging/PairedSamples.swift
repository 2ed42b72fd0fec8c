import DeepLearning

/// A `PairedImageDataset` as a `Dataset` for `DataLoader`: sample i is pair i, decoded — and
/// jittered, with the same crop and flip for both images — on whichever worker loads it, the
/// jitter drawn from the sample's own generator (seeded by the loader's seed, the epoch and i).
///
/// ```swift
/// let samples = PairedSamples(dataset, jitter: Jitter())
/// let loader = DataLoader(samples, batchSize: 4, sampler: RandomSampler(count: samples.count, seed: 1),
///                         workers: 2, collate: PairedSamples.collate)
/// ```
public struct PairedSamples: Dataset {
    /// The pairs.
    public let pairs: PairedImageDataset
    /// Random resize-crop and mirror, or nil.
    public let jitter: Jitter?

    /// The pairs of `pairs`, jittered by `jitter` (default none).
    public init(_ pairs: PairedImageDataset, jitter: Jitter? = nil) {
        self.pairs = pairs
        self.jitter = jitter
    }

    /// The number of pairs.
    public var count: Int { pairs.count }

    /// Pair `index`, `[H, W, 3]` each in [-1, 1], ordered by the dataset's direction.
    ///
    /// - Throws: `ImagingError` naming the file when it cannot be decoded or is not 2:1.
    public func sample(at index: Int, random: inout SeededGenerator) throws -> (source: Tensor, target: Tensor) {
        let (source, target) = try pairs.pair(at: index)
        guard let jitter else { return (source, target) }
        return jitter.apply(source: source, target: target, generator: &random)
    }

    /// A batch: the sources and the targets stacked, `[B, H, W, 3]` each.
    public static func collate(_ samples: [(source: Tensor, target: Tensor)]) -> (source: Tensor, target: Tensor) {
        (Tensor.stacked(samples.map(\.source)), Tensor.stacked(samples.map(\.target)))
    }
}
