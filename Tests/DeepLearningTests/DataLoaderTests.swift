import DeepLearning
import Foundation
import XCTest

/// A dataset of one-element tensors: the index plus noise from the sample's generator, loaded
/// after a delay that varies by index (so workers finish out of order).
private final class NoisyIndices: Dataset, @unchecked Sendable {
    let size: Int
    let failing: Int?
    private let lock = NSLock()
    private var loadCount = 0
    var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return size + extra
    }
    var extra = 0

    init(size: Int, failing: Int? = nil) {
        self.size = size
        self.failing = failing
    }

    var loads: Int {
        lock.lock()
        defer { lock.unlock() }
        return loadCount
    }

    func sample(at index: Int, random: inout SeededGenerator) throws -> Tensor {
        lock.lock()
        loadCount += 1
        lock.unlock()
        usleep(UInt32((index * 7919) % 5) * 300)
        if index == failing {
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSFilePathErrorKey: "images/\(index).jpg"])
        }
        return Tensor([Float(index) + random.nextUnitFloat()])
    }
}

final class DataLoaderTests: XCTestCase {
    private func allBatches(
        _ loader: DataLoader<NoisyIndices, Tensor>, epoch: Int, from start: Int = 0
    ) throws -> [[Float]] {
        let batches = try loader.epoch(epoch, startingAt: start)
        var result: [[Float]] = []
        while let batch = try batches.next() { result.append(batch.scalars) }
        return result
    }

    private func loader(
        _ dataset: NoisyIndices, workers: Int, batchSize: Int = 4, dropLast: Bool = false
    )
        -> DataLoader<NoisyIndices, Tensor>
    {
        DataLoader(
            dataset, batchSize: batchSize, sampler: RandomSampler(count: dataset.count, seed: 5), dropLast: dropLast,
            workers: workers, seed: 9
        ) { Tensor.stacked($0).reshaped(to: [-1]) }
    }

    func testBatchesAndTheirRandomTransformsDependOnlyOnSeedAndEpochNotOnWorkers() throws {
        let dataset = NoisyIndices(size: 23)
        let reference = try allBatches(loader(dataset, workers: 0), epoch: 2)
        XCTAssertEqual(reference.count, 6)
        XCTAssertEqual(reference.last?.count, 3, "the last batch holds the rest")
        XCTAssertEqual(Set(reference.flatMap { $0.map { Int($0) } }), Set(0..<23), "every sample once")
        for workers in [1, 2, 3, 8] {
            XCTAssertEqual(try allBatches(loader(dataset, workers: workers), epoch: 2), reference, "\(workers) workers")
        }
        XCTAssertNotEqual(
            try allBatches(loader(dataset, workers: 2), epoch: 3), reference, "another epoch, another order")
        XCTAssertEqual(try allBatches(loader(dataset, workers: 2, dropLast: true), epoch: 2).count, 5)
    }

    func testAnEpochResumedAtABatchGivesTheRestOfTheUninterruptedEpoch() throws {
        let dataset = NoisyIndices(size: 30)
        let straight = try allBatches(loader(dataset, workers: 2), epoch: 1)
        let partial = try loader(dataset, workers: 2).epoch(1)
        for _ in 0..<3 { _ = try partial.next() }
        let position = partial.position
        XCTAssertEqual(position, .init(epoch: 1, batch: 3))
        let saved = try JSONEncoder().encode(position)
        let restored = try JSONDecoder().decode(DataLoader<NoisyIndices, Tensor>.Position.self, from: saved)
        let resumed = try allBatches(loader(dataset, workers: 3), epoch: restored.epoch, from: restored.batch)
        XCTAssertEqual(resumed, Array(straight[3...]))
    }

    func testASampleThatFailsThrowsWithItsFileAfterTheBatchesBeforeItAndStopsTheWorkers() throws {
        for workers in [0, 2] {
            let dataset = NoisyIndices(size: 40, failing: 17)
            let loader = DataLoader(dataset, batchSize: 4, workers: workers) { Tensor.stacked($0) }
            let batches = try loader.epoch(0)
            var delivered = 0
            XCTAssertThrowsError(try { while try batches.next() != nil { delivered += 1 } }()) { error in
                XCTAssertTrue("\(error)".contains("images/17.jpg"), "\(error)")
            }
            XCTAssertEqual(delivered, 4, "batches 0–3 come first; batch 4 holds sample 17")
            let loads = dataset.loads
            usleep(20_000)
            XCTAssertEqual(dataset.loads, loads, "no worker still loading after the error")
        }
    }

    func testDroppingAnEpochEarlyStopsItsWorkers() throws {
        let dataset = NoisyIndices(size: 400)
        do {
            let batches = try loader(dataset, workers: 2).epoch(0)
            _ = try batches.next()
        }
        let loads = dataset.loads
        XCTAssertLessThanOrEqual(loads, 4 * (1 + 2 * 2 + 2), "workers stay within their prefetch")
        usleep(20_000)
        XCTAssertEqual(dataset.loads, loads, "no worker still loading after the epoch was dropped")
    }

