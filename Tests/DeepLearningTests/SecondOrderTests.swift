import DeepLearning
import XCTest

/// One second-order check per differentiable op: the Hessian-vector product of a recorded
/// backward pass against finite differences of the first-order gradient (SecondOrderChecker).
final class SecondOrderTests: XCTestCase {
    func testArithmeticWithBroadcasting() {
        let a = randomTensor([2, 3, 4], seed: 1), b = randomTensor([3, 1], seed: 2)
        checkSecondOrder(of: { $0[0] * $0[1] + $0[0] * $0[0] - $0[1] }, at: [a, b])
        checkSecondOrder(
            of: { $0[0] / ($0[1] + 3) + 2 / ($0[0] + 3) - $0[0] * 1.5 }, at: [a, b])
        checkSecondOrder(of: { -($0[0] * $0[1]) + 0.5 }, at: [a, b])
    }

    func testElementwiseFunctions() {
        let x = randomTensor([3, 5], seed: 3, lower: -2, upper: 2)
        let positive = randomTensor([3, 5], seed: 4, lower: 0.5, upper: 2)
        let functions: [(String, (Tensor) -> Tensor)] = [
            ("exp", { $0.exp() }), ("tanh", { $0.tanh() }), ("sigmoid", { $0.sigmoid() }),
            ("square", { $0.squared() }), ("sin", { $0.sin() }), ("cos", { $0.cos() }), ("erf", { $0.erf() }),
            ("gelu", { $0.gelu() }), ("gelu-tanh", { $0.gelu(approximate: .tanh) }), ("silu", { $0.silu() }),
            ("elu", { $0.elu(alpha: 0.7) }), ("softplus", { $0.softplus(beta: 2) }),
            ("relu", { $0.relu() * $0 }), ("leaky", { $0.leakyReLU(slope: 0.2) * $0 }),
            ("abs", { $0.abs() * $0 }), ("clamp", { $0.clamped(to: -1, 1) * $0 }),
        ]
        for (name, function) in functions {
            checkSecondOrder(of: { function($0[0]) }, at: [x])
            _ = name
        }
        for function in [{ (x: Tensor) in x.log() }, { $0.sqrt() }, { $0.pow(2.5) }] {
            checkSecondOrder(of: { function($0[0]) }, at: [positive])
        }
    }

    func testReductionsAndShapes() {
        let x = randomTensor([2, 3, 4], seed: 5)
        checkSecondOrder(of: { ($0[0] * $0[0]).sum(alongAxes: [1], keepingDimensions: true) * $0[0] }, at: [x])
        checkSecondOrder(of: { $0[0].mean(alongAxes: [0, 2]).squared() }, at: [x])
        checkSecondOrder(of: { $0[0].max(alongAxes: [2]).squared() }, at: [x])
        checkSecondOrder(of: { $0[0].reshaped(to: [6, 4]).transposed().squared() }, at: [x])
        checkSecondOrder(of: { $0[0].permuted([2, 0, 1]).slice(axis: 1, 1..<2).exp() }, at: [x])
        checkSecondOrder(of: { $0[0].slice(axis: 2, 1..<3).broadcasted(to: [5, 2, 3, 2]).squared() }, at: [x])
    }
}

extension SecondOrderTests {
    func testMatrixProducts() {
        let a = randomTensor([2, 3, 4], seed: 11), b = randomTensor([4, 5], seed: 12),
            bias = randomTensor([5], seed: 13)
        checkSecondOrder(of: { matmul($0[0], $0[1]).squared() }, at: [a, b])
        checkSecondOrder(of: { linear($0[0], weight: $0[1], bias: $0[2]).tanh() }, at: [a, b, bias])
        checkSecondOrder(of: { linear($0[0], weight: $0[1]).squared() }, at: [a, b])
    }

