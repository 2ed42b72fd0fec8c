import DeepLearning
import XCTest

/// A tensor whose elements are a shuffled 0.05-spaced ramp: all distinct and at least 0.05 apart,
/// so a ±1e-2 gradient-check step never changes a window's argmax.
func distinctTensor(_ shape: [Int], seed: UInt64) -> Tensor {
    var generator = SeededGenerator(seed: seed)
    let count = shape.reduce(1, *)
    let values = (0..<count).map { Float($0) * 0.05 - Float(count) * 0.025 }.shuffled(using: &generator)
    return Tensor(shape: shape, scalars: values)
}

/// Runs `f` on `x` as a parameter and backpropagates `sum(f(x))`; returns the output and ∂x.
private func outputAndGradient(_ x: Tensor, _ f: (Tensor) -> Tensor) -> (Tensor, Tensor) {
    let parameter = Parameter(x)
    let y = f(parameter.value)
    y.sum().backward()
    return (y.detached(), parameter.gradient ?? .zeros(x.shape))
}

// Preconditions (not testable in-process; each message names the shapes and values):
// rank ≠ 4; kernel size or stride ≤ 0; padding < 0 or > kernel / 2 (PyTorch's rule); a window
// that leaves no output row or column (e.g. a 5×5 kernel on a 4×4 input without padding);
// global pools of an input with H or W = 0; H·W ≥ 2³¹ for max pooling (argmax is 32-bit).
final class PoolingTests: XCTestCase {
    // MARK: Hand-computed values

    func testMaxPoolTakesMaximumOfEachNonOverlappingWindow() {
        // np.arange(16).reshape(4, 4) pooled 2×2 → [[5, 7], [13, 15]]
        let x = Tensor(shape: [1, 4, 4, 1], scalars: (0..<16).map(Float.init))
        let y = maxPool2D(x, kernelSize: 2)
        XCTAssertEqual(y.shape, [1, 2, 2, 1])
        XCTAssertEqual(y.scalars, [5, 7, 13, 15])
    }

    func testMaxPoolPadsWithNegativeInfinityNotZero() {
        // torch: F.max_pool2d(-torch.arange(1., 17).reshape(1, 1, 4, 4), 3, 2, 1) → [-1, -2, -5, -6]
        let x = Tensor(shape: [1, 4, 4, 1], scalars: (1...16).map { -Float($0) })
        XCTAssertEqual(maxPool2D(x, kernelSize: 3, stride: 2, padding: 1).scalars, [-1, -2, -5, -6])
    }

    func testMaxPoolOverlappingWindowsAccumulateGradientAtSharedMaximum() {
        // torch: the centre 9 is the max of all four 2×2 stride-1 windows → its gradient is 4.
        let x = Tensor(shape: [1, 3, 3, 1], scalars: [0, 1, 2, 3, 9, 4, 5, 6, 7])
        let (y, dx) = outputAndGradient(x) { maxPool2D($0, kernelSize: 2, stride: 1) }
        XCTAssertEqual(y.scalars, [9, 9, 9, 9])
        XCTAssertEqual(dx.scalars, [0, 0, 0, 0, 4, 0, 0, 0, 0])
    }

    func testMaxPoolTiesSendGradientToFirstElementInRowMajorWindowOrder() {
        // torch: x = ones(1, 1, 4, 4); F.max_pool2d(x, 2, 1).sum().backward() → x.grad below.
        let expected: [Float] = [1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0]
        let (_, dx) = outputAndGradient(.ones([1, 4, 4, 1])) { maxPool2D($0, kernelSize: 2, stride: 1) }
        XCTAssertEqual(dx.scalars, expected)
        // 17 channels: the 16-lane vector path keeps the first of ties too.
        let (_, wide) = outputAndGradient(.ones([1, 4, 4, 17])) { maxPool2D($0, kernelSize: 2, stride: 1) }
        for channel in [0, 15, 16] {
            XCTAssertEqual(wide.slice(axis: 3, channel..<(channel + 1)).scalars, expected, "channel \(channel)")
        }
    }