    func testBadSamplersAndChangingDatasetsAreErrors() throws {
        struct Beyond: Sampler {
            func indices(epoch: Int) -> [Int] { [0, 1, 99] }
        }
        let dataset = NoisyIndices(size: 10)
        let bad = DataLoader(dataset, batchSize: 2, sampler: Beyond()) { Tensor.stacked($0) }
        XCTAssertThrowsError(try bad.epoch(4)) { error in
            XCTAssertEqual("\(error)", "the sampler gave index 99 in epoch 4, outside the dataset's 0..<10")
        }
        let growing = loader(dataset, workers: 1)
        let batches = try growing.epoch(0)
        _ = try batches.next()
        dataset.extra = 5
        XCTAssertThrowsError(try batches.next()) { error in
            XCTAssertTrue("\(error)".contains("count changed from 10 to 15"), "\(error)")
        }
        XCTAssertThrowsError(try growing.epoch(1), "the next epoch too") { error in
            XCTAssertTrue("\(error)".contains("since the loader was made"), "\(error)")
        }
    }

    func testDistributedSamplerShardsTheLoader() throws {
        let dataset = NoisyIndices(size: 10)
        var seen: [Int] = []
        for rank in 0..<2 {
            let sampler = DistributedSampler(count: 10, rank: rank, processes: 2, seed: 3)
            let loader = DataLoader(dataset, batchSize: 5, sampler: sampler, workers: 1) { Tensor.stacked($0) }
            let batches = try loader.epoch(0)
            while let batch = try batches.next() { seen += batch.scalars.map { Int($0) } }
        }
        XCTAssertEqual(seen.sorted(), Array(0..<10))
    }
}

/// A stream of the numbers 0..<count in an order drawn from the epoch; record `failing` is bad.
private struct Numbers: IterableDataset {
    let count: Int
    var failing: Int? = nil

    struct Stream: SampleStream {
        var order: [Int]
        let failing: Int?
        mutating func next() throws -> Float? {
            guard let value = order.first else { return nil }
            order.removeFirst()
            if value == failing { throw DataLoaderTestError(record: value) }
            return Float(value)
        }
    }

    func stream(epoch: Int) throws -> Stream {
        var generator = SeededGenerator(seed: UInt64(epoch))
        return Stream(order: Array(0..<count).shuffled(using: &generator), failing: failing)
    }
}

private struct DataLoaderTestError: Error, CustomStringConvertible {
    let record: Int
    var description: String { "record \(record) of numbers.txt is malformed" }
}

final class StreamLoaderTests: XCTestCase {
    private func batches(_ loader: StreamLoader<Numbers, [Float]>, epoch: Int, from start: Int = 0) throws -> [[Float]]
    {
        let epoch = loader.epoch(epoch, startingAt: start)
        var result: [[Float]] = []
        while let batch = try epoch.next() { result.append(batch) }
        return result
    }

    func testBatchesFollowTheStreamAndAResumeSkipsTheDoneOnes() throws {
        let loader = StreamLoader(Numbers(count: 23), batchSize: 5) { $0 }
        let all = try batches(loader, epoch: 1)
        XCTAssertEqual(all.map(\.count), [5, 5, 5, 5, 3])
        XCTAssertEqual(Set(all.flatMap { $0 }), Set((0..<23).map(Float.init)))
        XCTAssertEqual(try batches(loader, epoch: 1, from: 2), Array(all[2...]))
        XCTAssertNotEqual(try batches(loader, epoch: 2), all)
        let dropping = StreamLoader(Numbers(count: 23), batchSize: 5, dropLast: true) { $0 }
        XCTAssertEqual(try batches(dropping, epoch: 1).count, 4)
    }

    func testABadRecordThrowsItsErrorAfterTheBatchesBeforeIt() throws {
        let stream = try Numbers(count: 30).stream(epoch: 0)
        let position = stream.order.firstIndex(of: 17)!
        let loader = StreamLoader(Numbers(count: 30, failing: 17), batchSize: 4) { $0 }
        let epoch = loader.epoch(0)
        var delivered = 0
        XCTAssertThrowsError(try { while try epoch.next() != nil { delivered += 1 } }()) { error in
            XCTAssertEqual("\(error)", "record 17 of numbers.txt is malformed")
        }
        XCTAssertEqual(delivered, position / 4)
    }

    func testDroppingAnEpochEarlyDoesNotHang() throws {
        let loader = StreamLoader(Numbers(count: 10_000), batchSize: 2, prefetch: 1) { $0 }
        do {
            let epoch = loader.epoch(0)
            _ = try epoch.next()
        }
    }
}