    func testConvolutionsWithEveryOption() {
        let x = randomTensor([2, 6, 5, 4], seed: 21), bias = randomTensor([6], seed: 22)
        let cases: [(String, [Int], ([Tensor]) -> Tensor)] = [
            ("stride 2 same", [3, 3, 4, 6], { conv2D($0[0], kernel: $0[1], bias: $0[2], stride: 2, padding: .same) }),
            (
                "dilated, explicit padding, groups 2", [3, 3, 2, 6],
                {
                    conv2D(
                        $0[0], kernel: $0[1], bias: $0[2], strides: (1, 2), padding: .explicit(height: 2, width: 1),
                        dilation: (2, 1), groups: 2)
                }
            ),
            (
                "transposed stride 2 output padding", [3, 3, 6, 4],
                {
                    conv2DTranspose(
                        $0[0], kernel: $0[1], bias: $0[2], strides: (2, 2), padding: .explicit(height: 1, width: 1),
                        outputPadding: (1, 1))
                }
            ),
            (
                "transposed dilated same", [2, 2, 6, 4],
                {
                    conv2DTranspose(
                        $0[0], kernel: $0[1], bias: $0[2], strides: (1, 1), padding: .same, dilation: (2, 2))
                }
            ),
        ]
        for (name, kernelShape, convolution) in cases {
            let kernel = randomTensor(kernelShape, seed: 23)
            // Squared, so the second derivative reaches the input and the kernel through both paths.
            checkSecondOrder(of: { convolution($0).squared() }, at: [x, kernel, bias])
            _ = name
        }
    }

    func testNormalizationsWithBatchStatistics() {
        let x = randomTensor([3, 4, 2, 6], seed: 31), gamma = randomTensor([6], seed: 32, lower: 0.5, upper: 1.5)
        let beta = randomTensor([6], seed: 33)
        checkSecondOrder(
            of: { batchNormalized($0[0], gamma: $0[1], beta: $0[2]).output.squared() }, at: [x, gamma, beta])
        checkSecondOrder(
            of: { batchNormalized($0[0], gamma: $0[1], beta: $0[2], activation: .tanh).output.squared() },
            at: [x, gamma, beta])
        // (A fused kinked activation is checked in the elementwise test: here a difference step
        // would cross its kink.)
        checkSecondOrder(
            of: { instanceNormalized($0[0], gamma: $0[1], beta: $0[2], activation: .tanh) * $0[0] },
            at: [x, gamma, beta])
        checkSecondOrder(of: { instanceNormalized($0[0], gamma: nil, beta: nil).squared() }, at: [x])
        checkSecondOrder(of: { layerNormalized($0[0], gamma: $0[1], beta: $0[2]).squared() }, at: [x, gamma, beta])
        checkSecondOrder(
            of: { groupNormalized($0[0], groups: 3, gamma: $0[1], beta: nil).squared() }, at: [x, gamma])
        let mean = randomTensor([6], seed: 34), variance = randomTensor([6], seed: 35, lower: 0.5, upper: 2)
        checkSecondOrder(
            of: {
                batchNormalized($0[0], mean: mean, variance: variance, gamma: $0[1], beta: $0[2]).squared() * $0[1]
            }, at: [x, gamma, beta])
    }

    func testSoftmaxAndLosses() throws {
        let logits = randomTensor([4, 5], seed: 41, lower: -2, upper: 2)
        let targets = randomTensor([4, 5], seed: 42, lower: 0, upper: 1)
        checkSecondOrder(of: { $0[0].softmax().squared() }, at: [logits])
        checkSecondOrder(of: { $0[0].softmax(alongAxis: 0) * $0[0] }, at: [logits])
        checkSecondOrder(of: { $0[0].logSoftmax().squared() }, at: [logits])
        checkSecondOrder(of: { try! crossEntropy($0[0], labels: [0, 3, 1, 4], labelSmoothing: 0.1) }, at: [logits])
        checkSecondOrder(of: { binaryCrossEntropy(logits: $0[0], $0[1]) }, at: [logits, targets])
        checkSecondOrder(of: { binaryCrossEntropy($0[0].sigmoid(), $0[1], reduction: .sum) }, at: [logits, targets])
        checkSecondOrder(of: { meanSquaredError($0[0], $0[1], reduction: .none) }, at: [logits, targets])
        checkSecondOrder(of: { l1Loss($0[0], $0[1]) * $0[0].sum() }, at: [logits, targets])
    }

