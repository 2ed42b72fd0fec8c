import DeepLearning
import XCTest

final class NormalizationTests: XCTestCase {
    func testBatchNormGradientWithBatchStatistics() {
        checkGradients(
            of: { batchNormalized($0[0], gamma: $0[1], beta: $0[2]).output },
            at: [randomTensor([2, 3, 2, 4], seed: 1), randomTensor([4], seed: 2), randomTensor([4], seed: 3)])
    }

    func testBatchNormGradientWithRunningStatistics() {
        let mean = randomTensor([3], seed: 4), variance = randomTensor([3], seed: 5, lower: 0.5, upper: 2)
        checkGradients(
            of: { batchNormalized($0[0], mean: mean, variance: variance, gamma: $0[1], beta: $0[2]) },
            at: [randomTensor([2, 2, 2, 3], seed: 6), randomTensor([3], seed: 7), randomTensor([3], seed: 8)])
    }

    func testInstanceNormGradient() {
        checkGradients(
            of: { instanceNormalized($0[0], gamma: $0[1], beta: $0[2]) },
            at: [randomTensor([2, 3, 3, 2], seed: 9), randomTensor([2], seed: 10), randomTensor([2], seed: 11)])
    }

    func testGradientsThroughTheVectorKernels() {
        // 35 channels: two 16-wide vector blocks and a 3-channel scalar tail per row.
        checkGradients(
            of: { batchNormalized($0[0], gamma: $0[1], beta: $0[2]).output },
            at: [randomTensor([2, 2, 3, 35], seed: 31), randomTensor([35], seed: 32), randomTensor([35], seed: 33)])
        checkGradients(
            of: { instanceNormalized($0[0], gamma: $0[1], beta: $0[2]) },
            at: [randomTensor([2, 2, 2, 35], seed: 34), randomTensor([35], seed: 35), randomTensor([35], seed: 36)])
    }

    /// `activation(norm(x))` computed as separate ops and fused: values and all gradients agree.
    private func assertFusedMatchesSeparate(
        _ activation: Activation, channels: Int, instance: Bool = false,
        running: Bool = false, file: StaticString = #filePath, line: UInt = #line
    ) {
        let x = Parameter(randomTensor([2, 5, 3, channels], seed: 40) * 2)
        let gamma = Parameter(randomTensor([channels], seed: 41, lower: 0.5, upper: 1.5))
        let beta = Parameter(randomTensor([channels], seed: 42))
        let seed = randomTensor([2, 5, 3, channels], seed: 43)
        let mean = randomTensor([channels], seed: 44),
            variance = randomTensor([channels], seed: 45, lower: 0.5, upper: 2)
        func run(_ fused: Bool) -> [Tensor] {
            for p in [x, gamma, beta] { p.zeroGradient() }
            let applied: Activation = fused ? activation : .identity
            var y: Tensor
            if instance {
                y = instanceNormalized(x.value, gamma: gamma.value, beta: beta.value, activation: applied)
            } else if running {
                y = batchNormalized(
                    x.value, mean: mean, variance: variance, gamma: gamma.value, beta: beta.value, activation: applied)
            } else {
                y = batchNormalized(x.value, gamma: gamma.value, beta: beta.value, activation: applied).output
            }
            if !fused { y = activation(y) }
            y.backward(seed: seed)
            return [y.detached(), x.gradient!, gamma.gradient!, beta.gradient!]
        }
        let separate = run(false), fused = run(true)
        for (name, (a, b)) in zip(["output", "∂x", "∂γ", "∂β"], zip(separate, fused)) {
            XCTAssertLessThan(
                a.maxAbsoluteDifference(to: b), 2e-5, "\(activation) \(name), \(channels) channels", file: file,
                line: line)
        }
    }

    func testFusedActivationEqualsSeparateOps() {
        for activation: Activation in [.identity, .relu, .leakyReLU(slope: 0.2), .tanh, .leakyReLU(slope: -0.1)] {
            for channels in [3, 16, 35] {
                assertFusedMatchesSeparate(activation, channels: channels)
                assertFusedMatchesSeparate(activation, channels: channels, instance: true)
                assertFusedMatchesSeparate(activation, channels: channels, running: true)
            }
        }
    }

    func testNormalizationLayersFuseTheActivation() {
        let x = randomTensor([2, 4, 4, 20], seed: 50)
        let batch = BatchNorm(20), instance = InstanceNorm(20)
        let activation = Activation.leakyReLU(slope: 0.2)
        XCTAssertLessThan(
            batch(x, activation: activation).maxAbsoluteDifference(to: leakyReLU(batch(x), slope: 0.2)), 1e-6)
        XCTAssertLessThan(instance(x, activation: .relu).maxAbsoluteDifference(to: relu(instance(x))), 1e-6)
        batch.isTraining = false
        XCTAssertLessThan(batch(x, activation: .tanh).maxAbsoluteDifference(to: tanh(batch(x))), 1e-6)
    }

