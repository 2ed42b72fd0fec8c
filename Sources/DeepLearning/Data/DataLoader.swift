import Foundation

// Batches of a dataset, loaded ahead on background threads (PyTorch's `DataLoader` with
// `num_workers`, threads instead of processes). What a batch holds is fixed by the sampler, the
// epoch and the seed alone: worker w loads batches w, w + W, w + 2W, … of the epoch, the batches
// are handed out in order, and every sample's random transforms come from a generator seeded by
// (seed, epoch, index). So 0, 1 or 8 workers, fast or slow, give the same batches, and a run
// resumed at batch k of epoch e sees what the uninterrupted run saw.

/// Loads batches of a `Dataset`, in the order of a `Sampler`, on `workers` background threads.
///
/// ```swift
/// let loader = DataLoader(dataset, batchSize: 32, sampler: RandomSampler(count: dataset.count, seed: 1),
///                         workers: 2) { samples in Tensor.stacked(samples) }
/// for epoch in 0..<10 {
///     let batches = loader.epoch(epoch)
///     while let batch = try batches.next() { … }
/// }
/// ```
///
/// A sample that fails to load throws from `next()` with the dataset's error (naming the
/// file), after the batches before it; the workers stop, and none is left running.
public final class DataLoader<D: Dataset, Batch> {
    /// Where a loader is in its data: the epoch and the next batch of it. Saved in a checkpoint,
    /// it resumes the data exactly (`epoch(_:startingAt:)`).
    public struct Position: Codable, Equatable, Sendable {
        /// The epoch.
        public var epoch: Int
        /// The index of the next batch of the epoch.
        public var batch: Int

        /// The position at `batch` of `epoch`.
        public init(epoch: Int, batch: Int) {
            self.epoch = epoch
            self.batch = batch
        }
    }

    /// The dataset.
    public let dataset: D
    /// The batches' indices.
    public let batchSampler: BatchSampler
    /// Background threads loading batches; 0 loads each batch on the calling thread when asked.
    public let workers: Int
    /// Batches each worker may load ahead of the consumer (PyTorch's `prefetch_factor`).
    public let prefetch: Int
    /// Seeds every sample's random transforms, with the epoch and the index.
    public let seed: UInt64
    private let collate: ([D.Sample]) throws -> Batch
    /// The dataset's count when the loader was made, which the sampler was made for.
    fileprivate let datasetCount: Int

    /// A loader of `dataset` in batches of `batchSize`.
    ///
    /// - Parameters:
    ///   - sampler: the epoch's order; default `SequentialSampler`.
    ///   - dropLast: drop a last, incomplete batch (default `false`).
    ///   - workers: background threads (default 0: load on the calling thread).
    ///   - prefetch: batches per worker loaded ahead (default 2).
    ///   - seed: seed of the samples' random transforms (default 0).
    ///   - collate: makes a batch of the samples, in the batch's order.
    public init(
        _ dataset: D, batchSize: Int, sampler: (any Sampler)? = nil, dropLast: Bool = false, workers: Int = 0,
        prefetch: Int = 2, seed: UInt64 = 0, collate: @escaping ([D.Sample]) throws -> Batch
    ) {
        precondition(workers >= 0, "DataLoader: workers \(workers) must be ≥ 0")
        precondition(prefetch >= 1, "DataLoader: prefetch \(prefetch) must be ≥ 1")
        self.dataset = dataset
        datasetCount = dataset.count
        batchSampler = BatchSampler(
            sampler ?? SequentialSampler(count: dataset.count), batchSize: batchSize, dropLast: dropLast)
        self.workers = workers
        self.prefetch = prefetch
        self.seed = seed
        self.collate = collate
    }

    /// The number of batches of `epoch`.
    public func batchCount(epoch: Int) -> Int { batchSampler.batches(epoch: epoch).count }

    /// The batches of `epoch` from batch `start` on (default 0), loaded ahead by the workers.
    ///
    /// - Throws: `DataLoaderError` when the dataset's size changed since the loader was made (its
    ///   sampler would skip or overrun samples: make a new loader) or the sampler gives an index
    ///   outside the dataset.
    public func epoch(_ epoch: Int, startingAt start: Int = 0) throws -> Epoch {
        let count = dataset.count
        guard count == datasetCount else {
            throw DataLoaderError(
                "the dataset's count changed from \(datasetCount) to \(count) since the loader was made; make a new loader (and sampler) for it"
            )
        }
        let batches = batchSampler.batches(epoch: epoch)
        for batch in batches {
            if let bad = batch.first(where: { !(0..<count).contains($0) }) {
                throw DataLoaderError(
                    "the sampler gave index \(bad) in epoch \(epoch), outside the dataset's 0..<\(count)")
            }
        }
        precondition(
            (0...batches.count).contains(start), "DataLoader: batch \(start) is not in 0...\(batches.count)")
        return Epoch(loader: self, epoch: epoch, batches: batches, start: start)
    }

