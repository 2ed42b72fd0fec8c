import DeepLearning
import XCTest

final class MemoryEstimateTests: XCTestCase {
    func testTensorMemoryCountsLiveBuffersTheCacheAndGradients() {
        let (live, reserved, gradients) = (
            TensorMemory.liveBytes, TensorMemory.reservedBytes, TensorMemory.gradientBytes
        )
        do {
            let big = Tensor.zeros([1 << 20])  // 4 MiB: a pooled size class
            XCTAssertEqual(TensorMemory.liveBytes - live, 4 << 20)
            XCTAssertGreaterThanOrEqual(TensorMemory.peakLiveBytes, TensorMemory.liveBytes)
            XCTAssertEqual(big.count, 1 << 20)
        }
        XCTAssertEqual(TensorMemory.liveBytes, live, "a freed buffer is no longer live")
        XCTAssertGreaterThanOrEqual(TensorMemory.reservedBytes, reserved, "it may stay reserved, in the pool's cache")

        let weight = Parameter(Tensor.ones([1000]))
        (weight.value * 2).sum().backward()
        XCTAssertEqual(TensorMemory.gradientBytes - gradients, 4000)
        weight.zeroGradient()
        XCTAssertEqual(TensorMemory.gradientBytes, gradients)
    }

    /// A small fully convolutional net, probed at 16² and 32², predicts what a step at 64² adds
    /// (measured the same way) to within 10 %, and a probe at the size itself exactly.
    func testTheProfileOfTwoSmallProbesPredictsALargerStep() {
        RandomState.seed(5)
        let model = Sequential(
            Conv2D(3, 16, kernelSize: 3, padding: .same), BatchNorm(16), ReLU(),
            Conv2D(16, 16, kernelSize: 3, stride: 2, padding: .same), ReLU(),
            Conv2DTranspose(16, 3, kernelSize: 4, stride: 2, padding: .same))
        let optimizer = Adam(for: model, learningRate: 1e-3)
        func step(_ side: Int) {
            let x = Tensor.ones([2, side, side, 3])
            meanSquaredError(model(x), x).backward()
            optimizer.update()
        }
        let sides = [16, 32, 64]
        let profile = MemoryProfile.measuring(parameters: model.parameters, probeElements: [16 * 16, 32 * 32]) {
            step(sides[$0])
        }
        let exact = MemoryProfile.measuring(parameters: model.parameters, probeElements: [64 * 64]) { _ in step(64) }
        let predicted = profile.estimate(elements: 64 * 64, data: 0).perStep
        let measured = exact.estimate(elements: 64 * 64, data: 0).perStep
        XCTAssertGreaterThan(measured, 64 * 64 * 2 * 16 * 4, "at least one saved activation of the first layer")
        XCTAssertEqual(Double(predicted), Double(measured), accuracy: 0.1 * Double(measured))
        XCTAssertEqual(profile.gradients, model.parameters.reduce(0) { $0 + $1.value.count } * 4)
        let estimate = profile.estimate(elements: 64 * 64, data: 1000)
        XCTAssertEqual(
            estimate.total,
            estimate.heldBetweenSteps + estimate.gradients + estimate.perStep + estimate.bufferCache + 1000)
    }

    func testTheBudgetIsAtLeastWhatTheProcessHolds() {
        let budget = MemoryBudget.current()
        XCTAssertGreaterThan(MemoryBudget.residentBytes, 0)
        XCTAssertGreaterThan(budget.bytes, MemoryBudget.residentBytes, budget.description)
        XCTAssertGreaterThanOrEqual(MemoryBudget.peakResidentBytes, MemoryBudget.residentBytes)
        XCTAssertFalse(budget.source.isEmpty)
    }
}
