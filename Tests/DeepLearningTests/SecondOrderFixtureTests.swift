import DeepLearning
import Foundation
import XCTest

/// The arrays of `Fixtures/second_order/<group>.npz` (Tools/fixtures/make_second_order_fixtures.py).
private func secondOrderFixtures(_ group: String) throws -> [String: Tensor] {
    try NPZ.read(from: Bundle.module.resourceURL!.appendingPathComponent("Fixtures/second_order/\(group).npz"))
}

/// Gradients of gradients (`createGraph: true`) against PyTorch's `create_graph=True` in float64:
/// gradient penalties of a critic with instance norm, Hessian-vector products of an MLP, and
/// the double backward of convolutions, normalisations, cross-entropy and attention. Fixtures:
/// Tests/DeepLearningTests/Fixtures/second_order/*.npz, made by
/// Tools/fixtures/make_second_order_fixtures.py. Every value within 1e-4·max(1, max|reference|).
final class SecondOrderFixtureTests: XCTestCase {
    private func assertMatches(
        _ actual: Tensor, _ expected: Tensor?, _ message: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        guard let expected else { return XCTFail("missing reference for \(message)", file: file, line: line) }
        XCTAssertEqual(actual.shape, expected.shape, message, file: file, line: line)
        guard actual.shape == expected.shape else { return }
        let scale = Swift.max(1, expected.scalars.map(Swift.abs).max() ?? 0)
        let error = actual.maxAbsoluteDifference(to: expected) / scale
        XCTAssertLessThanOrEqual(error, 1e-4, "\(message): relative error \(error)", file: file, line: line)
    }

    // MARK: 1. Gradient penalties of a critic

    /// conv(3→8, 4×4, stride 2, pad 1) → instance norm (affine) → leaky ReLU 0.2 →
    /// conv(8→1, 3×3, pad 1), with the fixture's weights.
    private final class Critic: Module {
        let conv1 = Conv2D(3, 8, kernelSize: (4, 4), stride: (2, 2), padding: .explicit(height: 1, width: 1))
        let norm = InstanceNorm(8, affine: true)
        let conv2 = Conv2D(8, 1, kernelSize: (3, 3), padding: .explicit(height: 1, width: 1))
        /// The activation fused into the normalisation, or applied as its own op.
        let fused: Bool

        init(_ f: [String: Tensor], fused: Bool) {
            self.fused = fused
            conv1.kernel.value = f["w1"]!
            conv1.bias!.value = f["b1"]!
            norm.gamma!.value = f["gamma"]!
            norm.beta!.value = f["beta"]!
            conv2.kernel.value = f["w2"]!
            conv2.bias!.value = f["b2"]!
        }

        /// The weights in the fixture's order: w1, b1, gamma, beta, w2, b2.
        var weights: [(String, Parameter)] {
            [
                ("w1", conv1.kernel), ("b1", conv1.bias!), ("gamma", norm.gamma!), ("beta", norm.beta!),
                ("w2", conv2.kernel), ("b2", conv2.bias!),
            ]
        }

        func callAsFunction(_ x: Tensor) -> Tensor {
            let h = conv1(x)
            return conv2(fused ? norm(h, activation: .leakyReLU(slope: 0.2)) : norm(h).leakyReLU(slope: 0.2))
        }
    }

    /// R1 (γ = 10) at the real images and WGAN-GP (λ = 10) at the fixed interpolates: the penalty
    /// from `gradientSquaredNorms`, differentiated with respect to the input and every weight with
    /// `gradients(of:…)`, and the same penalty written out, back-propagated with `backward()`.
    func testGradientPenaltiesOfACriticWithInstanceNormMatchPyTorch() throws {
        let f = try secondOrderFixtures("critic")
        let interpolates = f["interpolates"]!
        // The stored interpolates are α·real + (1 − α)·fake, computed in float32.
        let alpha = f["alpha"]!.reshaped(to: [2, 1, 1, 1])
        assertMatches(alpha * f["real"]! + (1 - alpha) * f["fake"]!, interpolates, "interpolates")
        let penalties: [(String, Tensor, (Tensor) -> Tensor)] = [
            ("r1", f["real"]!, { $0.mean() * 5 }),
            ("gp", interpolates, { ($0.sqrt() - 1).squared().mean() * 10 }),
        ]
        for fused in [true, false] {
            for (name, input, penalty) in penalties {
                let label = "\(name)\(fused ? " (fused activation)" : "")"
                let critic = Critic(f, fused: fused)
                let x = input.requiringGradient()
                let norms = try gradientSquaredNorms(at: [x]) { critic($0[0]) }
                assertMatches(norms, f["\(name).norms"], "\(label) squared norms")
                let value = penalty(norms)
                assertMatches(value, f["\(name).value"], "\(label) value")
                let all = try gradients(
                    of: value, withRespectTo: [x] + critic.weights.map { $0.1.value }, allowUnused: true)
                assertMatches(all[0], f["\(name).dx"], "\(label) ∂/∂input")
                for ((weight, _), gradient) in zip(critic.weights, all.dropFirst()) {
                    assertMatches(gradient, f["\(name).d\(weight)"], "\(label) ∂/∂\(weight) by gradients(of:)")
                }

                let leaf = input.requiringGradient()
                let slope = try gradients(of: critic(leaf).sum(), withRespectTo: [leaf], createGraph: true)[0]
                penalty(slope.squared().reshaped(to: [2, -1]).sum(alongAxes: [1])).backward()
                for (weight, parameter) in critic.weights {
                    assertMatches(
                        parameter.gradient ?? .zeros(parameter.shape), f["\(name).d\(weight)"],
                        "\(label) ∂/∂\(weight) by backward()")
                }
            }
        }
    }

