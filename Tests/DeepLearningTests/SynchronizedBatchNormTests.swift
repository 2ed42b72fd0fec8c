@testable import DeepLearning
import Foundation
import XCTest

/// Synchronised batch normalisation without MPI: two "processes" are two threads whose
/// `CrossProcessReducer` sums their vectors in memory. Each normalises half of a batch; outputs,
/// input gradients and the summed γ/β gradients must be those of one layer over the whole batch.
final class SynchronizedBatchNormTests: XCTestCase {
    /// Sums the vectors of `participants` threads: each call blocks until all have called.
    private final class InMemoryReducer: CrossProcessReducer, @unchecked Sendable {
        private let condition = NSCondition()
        private let participants: Int
        private var sum: [Float] = [], arrived = 0, generation = 0, result: [Float] = []

        init(participants: Int) { self.participants = participants }

        func sumOverProcesses(_ values: inout [Float]) {
            condition.lock()
            defer { condition.unlock() }
            let mine = generation
            if arrived == 0 { sum = [Float](repeating: 0, count: values.count) }
            precondition(sum.count == values.count, "participants reduce vectors of different lengths")
            for i in values.indices { sum[i] += values[i] }
            arrived += 1
            if arrived == participants {
                result = sum
                arrived = 0
                generation += 1
                condition.broadcast()
            } else {
                while generation == mine { condition.wait() }
            }
            values = result
        }
    }

    /// What one simulated process hands back (written by its thread before it signals).
    private final class ProcessResult: @unchecked Sendable {
        var value:
            (output: Tensor, inputGradient: Tensor, gamma: Tensor, beta: Tensor, mean: [Float], variance: [Float])?
    }

    func testTwoHalvesSynchronisedEqualOneLayerOverTheWholeBatch() throws {
        let channels = 5
        let x = randomTensor([4, 3, 3, channels], seed: 21), probe = randomTensor([4, 3, 3, channels], seed: 22)
        for subBatches in [1, 2] {
            // Reference: one layer over the whole batch (with 2 sub-batches, samples 0–1 and 2–3).
            let reference = BatchNorm(channels, momentum: 0.9)
            reference.gamma.value = randomTensor([channels], seed: 23) + 1
            reference.beta.value = randomTensor([channels], seed: 24)
            let input = Parameter(x)
            let expected = BatchNorm.withIndependentSubBatches(subBatches) {
                reference(input.value, activation: .leakyReLU(slope: 0.2))
            }
            (expected * probe).sum().backward()

            // Process r gets sample r of every sub-batch (batch order: sub-batch-major).
            let perSub = 4 / subBatches
            @Sendable func half(_ t: Tensor, _ r: Int) -> Tensor {
                let pieces = (0..<subBatches).map { g in
                    t.slice(axis: 0, (g * perSub + r * perSub / 2)..<(g * perSub + (r + 1) * perSub / 2))
                }
                return concatenate(pieces, axis: 0)
            }
            let reducer = InMemoryReducer(participants: 2)
            // One result slot per thread: the threads never write the same variable.
            let results = [ProcessResult(), ProcessResult()]
            let done = DispatchSemaphore(value: 0)
            for r in 0..<2 {
                let thread = Thread {
                    let layer = BatchNorm(channels, momentum: 0.9)
                    layer.gamma.value = reference.gamma.value.detached()
                    layer.beta.value = reference.beta.value.detached()
                    let part = Parameter(half(x, r))
                    let y = BatchNorm.synchronized(over: reducer) {
                        BatchNorm.withIndependentSubBatches(subBatches) {
                            layer(part.value, activation: .leakyReLU(slope: 0.2))
                        }
                    }
                    (y * half(probe, r)).sum().backward()
                    results[r].value = (
                        y.detached(), part.gradient!, layer.gamma.gradient!, layer.beta.gradient!,
                        layer.runningMean.value.scalars, layer.runningVariance.value.scalars
                    )
                    done.signal()
                }
                thread.start()
            }
            done.wait()
            done.wait()
            let a = try XCTUnwrap(results[0].value), b = try XCTUnwrap(results[1].value)
            let label = "\(subBatches) sub-batch(es)"
            assertClose(a.output, half(expected.detached(), 0), tolerance: 2e-6, "\(label) output, process 0")
            assertClose(b.output, half(expected.detached(), 1), tolerance: 2e-6, "\(label) output, process 1")
            assertClose(a.inputGradient, half(input.gradient!, 0), tolerance: 2e-5, "\(label) ∂x, process 0")
            assertClose(b.inputGradient, half(input.gradient!, 1), tolerance: 2e-5, "\(label) ∂x, process 1")
            assertClose(a.gamma + b.gamma, reference.gamma.gradient!, tolerance: 2e-5, "\(label) Σ∂γ")
            assertClose(a.beta + b.beta, reference.beta.gradient!, tolerance: 2e-5, "\(label) Σ∂β")
            XCTAssertGreaterThan(a.gamma.maxAbsoluteDifference(to: b.gamma), 1e-3, "∂γ stays per process")
            for c in 0..<channels {
                XCTAssertEqual(
                    a.mean[c], reference.runningMean.value.scalars[c], accuracy: 1e-6, "\(label) running mean")
                XCTAssertEqual(
                    a.variance[c], reference.runningVariance.value.scalars[c], accuracy: 1e-5,
                    "\(label) running variance")
                XCTAssertEqual(a.mean[c], b.mean[c], "\(label): both processes keep the same running mean")
            }
        }
    }
}