    /// Loads and collates one batch.
    fileprivate func load(_ indices: [Int], epoch: Int) throws -> Batch {
        try collate(
            indices.map { index in
                var random = SeededGenerator(
                    seed: seed &+ UInt64(truncatingIfNeeded: epoch) &* 0x9E37_79B9_7F4A_7C15
                        &+ UInt64(truncatingIfNeeded: index) &* 0xBF58_476D_1CE4_E5B9)
                return try dataset.sample(at: index, random: &random)
            })
    }

    /// One epoch's batches, in order: `while let batch = try epoch.next() { … }`. Dropping it
    /// (or an error from `next()`) stops its workers and waits for them.
    public final class Epoch {
        /// The loader's position: this epoch and the batch `next()` returns next.
        public var position: Position { Position(epoch: epoch, batch: queue.consumed) }
        /// The number of batches of the epoch.
        public var count: Int { batches.count }
        private let loader: DataLoader
        private let epoch: Int
        private let batches: [[Int]]
        /// Shared with the workers, which hold it (not the epoch), so dropping the epoch stops them.
        private let queue: BatchQueue<Batch>

        fileprivate init(loader: DataLoader, epoch: Int, batches: [[Int]], start: Int) {
            self.loader = loader
            self.epoch = epoch
            self.batches = batches
            let workers = Swift.min(loader.workers, batches.count - start)
            queue = BatchQueue(consumed: start, workers: workers)
            for worker in 0..<workers {
                let (queue, prefetch) = (self.queue, loader.prefetch)
                let thread = Thread {
                    queue.work(first: start + worker, stride: workers, count: batches.count, ahead: workers * prefetch)
                    {
                        try loader.load(batches[$0], epoch: epoch)
                    }
                }
                thread.name = "DataLoader worker \(worker)"
                thread.start()
            }
        }

        deinit { queue.stop() }

        /// The next batch, or nil after the last.
        ///
        /// - Throws: the error loading one of its samples threw (the epoch then stops), or
        ///   `DataLoaderError` if the dataset's count changed since the epoch began.
        public func next() throws -> Batch? {
            let index = queue.consumed
            guard index < batches.count else { return nil }
            guard loader.dataset.count == loader.datasetCount else {
                queue.stop()
                throw DataLoaderError(
                    "the dataset's count changed from \(loader.datasetCount) to \(loader.dataset.count) during epoch \(epoch)"
                )
            }
            let result =
                loader.workers == 0
                ? queue.consume { Result { try loader.load(batches[index], epoch: epoch) } }
                : queue.take(index)
            if case .failure = result { queue.stop() }
            return try result.get()
        }

        /// Stops the workers and waits until none is running; later batches are not loaded.
        public func stop() { queue.stop() }
    }
}

/// The batches the workers have loaded and the consumer has not taken, in one lock: worker w
/// loads batches w, w + W, …, at most `ahead` beyond the consumer's position.
private final class BatchQueue<Batch>: @unchecked Sendable {
    private let condition = NSCondition()
    private var ready: [Int: Result<Batch, Error>] = [:]
    private var stopped = false
    private var running: Int
    private var consumedCount: Int

    init(consumed: Int, workers: Int) {
        consumedCount = consumed
        running = workers
    }

    /// Batches handed out so far (the index of the next one).
    var consumed: Int {
        condition.lock()
        defer { condition.unlock() }
        return consumedCount
    }

    /// Waits for batch `index` (the next one) and hands it out.
    func take(_ index: Int) -> Result<Batch, Error> {
        condition.lock()
        defer { condition.unlock() }
        while ready[index] == nil { condition.wait() }
        consumedCount += 1
        condition.broadcast()
        return ready.removeValue(forKey: index)!
    }

    /// Loads the next batch on the calling thread (no workers).
    func consume(_ load: () -> Result<Batch, Error>) -> Result<Batch, Error> {
        let result = load()
        condition.lock()
        consumedCount += 1
        condition.unlock()
        return result
    }

    /// A worker's loop; `load` runs outside the lock. A failure ends the worker.
    func work(first: Int, stride: Int, count: Int, ahead: Int, load: (Int) throws -> Batch) {
        condition.lock()
        defer {
            running -= 1
            condition.broadcast()
            condition.unlock()
        }
        var index = first
        while index < count {
            while !stopped && index >= consumedCount + ahead { condition.wait() }
            if stopped { return }
            condition.unlock()
            let result = Result { try load(index) }
            condition.lock()
            ready[index] = result
            condition.broadcast()
            if case .failure = result { return }
            index += stride
        }
    }

    /// Stops the workers and waits until none is running.
    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        while running > 0 { condition.wait() }
        ready.removeAll()
        condition.unlock()
    }
}

/// A loader asked for something it cannot give: an index outside the dataset, a dataset whose
/// size changed during an epoch.
public struct DataLoaderError: Error, CustomStringConvertible {
    /// What is wrong, naming the index or the count.
    public let description: String
    init(_ description: String) { self.description = description }
}
