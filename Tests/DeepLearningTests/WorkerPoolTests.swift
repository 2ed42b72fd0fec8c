import Foundation
import Synchronization
import XCTest

@testable import DeepLearning

/// The library's worker threads (`parallelChunks` over `WorkerPool`): every chunk runs exactly
/// once, whoever calls and however the calls nest or overlap.
final class WorkerPoolTests: XCTestCase {
    private var savedThreads = 1

    override func setUp() {
        savedThreads = Parallelism.threads
        Parallelism.threads = 4
    }

    override func tearDown() { Parallelism.threads = savedThreads }

    /// Counts how often each element of `0..<count` is visited by `parallelChunks` (chunks are
    /// disjoint, so plain increments suffice; an overlap would show as a 2, or as a race under TSan).
    private func visits(_ count: Int, grain: Int) -> [Int] {
        var counters = [Int](repeating: 0, count: count)
        counters.withUnsafeMutableBufferPointer { counters in
            let base = counters.baseAddress
            parallelChunks(count, grain: grain) { range in
                for i in range { base![i] += 1 }
            }
        }
        return counters
    }

    func testEveryElementIsVisitedOnceForAnySplit() {
        for count in [0, 1, 2, 3, 7, 16, 33, 1_000] {
            for grain in [1, 2, 5, 1_000] {
                XCTAssertEqual(visits(count, grain: grain), [Int](repeating: 1, count: count), "\(count), \(grain)")
            }
        }
    }

    func testChunksDependOnlyOnCountGrainAndThreads() {
        final class Ranges: @unchecked Sendable {  // guarded by `lock`
            let lock = NSLock()
            var ranges: [Range<Int>] = []
        }
        for _ in 0..<20 {
            let seen = Ranges()
            parallelChunks(103, grain: 10) { range in seen.lock.withLock { seen.ranges.append(range) } }
            let sorted = seen.lock.withLock { seen.ranges }.sorted { $0.lowerBound < $1.lowerBound }
            XCTAssertEqual(sorted, [0..<26, 26..<52, 52..<78, 78..<103])
        }
    }

    /// A chunk that calls `parallelChunks` again gets its inner chunks run inline.
    func testNestedCallsRunEveryInnerChunk() {
        let total = Atomic<Int>(0)
        parallelChunks(8, grain: 1) { outer in
            for _ in outer {
                parallelChunks(100, grain: 10) { inner in total.add(inner.count, ordering: .relaxed) }
            }
        }
        XCTAssertEqual(total.load(ordering: .relaxed), 800)
    }

    /// Several threads at once: one gets the pool, the others run inline; all finish, all exact.
    func testCallsFromSeveralThreadsAtOnce() {
        let failures = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            for round in 0..<200 {
                let count = 50 + round % 7
                if visits(count, grain: 3) != [Int](repeating: 1, count: count) {
                    failures.add(1, ordering: .relaxed)
                }
            }
        }
        XCTAssertEqual(failures.load(ordering: .relaxed), 0)
    }

    /// Workers that went to sleep (idle longer than their spin) wake for the next job.
    func testJobsAfterTheWorkersSleep() {
        for _ in 0..<3 {
            usleep(UInt32(WorkerPool.spinNanoseconds / 1_000) * 3)
            XCTAssertEqual(visits(64, grain: 4), [Int](repeating: 1, count: 64))
        }
    }

    /// A real kernel gives the same bits on 1 and 4 threads, called back to back.
    func testSoftmaxIsTheSameOnOneAndFourThreads() {
        let x = randomTensor([64, 300], seed: 3)
        Parallelism.threads = 1
        let one = x.softmax()
        Parallelism.threads = 4
        for _ in 0..<5 { XCTAssertEqual(x.softmax().scalars, one.scalars) }
    }
}