    func testMaxPoolPropagatesNaNLikePyTorch() {
        // torch: max_pool2d([1, nan, 3, nan], (1, 4)) → nan, gradient to the last NaN.
        let x = Tensor(shape: [1, 1, 4, 1], scalars: [1, .nan, 3, .nan])
        let (y, dx) = outputAndGradient(x) { maxPool2D($0, kernelSize: (1, 4)) }
        XCTAssertTrue(y.scalar.isNaN)
        XCTAssertEqual(dx.scalars, [0, 0, 0, 1])
    }

    func testCeilModeOutputSizesFollowPyTorch() {
        let x = Tensor.zeros([1, 5, 5, 1])
        XCTAssertEqual(maxPool2D(x, kernelSize: 2).shape, [1, 2, 2, 1])
        XCTAssertEqual(maxPool2D(x, kernelSize: 2, ceilMode: true).shape, [1, 3, 3, 1])
        // ⌈(5 + 2 − 2) / 2⌉ + 1 = 4, but the 4th window would start in the right padding: 3.
        XCTAssertEqual(maxPool2D(x, kernelSize: 2, padding: 1, ceilMode: true).shape, [1, 3, 3, 1])
        XCTAssertEqual(maxPool2D(x, kernelSize: 3, stride: 2, padding: 1, ceilMode: true).shape, [1, 3, 3, 1])
        XCTAssertEqual(maxPool2D(.zeros([1, 6, 6, 1]), kernelSize: 3, stride: 2, padding: 1).shape, [1, 3, 3, 1])
        XCTAssertEqual(
            maxPool2D(.zeros([1, 6, 6, 1]), kernelSize: 3, stride: 2, padding: 1, ceilMode: true).shape, [1, 4, 4, 1])
        XCTAssertEqual(
            avgPool2D(.zeros([2, 6, 5, 3]), kernelSize: (3, 2), stride: (2, 1), padding: (1, 0)).shape, [2, 3, 4, 3])
    }

    func testAvgPoolDivisorCountsPaddingOnlyWithCountIncludePad() {
        // torch: F.avg_pool2d(torch.arange(1., 10).reshape(1, 1, 3, 3), 3, 1, 1[, count_include_pad=False])
        let x = Tensor(shape: [1, 3, 3, 1], scalars: (1...9).map(Float.init))
        assertClose(
            avgPool2D(x, kernelSize: 3, stride: 1, padding: 1),
            Tensor(shape: [1, 3, 3, 1], scalars: [12 / 9, 21 / 9, 16 / 9, 27 / 9, 5, 33 / 9, 24 / 9, 39 / 9, 28 / 9]),
            tolerance: 1e-6)
        assertClose(
            avgPool2D(x, kernelSize: 3, stride: 1, padding: 1, countIncludePad: false),
            Tensor(shape: [1, 3, 3, 1], scalars: [3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5, 7]), tolerance: 1e-6)
    }

    func testAvgPoolCeilModeWindowPastPaddingIsNotCountedEvenWithCountIncludePad() {
        // torch: F.avg_pool2d([[1, 2, 3, 4]], (1, 3), (1, 2), (0, 1), ceil_mode=True) → [1, 3, 2]
        // (last window [3, 6) clipped to the padded [−1, 5): divisor 2); without the pad → [1.5, 3, 4].
        let x = Tensor(shape: [1, 1, 4, 1], scalars: [1, 2, 3, 4])
        let settings = (kernel: (1, 3), stride: (1, 2), padding: (0, 1))
        XCTAssertEqual(
            avgPool2D(
                x, kernelSize: settings.kernel, stride: settings.stride, padding: settings.padding, ceilMode: true
            ).scalars, [1, 3, 2])
        XCTAssertEqual(
            avgPool2D(
                x, kernelSize: settings.kernel, stride: settings.stride, padding: settings.padding, ceilMode: true,
                countIncludePad: false
            ).scalars, [1.5, 3, 4])
    }

