/// Which samples each process of a data-parallel job trains on (PyTorch's
/// `DistributedSampler`): every epoch's order — a permutation drawn from the seed and the
/// epoch, or one the caller gives — padded by repeating its first samples to a multiple of the
/// process count, and dealt out in turn, so process r gets positions r, r + N, r + 2N, ….
///
/// The shards of an epoch are disjoint (except the padding, at most N − 1 repeats) and
/// together cover every sample; with batches of B per process, global batch k is positions
/// k·N·B ..< (k + 1)·N·B of the epoch's order, as one process at batch N·B would take them.
public struct DistributedSampler: Sendable {
    /// Samples in the dataset.
    public let count: Int
    /// This process's rank and the number of processes.
    public let rank: Int, processes: Int
    /// Seed of the per-epoch permutation.
    public let seed: UInt64
    /// Whether `indices(epoch:)` permutes (default) or keeps the dataset order.
    public let shuffle: Bool

    /// - Precondition: `0 ≤ rank < processes`.
    public init(count: Int, rank: Int, processes: Int, seed: UInt64 = 0, shuffle: Bool = true) {
        precondition(
            processes >= 1 && (0..<processes).contains(rank),
            "DistributedSampler: rank \(rank) is not in 0..<\(processes)")
        precondition(count >= 0, "DistributedSampler: negative count \(count)")
        self.count = count
        self.rank = rank
        self.processes = processes
        self.seed = seed
        self.shuffle = shuffle
    }

    /// Samples per process per epoch: ⌈count / processes⌉.
    public var samplesPerProcess: Int { (count + processes - 1) / processes }

    /// This process's samples of `epoch`, in order.
    public func indices(epoch: Int) -> [Int] {
        let order = shuffle ? RandomSampler(count: count, seed: seed).indices(epoch: epoch) : Array(0..<count)
        return shard(of: order)
    }

    /// This process's share of an epoch's `order` (any permutation of the samples).
    public func shard(of order: [Int]) -> [Int] {
        guard !order.isEmpty else { return [] }
        let total = samplesPerProcess * processes
        return stride(from: rank, to: total, by: processes).map { order[$0 % order.count] }
    }
}