    func testIndependentSubBatchesEqualSeparateCalls() {
        let x = Parameter(randomTensor([4, 3, 2, 20], seed: 70) * 3 + 1)
        let seed = randomTensor([4, 3, 2, 20], seed: 71)
        let norm = BatchNorm(20, momentum: 0.9)
        func gradients() -> [Tensor] { [x.gradient!, norm.gamma.gradient!, norm.beta.gradient!] }
        func reset() { for p in [x, norm.gamma, norm.beta] { p.zeroGradient() } }

        let halves = [x.value.slice(axis: 0, 0..<2), x.value.slice(axis: 0, 2..<4)]
        let separate = concatenate(halves.map { norm($0, activation: .relu) }, axis: 0)
        separate.backward(seed: seed)
        let (separateGradients, separateMean, separateVariance) = (
            gradients(), norm.runningMean.value, norm.runningVariance.value
        )

        reset()
        norm.runningMean.value = .zeros([20])
        norm.runningVariance.value = .ones([20])
        let together = BatchNorm.withIndependentSubBatches(2) { norm(x.value, activation: .relu) }
        together.backward(seed: seed)
        XCTAssertLessThan(together.maxAbsoluteDifference(to: separate), 1e-5)
        for (a, b) in zip(gradients(), separateGradients) { XCTAssertLessThan(a.maxAbsoluteDifference(to: b), 1e-4) }
        XCTAssertLessThan(norm.runningMean.value.maxAbsoluteDifference(to: separateMean), 1e-6)
        XCTAssertLessThan(norm.runningVariance.value.maxAbsoluteDifference(to: separateVariance), 1e-5)
        // The scope ends with its block: afterwards the layer sees one batch again.
        let other = BatchNorm(20)
        XCTAssertLessThan(other(x.value).maxAbsoluteDifference(to: norm(x.value)), 1e-5)
    }

    func testBatchNormScopesBelongToTheCallingThreadAndEndWithTheirBlock() {
        let x = randomTensor([4, 2, 2, 3], seed: 72) * 2 + 1
        let norm = BatchNorm(3)
        norm.setTraining(false)
        let running = norm(x)
        final class Box: @unchecked Sendable { var value: Tensor? }
        let fromOtherThread = Box()
        BatchNorm.withBatchStatisticsInInference {
            let done = DispatchSemaphore(value: 0)
            let thread = Thread {
                fromOtherThread.value = norm(x)
                done.signal()
            }
            thread.start()
            done.wait()
            XCTAssertGreaterThan(norm(x).maxAbsoluteDifference(to: running), 1e-2, "batch statistics inside the block")
        }
        XCTAssertEqual(fromOtherThread.value?.scalars, running.scalars, "another thread keeps the running statistics")
        XCTAssertEqual(norm(x).scalars, running.scalars, "the scope ends with its block")
    }

    func testBatchNormOutputHasZeroMeanUnitVariancePerChannel() {
        let x = randomTensor([4, 5, 5, 3], seed: 12) * 3 + 7
        let y = batchNormalized(x, gamma: nil, beta: nil, epsilon: 0).output
        let mean = y.mean(alongAxes: [0, 1, 2])
        let variance = (y * y).mean(alongAxes: [0, 1, 2])
        for c in 0..<3 {
            XCTAssertEqual(mean.scalars[c], 0, accuracy: 1e-5)
            XCTAssertEqual(variance.scalars[c], 1, accuracy: 1e-4)
        }
    }

    func testBatchNormLayerUpdatesRunningStatisticsOnlyWhileTraining() {
        let norm = BatchNorm(2, momentum: 0.9)
        let x = Tensor(shape: [2, 1, 1, 2], scalars: [1, 10, 3, 20])  // channel 0: {1, 3}, channel 1: {10, 20}
        _ = norm(x)
        // mean: 0.9·0 + 0.1·(2, 15); unbiased variance (2, 50): 0.9·1 + 0.1·(2, 50)
        XCTAssertEqual(norm.runningMean.value.scalars[0], 0.2, accuracy: 1e-6)
        XCTAssertEqual(norm.runningMean.value.scalars[1], 1.5, accuracy: 1e-6)
        XCTAssertEqual(norm.runningVariance.value.scalars[0], 1.1, accuracy: 1e-6)
        XCTAssertEqual(norm.runningVariance.value.scalars[1], 5.9, accuracy: 1e-5)
        norm.setTraining(false)
        let before = norm.runningMean.value.scalars
        let y = norm(x)
        XCTAssertEqual(norm.runningMean.value.scalars, before)
        XCTAssertEqual(y[0, 0, 0, 0], (1 - 0.2) / (1.1 + 1e-3).squareRoot(), accuracy: 1e-5)
    }

    func testBatchStatisticsAtInferenceLeaveRunningStatisticsAlone() {
        let norm = BatchNorm(1)
        norm.setTraining(false)
        let y = BatchNorm.withBatchStatisticsInInference { norm(Tensor(shape: [2, 1, 1, 1], scalars: [1, 3])) }
        XCTAssertEqual(y.scalars[0], -1 / (1 + 1e-3).squareRoot(), accuracy: 1e-5)
        XCTAssertEqual(norm.runningMean.value.scalars, [0])
        XCTAssertEqual(norm.runningVariance.value.scalars, [1])
    }