    func testPoolingUpsamplingAndRearrangements() {
        let x = randomTensor([2, 6, 6, 4], seed: 51)
        // Distinct values 0.03 apart: no step of the check changes which element is a maximum.
        var generator = SeededGenerator(seed: 52)
        let spaced = Tensor(
            shape: [2, 6, 6, 4], scalars: (0..<288).map { Float($0) * 0.03 - 4 }.shuffled(using: &generator))
        checkSecondOrder(
            of: { maxPool2D($0[0], kernelSize: 3, stride: 2, padding: 1).squared() }, at: [spaced], step: 1e-3)
        checkSecondOrder(of: { globalMaxPool2D($0[0]).squared() }, at: [spaced], step: 1e-3)
        checkSecondOrder(of: { avgPool2D($0[0], kernelSize: 2).squared() }, at: [x])
        checkSecondOrder(of: { upsampleNearest2D($0[0], scale: 2).squared() }, at: [x])
        checkSecondOrder(of: { upsampleBilinear2D($0[0], size: (9, 7)).squared() }, at: [x])
        checkSecondOrder(of: { pixelShuffle($0[0], upscaleFactor: 2).squared() }, at: [x])
        checkSecondOrder(of: { pixelUnshuffle($0[0], downscaleFactor: 2).squared() }, at: [x])
        checkSecondOrder(of: { $0[0].padded(top: 1, bottom: 2, left: 2, right: 0, mode: .reflect).squared() }, at: [x])
        checkSecondOrder(of: { $0[0].gathering([2, 0, 2], alongAxis: 1).squared() }, at: [x])
        checkSecondOrder(of: { concatenate([$0[0], $0[0] * 2], axis: -1).squared() }, at: [x])
        checkSecondOrder(of: { concatenate([$0[0], $0[0].squared()], axis: 1, activation: .tanh).squared() }, at: [x])
        // The same dropout mask at every evaluation of the check.
        let stream = SeededGenerator(seed: 5)
        checkSecondOrder(
            of: {
                var generator = stream
                return dropout($0[0], rate: 0.3, generator: &generator).squared()
            }, at: [x])
    }

    func testAttention() {
        let q = randomTensor([2, 3, 4], seed: 61), k = randomTensor([2, 5, 4], seed: 62),
            v = randomTensor([2, 5, 4], seed: 63)
        let mask = randomTensor([3, 5], seed: 64)
        checkSecondOrder(
            of: { scaledDotProductAttention(query: $0[0], key: $0[1], value: $0[2], mask: $0[3]).squared() },
            at: [q, k, v, mask])
        checkSecondOrder(
            of: { scaledDotProductAttention(query: $0[0], key: $0[0], value: $0[0], causal: true).squared() },
            at: [q])
    }

    func testRecomputedBlock() {
        let layer = Linear(4, 3)
        let x = randomTensor([2, 4], seed: 71)
        checkSecondOrder(of: { checkpointed([$0[0]], through: [layer]) { layer($0[0]).tanh() }.squared() }, at: [x])
    }

    func testACustomOpReadingItsOutputIsDifferentiableTwice() {
        /// eˣ with its derivative taken from the output, the public way.
        func customExp(_ x: Tensor) -> Tensor {
            let output = Tensor(shape: x.shape, scalars: x.scalars.map { Foundation.exp($0) })
            return Tensor.recording(output, inputs: [x]) { outputGradient, _, y in [outputGradient * y] }
        }
        checkSecondOrder(of: { customExp($0[0]) * $0[0] }, at: [randomTensor([3, 4], seed: 81)])
    }
}