    // MARK: 2. Hessian-vector products

    func testHessianVectorProductsOfAnMLPMatchPyTorch() throws {
        let f = try secondOrderFixtures("mlp")
        let activations: [(String, (Tensor) -> Tensor)] = [("softplus", { $0.softplus() }), ("gelu", { $0.gelu() })]
        let names = ["w1", "b1", "w2", "b2"]
        for (name, activation) in activations {
            func loss(_ x: Tensor, _ w: [Tensor]) -> Tensor {
                activation(linear(linear(x, weight: w[0], bias: w[1]).tanh(), weight: w[2], bias: w[3])).squared().sum()
            }
            // With respect to the input.
            let x = f["x"]!.requiringGradient()
            let objective = loss(x, names.map { f[$0]! })
            assertMatches(objective, f["\(name).loss"], "\(name) loss")
            let gx = try gradients(of: objective, withRespectTo: [x], createGraph: true)[0]
            assertMatches(gx, f["\(name).gx"], "\(name) ∂L/∂x")
            let hx = try gradients(of: (gx * f["vx"]!).sum(), withRespectTo: [x])[0]
            assertMatches(hx, f["\(name).hx"], "\(name) H·v w.r.t. x")
            // With respect to the weights.
            let weights = names.map { f[$0]!.requiringGradient() }
            let gw = try gradients(of: loss(f["x"]!, weights), withRespectTo: weights, createGraph: true)
            var directional = Tensor(0)
            for (weight, gradient) in zip(names, gw) {
                assertMatches(gradient, f["\(name).g\(weight)"], "\(name) ∂L/∂\(weight)")
                directional = directional + (gradient * f["v\(weight)"]!).sum()
            }
            let hw = try gradients(of: directional, withRespectTo: weights)
            for (weight, product) in zip(names, hw) {
                assertMatches(product, f["\(name).h\(weight)"], "\(name) H·v w.r.t. \(weight)")
            }
        }
    }

    // MARK: 3. Convolutions

    /// S = Σ‖∂L/∂x‖² + ‖∂L/∂W‖² + ‖∂L/∂b‖² for L = Σ probe·y and L = Σ probe·y²/2, y = conv(x, W, b),
    /// differentiated with respect to x, W and b.
    private func checkDoubleBackward(
        _ f: [String: Tensor], _ name: String, _ convolution: (Tensor, Tensor, Tensor) -> Tensor
    ) throws {
        let probe = f["\(name).probe"]!
        for pattern in ["linear", "quadratic"] {
            let inputs = ["x", "w", "b"].map { f["\(name).\($0)"]!.requiringGradient() }
            let y = convolution(inputs[0], inputs[1], inputs[2])
            let objective = pattern == "linear" ? (y * probe).sum() : (y.squared() * probe).sum() / 2
            let first = try gradients(of: objective, withRespectTo: inputs, createGraph: true)
            let squaredNorm = first.map { $0.squared().sum() }.reduce(Tensor(0), +)
            let second = try gradients(of: squaredNorm, withRespectTo: inputs, allowUnused: true)
            for (input, gradient) in zip(["x", "w", "b"], second) {
                assertMatches(gradient, f["\(name).\(pattern).d\(input)"], "\(name) \(pattern) ∂S/∂\(input)")
            }
        }
    }

    func testDoubleBackwardOfConvolutionsMatchesPyTorch() throws {
        let f = try secondOrderFixtures("convolution")
        try checkDoubleBackward(f, "grouped_dilated") {
            conv2D(
                $0, kernel: $1, bias: $2, strides: (2, 1), padding: .explicit(height: 1, width: 2), dilation: (2, 1),
                groups: 2)
        }
        try checkDoubleBackward(f, "rect_stride2") {
            conv2D($0, kernel: $1, bias: $2, strides: (2, 2), padding: .explicit(height: 0, width: 1))
        }
        try checkDoubleBackward(f, "t_outpad") {
            conv2DTranspose(
                $0, kernel: $1, bias: $2, strides: (2, 2), padding: .explicit(height: 1, width: 1),
                outputPadding: (1, 1))
        }
        try checkDoubleBackward(f, "t_rect_dilated") {
            conv2DTranspose(
                $0, kernel: $1, bias: $2, strides: (1, 2), padding: .explicit(height: 1, width: 0), dilation: (2, 1),
                outputPadding: (0, 1))
        }
    }