    func testCeilModeAcceptsWindowLargerThanInputLikePyTorch() {
        // torch: F.avg_pool2d(x[1, 1, 2, 2], 3, 2, ceil_mode=True) is one window: the mean of x.
        let x = Tensor(shape: [1, 2, 2, 1], scalars: [1, 2, 3, 6])
        XCTAssertEqual(avgPool2D(x, kernelSize: 3, stride: 2, ceilMode: true).scalars, [3])
        XCTAssertEqual(maxPool2D(x, kernelSize: 3, stride: 2, ceilMode: true).scalars, [6])
    }

    func testGlobalPoolsReduceHeightAndWidthToBatchByChannels() {
        let x = randomTensor([2, 3, 4, 5], seed: 3)
        let mean = globalAveragePool2D(x), max = globalMaxPool2D(x)
        XCTAssertEqual(mean.shape, [2, 5])
        XCTAssertEqual(max.shape, [2, 5])
        assertClose(mean, x.mean(alongAxes: [1, 2]), tolerance: 1e-6)
        XCTAssertEqual(max.scalars, x.max(alongAxes: [1, 2]).scalars)
        XCTAssertEqual(globalAveragePool2D(x, keepingDimensions: true).shape, [2, 1, 1, 5])
        XCTAssertEqual(globalMaxPool2D(x, keepingDimensions: true).shape, [2, 1, 1, 5])
        XCTAssertEqual(globalMaxPool2D(x, keepingDimensions: true).scalars, max.scalars)
    }

    func testGlobalMaxPoolGradientGoesToFirstTiedMaximum() {
        let (_, dx) = outputAndGradient(.ones([1, 2, 2, 1])) { globalMaxPool2D($0) }
        XCTAssertEqual(dx.scalars, [1, 0, 0, 0])
    }

    func testPoolingAnEmptyBatchGivesAnEmptyBatch() {
        XCTAssertEqual(maxPool2D(.zeros([0, 4, 4, 3]), kernelSize: 2).shape, [0, 2, 2, 3])
        XCTAssertEqual(avgPool2D(.zeros([0, 4, 4, 3]), kernelSize: 3, stride: 2, padding: 1).shape, [0, 2, 2, 3])
        XCTAssertEqual(globalAveragePool2D(.zeros([0, 4, 4, 3])).shape, [0, 3])
    }

    // MARK: Vector lanes, channel blocks and threads

    /// 70 channels run as one 64-channel block (four 16-lane vectors) and a 6-channel scalar
    /// block; every channel must equal pooling that channel alone (the scalar path).
    func testVectorLanesAndChannelBlocksMatchPoolingEachChannelAlone() {
        let x = randomTensor([2, 5, 6, 70], seed: 5)
        let ops: [(Tensor) -> Tensor] = [
            { maxPool2D($0, kernelSize: 3, stride: 2, padding: 1) },
            { avgPool2D($0, kernelSize: (3, 2), stride: (2, 1), padding: (1, 1), ceilMode: true) },
            { avgPool2D($0, kernelSize: 3, stride: 2, padding: 1, countIncludePad: false) },
        ]
        for (index, op) in ops.enumerated() {
            let (y, dx) = outputAndGradient(x, op)
            for channel in [0, 15, 16, 63, 64, 69] {
                let (yc, dxc) = outputAndGradient(x.slice(axis: 3, channel..<(channel + 1)), op)
                XCTAssertEqual(
                    y.slice(axis: 3, channel..<(channel + 1)).scalars, yc.scalars, "op \(index) y \(channel)")
                XCTAssertEqual(
                    dx.slice(axis: 3, channel..<(channel + 1)).scalars, dxc.scalars, "op \(index) dx \(channel)")
            }
        }
    }

    /// Large enough to split over threads; one thread and four must give identical bits.
    func testResultsAndGradientsDoNotDependOnThreadCount() {
        let x = randomTensor([2, 32, 32, 20], seed: 6)
        let saved = Parallelism.threads
        defer { Parallelism.threads = saved }
        for op in [
            { maxPool2D($0, kernelSize: 3, stride: 2, padding: 1) },
            { avgPool2D($0, kernelSize: 3, stride: 1, padding: 1, countIncludePad: false) },
            { globalMaxPool2D($0) },
        ] as [(Tensor) -> Tensor] {
            Parallelism.threads = 1
            let (y1, dx1) = outputAndGradient(x, op)
            Parallelism.threads = 4
            let (y4, dx4) = outputAndGradient(x, op)
            XCTAssertEqual(y1.scalars, y4.scalars)
            XCTAssertEqual(dx1.scalars, dx4.scalars)
        }
    }