    func testInstanceNormNormalisesEachSampleSeparately() {
        let x = Tensor(shape: [2, 2, 1, 1], scalars: [1, 3, 100, 300])
        let y = InstanceNorm(1, epsilon: 0)(x)
        XCTAssertEqual(y.scalars[0], -1, accuracy: 1e-5)
        XCTAssertEqual(y.scalars[2], -1, accuracy: 1e-5)
        XCTAssertEqual(y.scalars[3], 1, accuracy: 1e-5)
    }
}

final class DropoutAndActivationTests: XCTestCase {
    func testDropoutGradientUsesTheSameMask() {
        checkGradients(
            of: { inputs in
                var generator = SeededGenerator(seed: 5)
                return dropout(inputs[0], rate: 0.5, generator: &generator)
            }, at: [randomTensor([3, 4], seed: 13)])
    }

    func testDropoutScalesKeptElementsAndIsReproducible() {
        var g1 = SeededGenerator(seed: 3), g2 = SeededGenerator(seed: 3)
        let x = Tensor.ones([1000])
        let a = dropout(x, rate: 0.5, generator: &g1), b = dropout(x, rate: 0.5, generator: &g2)
        XCTAssertEqual(a.scalars, b.scalars)
        XCTAssertTrue(a.scalars.allSatisfy { $0 == 0 || $0 == 2 })
        let kept = a.scalars.filter { $0 == 2 }.count
        XCTAssertTrue((400...600).contains(kept), "kept \(kept) of 1000 at rate 0.5")
    }

    func testDropoutIsIdentityAtInferenceUnlessActive() {
        let layer = Dropout(rate: 0.5, seed: 1)
        layer.setTraining(false)
        let x = Tensor.ones([50])
        XCTAssertEqual(layer(x).scalars, x.scalars)
        layer.activeAtInference = true
        XCTAssertNotEqual(layer(x).scalars, x.scalars)
    }

    func testActivationLayers() {
        let x = Tensor([-2, 0.5])
        XCTAssertEqual(LeakyReLU(slope: 0.2)(x).scalars, [-0.4, 0.5])
        XCTAssertEqual(ReLU()(x).scalars, [0, 0.5])
        XCTAssertEqual(Tanh()(x).scalars[1], tanhf(0.5), accuracy: 1e-7)
        XCTAssertEqual(Sigmoid()(x).scalars[0], 1 / (1 + expf(2)), accuracy: 1e-7)
        let joined = Concatenate()([Tensor(shape: [1, 2], scalars: [1, 2]), Tensor(shape: [1, 1], scalars: [3])])
        XCTAssertEqual(joined.shape, [1, 3])
        XCTAssertEqual(joined.scalars, [1, 2, 3])
    }
}

final class ModuleTests: XCTestCase {
    private final class Block: Layer {
        let norm = BatchNorm(2)
        let drop: Dropout? = Dropout(rate: 0.5, seed: 1)
        let missing: BatchNorm? = nil
        func callAsFunction(_ x: Tensor) -> Tensor { drop!(norm(x)) }
    }

    private final class Net: Layer {
        let blocks = [Block(), Block()]
        let scale = Parameter(.ones([2]))
        func callAsFunction(_ x: Tensor) -> Tensor { blocks.reduce(x) { $1($0) } * scale.value }
    }

    func testParametersAndBuffersAreFoundByPropertyPath() {
        let net = Net()
        XCTAssertEqual(
            net.namedParameters.map(\.name),
            ["blocks.0.norm.gamma", "blocks.0.norm.beta", "blocks.1.norm.gamma", "blocks.1.norm.beta", "scale"])
        XCTAssertEqual(
            net.namedBuffers.map(\.name),
            [
                "blocks.0.norm.runningMean", "blocks.0.norm.runningVariance",
                "blocks.1.norm.runningMean", "blocks.1.norm.runningVariance",
            ])
        XCTAssertEqual(net.parameterCount, 10)
    }

    func testSetTrainingReachesEveryNestedLayer() {
        let net = Net()
        net.setTraining(false)
        for block in net.blocks {
            XCTAssertFalse(block.norm.isTraining)
            XCTAssertFalse(block.drop!.isTraining)
        }
    }

    func testSequentialAppliesInOrderAndNamesByIndex() {
        let chain = Sequential(BatchNorm(3), LeakyReLU(slope: 0.5))
        XCTAssertEqual(chain.namedParameters.map(\.name), ["layers.0.gamma", "layers.0.beta"])
        let y = chain(Tensor(shape: [2, 3], scalars: [1, 1, 1, 3, 3, 3]))
        XCTAssertEqual(y.scalars[0], -0.5 / (1 + 1e-3).squareRoot(), accuracy: 1e-5)
    }
}
