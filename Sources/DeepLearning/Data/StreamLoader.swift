import Foundation

// Iterable-style datasets (PyTorch's `IterableDataset`): samples as a stream — lines of a large
// file, records arriving from elsewhere — with no index to sample by. `StreamLoader` batches an
// epoch's stream on one background thread, a bounded number of batches ahead; one producer keeps
// the order of the stream, so the batches are the stream's whatever the timing.

/// A stream of samples, read one after the other (throwing, unlike `IteratorProtocol`, so a bad
/// record is an error naming it rather than a trap).
public protocol SampleStream {
    /// What one step of the stream yields.
    associatedtype Sample
    /// The next sample, or nil at the end of the stream.
    mutating func next() throws -> Sample?
}

/// An iterable-style dataset: each epoch is a stream of samples (PyTorch's `IterableDataset`).
///
/// ```swift
/// struct Lines: IterableDataset {
///     let url: URL
///     func stream(epoch: Int) throws -> LineStream { try LineStream(url) }
/// }
/// ```
///
/// `stream(epoch:)` runs on the loader's background thread; the stream of an epoch must depend on
/// the epoch alone (shuffle with a generator seeded by it), so that a resumed run sees the same.
public protocol IterableDataset {
    /// The stream of one epoch.
    associatedtype Stream: SampleStream
    /// The samples of `epoch`, in order.
    func stream(epoch: Int) throws -> Stream
}

/// Batches of an `IterableDataset`, read ahead on one background thread.
public final class StreamLoader<D: IterableDataset, Batch> {
    /// The dataset.
    public let dataset: D
    /// Samples per batch.
    public let batchSize: Int
    /// Whether a last, incomplete batch is dropped.
    public let dropLast: Bool
    /// Batches read ahead of the consumer.
    public let prefetch: Int
    private let collate: ([D.Stream.Sample]) throws -> Batch

    /// A loader of `dataset` in batches of `batchSize` (≥ 1), `prefetch` (default 2) read ahead.
    public init(
        _ dataset: D, batchSize: Int, dropLast: Bool = false, prefetch: Int = 2,
        collate: @escaping ([D.Stream.Sample]) throws -> Batch
    ) {
        precondition(batchSize >= 1, "StreamLoader: batch size \(batchSize) must be at least 1")
        precondition(prefetch >= 1, "StreamLoader: prefetch \(prefetch) must be ≥ 1")
        self.dataset = dataset
        self.batchSize = batchSize
        self.dropLast = dropLast
        self.prefetch = prefetch
        self.collate = collate
    }

    /// The batches of `epoch` from batch `start` on (the stream is read from its beginning and the
    /// first `start` batches skipped, uncollated).
    public func epoch(_ epoch: Int, startingAt start: Int = 0) -> Epoch {
        Epoch(loader: self, epoch: epoch, start: start)
    }

    /// One epoch's batches: `while let batch = try epoch.next() { … }`. Dropping it stops the
    /// reader thread and waits for it.
    public final class Epoch {
        /// Batches handed out so far, counting the skipped ones: where a resumed run starts.
        public private(set) var position: Int
        private let buffer: StreamBuffer<Batch>

        fileprivate init(loader: StreamLoader, epoch: Int, start: Int) {
            position = start
            let buffer = StreamBuffer<Batch>(capacity: loader.prefetch)
            self.buffer = buffer
            let thread = Thread {
                buffer.produce {
                    var stream = try loader.dataset.stream(epoch: epoch)
                    var samples: [D.Stream.Sample] = [], batch = 0
                    func emit() throws -> Bool {
                        defer { (samples, batch) = ([], batch + 1) }
                        guard batch >= start else { return true }
                        return buffer.put(.success(try loader.collate(samples)))
                    }
                    while let sample = try stream.next() {
                        samples.append(sample)
                        if samples.count == loader.batchSize, try !emit() { return }
                    }
                    if !samples.isEmpty && !loader.dropLast { _ = try emit() }
                }
            }
            thread.name = "StreamLoader reader"
            thread.start()
        }

        deinit { buffer.stop() }

        /// The next batch, or nil after the last.
        ///
        /// - Throws: what reading or collating the stream threw; the epoch then ends.
        public func next() throws -> Batch? {
            guard let result = buffer.take() else { return nil }
            if case .failure = result { buffer.stop() }
            position += 1
            return try result.get()
        }
    }
}

/// A bounded queue between the reader thread and the consumer.
private final class StreamBuffer<Batch>: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [Result<Batch, Error>] = []
    private let capacity: Int
    private var finished = false, stopped = false, running = true

    init(capacity: Int) { self.capacity = capacity }

    /// Runs the reader; its error, if any, is queued after the batches before it.
    func produce(_ body: () throws -> Void) {
        do { try body() } catch { _ = put(.failure(error)) }
        condition.lock()
        (finished, running) = (true, false)
        condition.broadcast()
        condition.unlock()
    }

    /// Queues a batch, waiting while the queue is full; false once the consumer stopped.
    func put(_ result: Result<Batch, Error>) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while queue.count >= capacity && !stopped { condition.wait() }
        guard !stopped else { return false }
        queue.append(result)
        condition.broadcast()
        return true
    }

    /// The next batch, or nil when the reader finished and the queue is empty.
    func take() -> Result<Batch, Error>? {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty && !finished && !stopped { condition.wait() }
        guard !queue.isEmpty else { return nil }
        condition.broadcast()
        return queue.removeFirst()
    }

    /// Stops the reader and waits until it has returned.
    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        while running { condition.wait() }
        queue.removeAll()
        condition.unlock()
    }
}