    // MARK: Gradient checks

    func testMaxPoolGradientsForEveryOption() {
        let x = distinctTensor([2, 5, 5, 2], seed: 11)
        checkGradients(of: { maxPool2D($0[0], kernelSize: 2) }, at: [x])
        checkGradients(of: { maxPool2D($0[0], kernelSize: 3, stride: 2, padding: 1) }, at: [x])
        checkGradients(of: { maxPool2D($0[0], kernelSize: 2, padding: 1, ceilMode: true) }, at: [x])
        checkGradients(of: { maxPool2D($0[0], kernelSize: 3, stride: 2, padding: 1, ceilMode: true) }, at: [x])
        checkGradients(
            of: { maxPool2D($0[0], kernelSize: (3, 2), stride: (1, 2), padding: (1, 1), ceilMode: true) }, at: [x])
    }

    func testMaxPoolGradientsThroughVectorLanes() {
        checkGradients(
            of: { maxPool2D($0[0], kernelSize: 3, stride: 2, padding: 1) },
            at: [distinctTensor([1, 3, 3, 17], seed: 12)])
    }

    func testAvgPoolGradientsForEveryOption() {
        let x = randomTensor([2, 5, 5, 2], seed: 13)
        for countIncludePad in [true, false] {
            checkGradients(
                of: { avgPool2D($0[0], kernelSize: 3, stride: 2, padding: 1, countIncludePad: countIncludePad) },
                at: [x])
            checkGradients(
                of: {
                    avgPool2D($0[0], kernelSize: 2, padding: 1, ceilMode: true, countIncludePad: countIncludePad)
                }, at: [x])
            checkGradients(
                of: {
                    avgPool2D(
                        $0[0], kernelSize: (2, 3), stride: (1, 2), padding: (1, 1), ceilMode: true,
                        countIncludePad: countIncludePad)
                }, at: [x])
        }
        checkGradients(
            of: { avgPool2D($0[0], kernelSize: 3, stride: 1, padding: 1) }, at: [randomTensor([1, 3, 3, 17], seed: 14)])
    }

    func testGlobalPoolGradients() {
        checkGradients(of: { globalAveragePool2D($0[0]) }, at: [randomTensor([2, 3, 4, 3], seed: 15)])
        checkGradients(
            of: { globalMaxPool2D($0[0], keepingDimensions: true) }, at: [distinctTensor([2, 3, 4, 3], seed: 16)])
    }

    // MARK: Layers

    func testPoolingLayersApplyTheirOpsWithPyTorchDefaults() {
        let x = distinctTensor([2, 6, 6, 3], seed: 17)
        let pool = MaxPool2D(kernelSize: 2)
        XCTAssertTrue(pool.stride == (2, 2) && pool.padding == (0, 0) && !pool.ceilMode)
        XCTAssertEqual(pool(x).scalars, maxPool2D(x, kernelSize: 2, stride: 2).scalars)
        let overlapping = MaxPool2D(kernelSize: (3, 3), stride: (2, 2), padding: (1, 1), ceilMode: true)
        XCTAssertEqual(overlapping(x).shape, [2, 4, 4, 3])
        let average = AvgPool2D(kernelSize: 3, stride: 2, padding: 1, countIncludePad: false)
        XCTAssertTrue(AvgPool2D(kernelSize: 2).countIncludePad)
        XCTAssertEqual(
            average(x).scalars, avgPool2D(x, kernelSize: 3, stride: 2, padding: 1, countIncludePad: false).scalars)
        XCTAssertEqual(GlobalAveragePool2D()(x).shape, [2, 3])
        XCTAssertEqual(GlobalMaxPool2D(keepingDimensions: true)(x).shape, [2, 1, 1, 3])
        XCTAssertEqual(GlobalMaxPool2D()(x).scalars, globalMaxPool2D(x).scalars)
    }
}
