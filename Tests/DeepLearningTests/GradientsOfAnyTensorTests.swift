import DeepLearning
import XCTest

/// `gradients(of:withRespectTo:)`: gradients of inputs, intermediate values and parameters'
/// values, returned without touching `Parameter.gradient`.
final class GradientsOfAnyTensorTests: XCTestCase {
    /// A small convolutional critic: conv → batch norm → leaky ReLU → conv → mean.
    private final class Critic: Layer {
        let conv1 = Conv2D(2, 4, kernelSize: 3, stride: 2, padding: .same)
        let norm = BatchNorm(4)
        let conv2 = Conv2D(4, 1, kernelSize: 3, padding: .same)
        func callAsFunction(_ x: Tensor) -> Tensor { conv2(norm(conv1(x), activation: .leakyReLU(slope: 0.2))).mean() }
    }

    func testTheInputGradientEqualsTheOneAParameterWouldAccumulateAndLeavesParametersAlone() throws {
        RandomState.seed(3)
        let critic = Critic()
        let x = randomTensor([2, 6, 6, 2], seed: 4)
        // Reference: the input wrapped in a Parameter, back-propagated the usual way.
        let wrapped = Parameter(x)
        critic(wrapped.value).backward()
        let expected = try XCTUnwrap(wrapped.gradient)
        critic.zeroGradients()

        let input = x.requiringGradient()
        let gradient = try gradients(of: critic(input), withRespectTo: [input])[0]
        XCTAssertEqual(gradient.shape, x.shape)
        XCTAssertLessThan(gradient.maxAbsoluteDifference(to: expected), 1e-6)
        XCTAssertTrue(critic.parameters.allSatisfy { $0.gradient == nil }, "no Parameter.gradient is touched")
    }

    func testParametersValuesAndIntermediateValuesAreTargetsToo() throws {
        RandomState.seed(5)
        let critic = Critic()
        let x = randomTensor([2, 6, 6, 2], seed: 6)
        critic(x).backward()
        let expectedKernel = try XCTUnwrap(critic.conv2.kernel.gradient)
        critic.zeroGradients()

        let kernel = critic.conv2.kernel.value  // read while recording: the parameter's leaf
        let hidden = critic.norm(critic.conv1(x), activation: .leakyReLU(slope: 0.2))
        let y = conv2D(hidden, kernel: kernel, bias: critic.conv2.bias?.value, padding: .same).mean()
        let (kernelGradient, hiddenGradient) = try { (g: [Tensor]) in (g[0], g[1]) }(
            gradients(of: y, withRespectTo: [kernel, hidden]))
        XCTAssertLessThan(kernelGradient.maxAbsoluteDifference(to: expectedKernel), 1e-6)
        XCTAssertNil(critic.conv2.kernel.gradient)
        // ∂mean/∂hidden of a conv: the transposed conv of a constant 1/count.
        let ones = Tensor(shape: [2, 3, 3, 1], repeating: 1 / 18)
        // The conv's kernel [3, 3, 4, 1] is the transposed conv's [k, k, out 4, in 1].
        let expectedHidden = conv2DTranspose(ones, kernel: critic.conv2.kernel.value.detached(), padding: .same)
        XCTAssertEqual(hiddenGradient.shape, hidden.shape)
        XCTAssertLessThan(hiddenGradient.maxAbsoluteDifference(to: expectedHidden), 1e-6)
    }

    func testSeedsUnusedTargetsAndMisuseAreClearErrors() throws {
        let a = Tensor([1, 2, 3]).requiringGradient(), b = Tensor([4, 5]).requiringGradient()
        let y = a * a  // [3], not a scalar
        XCTAssertThrowsError(try gradients(of: y, withRespectTo: [a])) {
            XCTAssertTrue("\($0)".contains("not a scalar"), "\($0)")
        }
        let seeded = try gradients(of: a * a, withRespectTo: [a], seed: Tensor([1, 1, 2]))[0]
        XCTAssertEqual(seeded.scalars, [2, 4, 12])

        XCTAssertThrowsError(try gradients(of: (a * a).sum(), withRespectTo: [a, b])) {
            XCTAssertTrue("\($0)".contains("target 1 [2]"), "names the unused target: \($0)")
        }
        let withZeros = try gradients(of: (a * a).sum(), withRespectTo: [a, b], allowUnused: true)
        XCTAssertEqual(withZeros[0].scalars, [2, 4, 6])
        XCTAssertEqual(withZeros[1].scalars, [0, 0])

        XCTAssertThrowsError(try gradients(of: (a * a).sum(), withRespectTo: [Tensor([1, 2, 3])])) {
            XCTAssertTrue("\($0)".contains("requiringGradient()"), "\($0)")
        }
        let once = (a * 3).sum()
        _ = try gradients(of: once, withRespectTo: [a])
        XCTAssertThrowsError(try gradients(of: once, withRespectTo: [a])) {
            XCTAssertTrue("\($0)".contains("already back-propagated"), "a freed graph: \($0)")
        }
    }

    /// Only what leads to a target is differentiated: a pullback is told its other inputs are
    /// not needed (a saliency map computes no weight gradients).
    func testOnlyThePathsToTheTargetsAreDifferentiated() throws {
        final class Flags: @unchecked Sendable { var seen: [[Bool]] = [] }
        let flags = Flags()
        let weight = Parameter(Tensor([2, 3]))
        let x = Tensor([1, 1]).requiringGradient()
        let product = x * weight.value
        let recorded = Tensor.recording(product.detached(), inputs: [x, weight.value]) { gradient, needed in
            flags.seen.append(needed)
            return [needed[0] ? gradient * weight.value.detached() : nil, needed[1] ? gradient * x.detached() : nil]
        }
        let gradient = try gradients(of: recorded.sum(), withRespectTo: [x])[0]
        XCTAssertEqual(gradient.scalars, [2, 3])
        XCTAssertEqual(flags.seen, [[true, false]])
        XCTAssertNil(weight.gradient)
    }

    /// Finite differences of the loss with respect to the input, through every layer kind the
    /// critic uses.
    func testTheInputGradientMatchesFiniteDifferences() throws {
        RandomState.seed(7)
        let critic = Critic()
        let x = randomTensor([2, 6, 6, 2], seed: 8)
        let analytic = try gradients(
            of: critic(x.requiringGradient()), withRespectTo: [x.requiringGradient()], allowUnused: true)
        XCTAssertEqual(analytic[0].scalars, [Float](repeating: 0, count: x.count), "a second leaf is another tensor")
        let input = x.requiringGradient()
        let gradient = try gradients(of: critic(input), withRespectTo: [input])[0]
        for element in stride(from: 0, to: x.count, by: 7) {
            var plus = x, minus = x
            plus.withUnsafeMutableBufferPointer { $0[element] += 1e-2 }
            minus.withUnsafeMutableBufferPointer { $0[element] -= 1e-2 }
            let numeric = withoutGradient { (critic(plus).scalar - critic(minus).scalar) / 2e-2 }
            XCTAssertEqual(
                gradient.scalars[element], numeric, accuracy: 2e-3 + 0.02 * abs(numeric), "element \(element)")
        }
    }
}
