import DeepLearning
import XCTest

/// `DistributedSampler`: each epoch's shards are disjoint, cover the dataset, depend only on
/// the seed and the epoch, and line up with one process's batches of the global size.
final class DistributedSamplerTests: XCTestCase {
    func testShardsAreDisjointAndCoverEveryEpoch() {
        for (count, processes) in [(10, 2), (11, 3), (7, 7), (5, 8), (1096, 4)] {
            for epoch in 0..<3 {
                let shards = (0..<processes).map {
                    DistributedSampler(count: count, rank: $0, processes: processes, seed: 9).indices(epoch: epoch)
                }
                let perProcess = (count + processes - 1) / processes
                XCTAssertTrue(shards.allSatisfy { $0.count == perProcess }, "equal shards, \(count) over \(processes)")
                let all = shards.flatMap { $0 }
                XCTAssertEqual(Set(all), Set(0..<count), "cover \(count) over \(processes), epoch \(epoch)")
                // Padding repeats at most processes − 1 samples; without it the shards are disjoint.
                XCTAssertEqual(all.count - Set(all).count, perProcess * processes - count)
            }
        }
    }

    func testOrderDependsOnlyOnSeedAndEpoch() {
        let a = DistributedSampler(count: 50, rank: 1, processes: 2, seed: 3)
        let b = DistributedSampler(count: 50, rank: 1, processes: 2, seed: 3)
        XCTAssertEqual(a.indices(epoch: 4), b.indices(epoch: 4))
        XCTAssertNotEqual(a.indices(epoch: 4), a.indices(epoch: 5))
        XCTAssertNotEqual(
            a.indices(epoch: 4), DistributedSampler(count: 50, rank: 1, processes: 2, seed: 4).indices(epoch: 4))
        XCTAssertEqual(
            DistributedSampler(count: 6, rank: 0, processes: 2, shuffle: false).indices(epoch: 0), [0, 2, 4])
    }

    func testGlobalBatchesAreOneProcessesBatches() {
        // With B per process, global batch k holds positions k·N·B ..< (k + 1)·N·B of the order.
        let order = Array((0..<24).reversed()), processes = 3, batch = 2
        let shards = (0..<processes).map {
            DistributedSampler(count: 24, rank: $0, processes: processes).shard(of: order)
        }
        for k in 0..<(24 / (processes * batch)) {
            let global = shards.flatMap { $0[(k * batch)..<((k + 1) * batch)] }
            XCTAssertEqual(
                Set(global), Set(order[(k * processes * batch)..<((k + 1) * processes * batch)]), "batch \(k)")
        }
    }
}
