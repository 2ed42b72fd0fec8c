import DeepLearning
import Foundation
import Pix2Pix
import XCTest

/// Two models trained at once on two threads must train exactly as they do one after the other:
/// nothing one thread does (gradient recording, batch-norm sub-batches, profiling, buffer pools,
/// kernel settings) may leak into the other.
final class ConcurrentTrainingTests: XCTestCase {
    private func makeTrainer(seed: UInt64) -> Pix2PixTrainer {
        RandomState.seed(seed)
        return Pix2PixTrainer(
            generator: UNetGenerator(.init(depth: 4, baseFilters: 8)),
            discriminator: PatchDiscriminator(.init(architecture: .patch(layers: 2), baseFilters: 8)))
    }

    /// Trains `trainer` for `steps` steps on its own seeded data and returns every weight and
    /// running statistic, with the losses of every step.
    private func train(_ trainer: Pix2PixTrainer, dataSeed: UInt64, steps: Int) throws -> [[Float]] {
        var data = SeededGenerator(seed: dataSeed)
        var losses: [Float] = []
        for _ in 0..<steps {
            let source = Tensor.randomUniform([2, 32, 32, 3], lowerBound: -1, upperBound: 1, generator: &data)
            let target = Tensor.randomUniform([2, 32, 32, 3], lowerBound: -1, upperBound: 1, generator: &data)
            losses += try trainer.step(source: source, target: target).all
        }
        let models: [Module] = [trainer.generator, trainer.discriminator]
        return [losses]
            + models.flatMap { model in
                model.namedParameters.map { $0.parameter.value.scalars }
                    + model.namedBuffers.map { $0.buffer.value.scalars }
            }
    }

    func testTwoModelsTrainedOnTwoThreadsAtOnceEqualTrainingThemOneAfterTheOther() throws {
        let steps = 4
        let sequential = try [(seed: UInt64(1), data: UInt64(11)), (seed: 2, data: 12)].map {
            try train(makeTrainer(seed: $0.seed), dataSeed: $0.data, steps: steps)
        }

        // Models are built on this thread (the default generator is shared), then trained at once.
        let trainers = [makeTrainer(seed: 1), makeTrainer(seed: 2)]
        let concurrent = ResultSlots<[[Float]]>(count: 2)
        let start = DispatchSemaphore(value: 0)
        let threads = (0..<2).map { index in
            Thread {
                start.wait()
                concurrent[index] = Result {
                    try self.train(trainers[index], dataSeed: UInt64(11 + index), steps: steps)
                }
            }
        }
        threads.forEach { $0.start() }
        start.signal()
        start.signal()
        while threads.contains(where: { !$0.isFinished }) { usleep(1_000) }

        for index in 0..<2 {
            let values = try XCTUnwrap(concurrent[index]).get()
            XCTAssertEqual(values.count, sequential[index].count)
            for (tensor, (a, b)) in zip(values, sequential[index]).enumerated() {
                XCTAssertTrue(
                    a.elementsEqual(b) { $0.bitPattern == $1.bitPattern },
                    "model \(index): tensor \(tensor) differs between concurrent and sequential training")
            }
        }
    }
}

/// One result per thread, written under a lock.
private final class ResultSlots<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Result<Value, any Error>?]

    init(count: Int) { values = Array(repeating: nil, count: count) }

    subscript(index: Int) -> Result<Value, any Error>? {
        get { lock.withLock { values[index] } }
        set { lock.withLock { values[index] = newValue } }
    }
}
