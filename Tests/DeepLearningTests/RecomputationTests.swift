import DeepLearning
import XCTest

/// `checkpointed`: the same values, gradients and state as running the block plainly.
final class RecomputationTests: XCTestCase {
    /// conv → batch norm (training) → dropout → leaky ReLU, and a second conv taking a skip input.
    private final class Block: Module {
        let conv = Conv2D(3, 4, kernelSize: 3, padding: .same)
        let norm = BatchNorm(4, momentum: 0.9)
        let dropout = Dropout(rate: 0.5, seed: 21)
        let merge = Conv2D(7, 2, kernelSize: 1)
        func callAsFunction(_ x: Tensor, skip: Tensor) -> Tensor {
            let y = leakyReLU(dropout(norm(conv(x))), slope: 0.2)
            return merge(concatenate([y, skip], axis: 3))
        }
    }

    private func run(checkpointing: Bool, inputRequiresGradient: Bool) throws -> [Tensor] {
        RandomState.seed(20)
        let block = Block()
        let x = Parameter(randomTensor([2, 5, 5, 3], seed: 22), requiresGradient: inputRequiresGradient)
        let skip = randomTensor([2, 5, 5, 3], seed: 23)
        var outputs: [Tensor] = []
        for _ in 0..<2 {  // two steps: the dropout stream and running statistics go on as one run's
            let y =
                checkpointing
                ? checkpointed([x.value, skip], through: [block]) { block($0[0], skip: $0[1]) }
                : block(x.value, skip: skip)
            (y * randomTensor(y.shape, seed: 24)).sum().backward()
            outputs.append(y.detached())
        }
        let gradients = block.parameters.map { $0.gradient! } + (inputRequiresGradient ? [x.gradient!] : [])
        return outputs + gradients + [block.norm.runningMean.value, block.norm.runningVariance.value]
            + [Tensor(Float(block.dropout.generator.next() % 1000))]
    }

    func testGradientsValuesAndStateAreBitIdenticalToThePlainBlock() throws {
        for inputRequiresGradient in [true, false] {
            let plain = try run(checkpointing: false, inputRequiresGradient: inputRequiresGradient)
            let recomputed = try run(checkpointing: true, inputRequiresGradient: inputRequiresGradient)
            XCTAssertEqual(plain.count, recomputed.count)
            for (index, (a, b)) in zip(plain, recomputed).enumerated() {
                XCTAssertEqual(a.shape, b.shape, "tensor \(index)")
                XCTAssertEqual(
                    a.scalars, b.scalars, "tensor \(index), input requires gradient: \(inputRequiresGradient)")
            }
        }
    }

    func testTheBlocksIntermediatesAreNotKept() {
        RandomState.seed(30)
        let layer = Sequential(
            Conv2D(8, 8, kernelSize: 3, padding: .same), ReLU(), Conv2D(8, 8, kernelSize: 3, padding: .same), ReLU(),
            Conv2D(8, 8, kernelSize: 3, padding: .same), ReLU())
        let x = Parameter(Tensor.ones([1, 64, 64, 8]))
        func held(_ forward: () -> Tensor) -> Int {
            let before = TensorMemory.liveBytes
            let y = forward()
            defer { withExtendedLifetime(y) {} }
            return TensorMemory.liveBytes - before
        }
        let plain = held { layer(x.value) }
        let recomputed = held { checkpointed(layer, x.value) }
        let output = 64 * 64 * 8 * 4
        XCTAssertGreaterThanOrEqual(plain, 3 * output, "the plain block keeps an activation per ReLU")
        XCTAssertLessThanOrEqual(recomputed, output, "only the output is held")
    }
}