    // MARK: 4. Normalisations

    func testDoubleBackwardOfNormalizationsMatchesPyTorch() throws {
        let f = try secondOrderFixtures("normalization")
        let cases: [(String, (Tensor, Tensor, Tensor) -> Tensor)] = [
            ("batch", { batchNormalized($0, gamma: $1, beta: $2, epsilon: 1e-5).output }),
            ("batch_tanh", { batchNormalized($0, gamma: $1, beta: $2, epsilon: 1e-5, activation: .tanh).output }),
            ("layer", { layerNormalized($0, gamma: $1, beta: $2, epsilon: 1e-5) }),
            ("group", { groupNormalized($0, groups: 3, gamma: $1, beta: $2, epsilon: 1e-5) }),
        ]
        for (name, normalization) in cases {
            let inputs = ["x", "gamma", "beta"].map { f[$0]!.requiringGradient() }
            let objective = (normalization(inputs[0], inputs[1], inputs[2]) * f["probe"]!).sum()
            let first = try gradients(of: objective, withRespectTo: inputs, createGraph: true)
            assertMatches(first[0], f["\(name).gx"], "\(name) ∂L/∂x")
            let squaredNorm = first.map { $0.squared().sum() }.reduce(Tensor(0), +)
            let second = try gradients(of: squaredNorm, withRespectTo: inputs, allowUnused: true)
            for (input, gradient) in zip(["x", "gamma", "beta"], second) {
                assertMatches(gradient, f["\(name).d\(input)"], "\(name) ∂S/∂\(input)")
            }
        }
    }

    // MARK: 5. Cross-entropy and softmax

    func testDoubleBackwardOfCrossEntropyAndSoftmaxMatchesPyTorch() throws {
        let f = try secondOrderFixtures("cross_entropy")
        let labels = f["labels"]!.scalars.map { Int($0) }, probe = f["probe"]!
        let cases: [(String, (Tensor) throws -> Tensor)] = [
            ("smoothing", { try crossEntropy($0, labels: labels, labelSmoothing: 0.1) }),
            (
                "weights_smoothing",
                { try crossEntropy($0, labels: labels, weights: f["weights"]!, labelSmoothing: 0.2) }
            ),
            ("softmax", { ($0.softmax() * probe).sum() }),
        ]
        for (name, loss) in cases {
            // A second pass without createGraph frees the graph: one first-order pass for each.
            for (second, reference) in [
                ({ (g: Tensor) in g.squared().sum() }, "dsquared"), ({ ($0 * f["v"]!).sum() }, "hv"),
            ] {
                let logits = f["logits"]!.requiringGradient()
                let g = try gradients(of: try loss(logits), withRespectTo: [logits], createGraph: true)[0]
                assertMatches(g, f["\(name).g"], "\(name) ∂L/∂logits")
                let result = try gradients(of: second(g), withRespectTo: [logits])[0]
                assertMatches(result, f["\(name).\(reference)"], "\(name) \(reference)")
            }
        }
    }

    // MARK: 6. Attention

    func testDoubleBackwardOfAttentionMatchesPyTorch() throws {
        let f = try secondOrderFixtures("attention")
        let probe = f["probe"]!
        for name in ["mask", "soft_mask", "causal"] {
            var inputs = ["q", "k", "v"].map { f[$0]!.requiringGradient() }
            let y: Tensor
            switch name {
            case "causal":
                y = scaledDotProductAttention(query: inputs[0], key: inputs[1], value: inputs[2], causal: true)
            case "mask":
                y = scaledDotProductAttention(query: inputs[0], key: inputs[1], value: inputs[2], mask: f["mask"]!)
            default:
                inputs.append(f["soft_mask"]!.requiringGradient())
                y = scaledDotProductAttention(query: inputs[0], key: inputs[1], value: inputs[2], mask: inputs[3])
            }
            let first = try gradients(of: (y * probe).sum(), withRespectTo: inputs, createGraph: true)
            let names = ["q", "k", "v", "mask"]
            for (input, gradient) in zip(names, first) {
                assertMatches(gradient, f["\(name).g\(input)"], "\(name) ∂L/∂\(input)")
            }
            let squaredNorm = first.prefix(3).map { $0.squared().sum() }.reduce(Tensor(0), +)
            let second = try gradients(of: squaredNorm, withRespectTo: inputs)
            for (input, gradient) in zip(names, second) {
                assertMatches(gradient, f["\(name).d\(input)"], "\(name) ∂S/∂\(input)")
            }
        }
    }
}
