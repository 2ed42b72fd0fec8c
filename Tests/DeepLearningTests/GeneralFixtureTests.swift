@testable import DeepLearning
import Foundation
import XCTest

/// Softmax, activations, classification losses, Linear, losses' target gradients, optimizers,
/// gradient clipping and learning-rate schedules against PyTorch. Fixtures:
/// Tests/DeepLearningTests/Fixtures/general/*.npz, made by Tools/fixtures/make_general_fixtures.py
/// (float64 PyTorch, stored as float32). Forward values at 1e-5 relative, gradients at 1e-4.
final class GeneralFixtureTests: XCTestCase {
    /// y and ∂sum(y·dy)/∂x of a unary op, against the fixture's `name.*` arrays.
    private func checkUnary(_ f: [String: Tensor], _ name: String, _ op: (Tensor) -> Tensor) throws {
        let x = Parameter(try XCTUnwrap(f["\(name).x"]))
        let y = op(x.value)
        (y * f["\(name).dy"]!).sum().backward()
        assertMatchesReference(y, f["\(name).y"], tolerance: 1e-5, "\(name) forward")
        assertMatchesReference(x.gradient!, f["\(name).dx"], tolerance: 1e-4, "\(name) gradient")
    }

    func testSoftmaxAndLogSoftmaxMatchPyTorch() throws {
        let f = try generalFixtures("softmax")
        try checkUnary(f, "softmax_last") { $0.softmax() }
        try checkUnary(f, "softmax_axis1") { $0.softmax(alongAxis: 1) }
        try checkUnary(f, "log_softmax_last") { $0.logSoftmax() }
        try checkUnary(f, "log_softmax_large") { $0.logSoftmax() }
    }

    func testActivationsAndUnaryFunctionsMatchPyTorch() throws {
        let f = try generalFixtures("activations")
        try checkUnary(f, "gelu") { $0.gelu() }
        try checkUnary(f, "gelu_tanh") { $0.gelu(approximate: .tanh) }
        try checkUnary(f, "silu") { $0.silu() }
        try checkUnary(f, "elu") { $0.elu(alpha: 1.3) }
        try checkUnary(f, "softplus") { $0.softplus(beta: 2, threshold: 5) }
        try checkUnary(f, "sin") { $0.sin() }
        try checkUnary(f, "cos") { $0.cos() }
        try checkUnary(f, "erf") { $0.erf() }
    }

    func testCrossEntropyAndNLLMatchPyTorch() throws {
        let f = try generalFixtures("cross_entropy")
        let labels = f["labels"]!.scalars.map { Int($0) }, weights = f["weights"]!
        let cases: [(String, Tensor?, Float, Reduction)] = [
            ("plain", nil, 0, .mean), ("smoothing", nil, 0.1, .mean), ("weights", weights, 0, .mean),
            ("weights_smoothing", weights, 0.2, .mean), ("sum", nil, 0.1, .sum), ("none", weights, 0, .none),
        ]
        for (name, classWeights, smoothing, reduction) in cases {
            let logits = Parameter(f["logits"]!)
            let loss = try crossEntropy(
                logits.value, labels: labels, weights: classWeights, labelSmoothing: smoothing, reduction: reduction)
            (loss * f["\(name).dy"]!).sum().backward()
            assertMatchesReference(loss, f["\(name).loss"], tolerance: 1e-5, "cross-entropy \(name)")
            assertMatchesReference(
                logits.gradient!, f["\(name).dlogits"], tolerance: 1e-4, "cross-entropy \(name) gradient")
        }
        let logProbabilities = Parameter(f["nll.logp"]!)
        let nll = try nllLoss(logProbabilities.value, labels: labels, weights: weights)
        nll.backward()
        assertMatchesReference(nll, f["nll.loss"], tolerance: 1e-5, "nll")
        assertMatchesReference(logProbabilities.gradient!, f["nll.dlogp"], tolerance: 1e-4, "nll gradient")
        // Per-pixel classes on the last axis of [N, H, W, C].
        let pixels = Parameter(f["pixels.logits"]!)
        let pixelLoss = try crossEntropy(
            pixels.value, labels: f["pixels.labels"]!.scalars.map { Int($0) }, labelSmoothing: 0.05)
        pixelLoss.backward()
        assertMatchesReference(pixelLoss, f["pixels.loss"], tolerance: 1e-5, "per-pixel cross-entropy")
        assertMatchesReference(
            pixels.gradient!, f["pixels.dlogits"], tolerance: 1e-4, "per-pixel cross-entropy gradient")
    }

    func testLinearOnTheLastAxisMatchesPyTorch() throws {
        let f = try generalFixtures("linear")
        let layer = Linear(4, 5)
        layer.weight.value = f["weight"]!
        layer.bias!.value = f["bias"]!
        let x = Parameter(f["x"]!)
        let y = layer(x.value)
        (y * f["dy"]!).sum().backward()
        assertMatchesReference(y, f["y"], tolerance: 1e-5, "linear forward")
        assertMatchesReference(x.gradient!, f["dx"], tolerance: 1e-4, "linear input gradient")
        assertMatchesReference(layer.weight.gradient!, f["dweight"], tolerance: 1e-4, "linear weight gradient")
        assertMatchesReference(layer.bias!.gradient!, f["dbias"], tolerance: 1e-4, "linear bias gradient")
    }

    func testLossesGiveGradientsToBothArgumentsAsPyTorch() throws {
        let f = try generalFixtures("losses_both")
        let (p, q) = (f["p"]!, f["q"]!)
        for (name, loss) in [("l1", l1Loss), ("mse", meanSquaredError)]
            as [(String, (Tensor, Tensor, Reduction) -> Tensor)]
        {
            let a = Parameter(p), b = Parameter(q)
            loss(a.value, b.value, .mean).backward()
            assertMatchesReference(a.gradient!, f["\(name).dprediction"], tolerance: 1e-4, "\(name) ∂prediction")
            assertMatchesReference(b.gradient!, f["\(name).dtarget_raw"], tolerance: 1e-4, "\(name) ∂target")
        }
        // BCE with logits against a trainable probability target σ(q), chained through the sigmoid.
        let a = Parameter(p), b = Parameter(q)
        binaryCrossEntropy(logits: a.value, b.value.sigmoid()).backward()
        assertMatchesReference(a.gradient!, f["bce_logits.dprediction"], tolerance: 1e-4, "bce logits ∂prediction")
        assertMatchesReference(b.gradient!, f["bce_logits.dtarget_raw"], tolerance: 1e-4, "bce logits ∂target")
    }

    /// A parameter first updated at step 4 is bias-corrected as a first update (PyTorch keeps a
    /// step count per parameter); SGD's weight decay with Nesterov momentum.
    func testOptimizersMatchPyTorch() throws {
        let f = try generalFixtures("optimizers")
        final class Pair: Module {
            let a: Parameter, c: Parameter
            init(_ a: Tensor, _ c: Tensor) { (self.a, self.c) = (Parameter(a), Parameter(c)) }
        }
        let model = Pair(f["adam.a0"]!, f["adam.c0"]!)
        let adam = Adam(for: model, learningRate: 0.01, beta1: 0.5)
        let grads = f["adam.grads"]!
        for step in 0..<6 {
            let g = grads.slice(axis: 0, step..<(step + 1)).reshaped(to: [6])
            (model.a.value * g).sum().backward()
            if step >= 3 { (model.c.value * (g * 0.5)).sum().backward() }
            adam.update()
        }
        assertMatchesReference(model.a.value, f["adam.a"], tolerance: 1e-5, "Adam, parameter updated every step")
        assertMatchesReference(model.c.value, f["adam.c"], tolerance: 1e-5, "Adam, parameter first updated at step 4")
        // The per-parameter counts survive a save and load.
        let restored = Adam(for: model, learningRate: 0.01, beta1: 0.5)
        try restored.loadState(adam.stateTensors(), step: adam.step)
        XCTAssertEqual(restored.stateTensors()["c.step"]?.scalar, 3)
        XCTAssertEqual(restored.stateTensors()["a.step"]?.scalar, 6)

        final class One: Module {
            let w: Parameter
            init(_ w: Tensor) { self.w = Parameter(w) }
        }
        let single = One(f["sgd.w0"]!)
        let sgd = SGD(for: single, learningRate: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01)
        for step in 0..<4 {
            (single.w.value * grads.slice(axis: 0, step..<(step + 1)).reshaped(to: [6])).sum().backward()
            sgd.update()
        }
        assertMatchesReference(
            single.w.value, f["sgd.w"], tolerance: 1e-5, "SGD with Nesterov momentum and weight decay")
    }

    func testGradientClippingMatchesPyTorch() throws {
        let f = try generalFixtures("optimizers")
        func parameters() -> [Parameter] {
            let p1 = Parameter(.zeros([3, 4])), p2 = Parameter(.zeros([5]))
            (p1.value * f["clip.g1"]!).sum().backward()
            (p2.value * f["clip.g2"]!).sum().backward()
            return [p1, p2]
        }
        let clipped = parameters()
        let norm = clipGradientNorm(clipped, maxNorm: 1.5)
        XCTAssertEqual(norm, f["clip.norm"]!.scalar, accuracy: 1e-5 * norm)
        assertMatchesReference(clipped[0].gradient!, f["clip.c1"], tolerance: 1e-5, "clip by norm")
        assertMatchesReference(clipped[1].gradient!, f["clip.c2"], tolerance: 1e-5, "clip by norm")
        let limited = parameters()
        clipGradientValues(limited, limit: 0.7)
        assertMatchesReference(limited[0].gradient!, f["clipvalue.c1"], tolerance: 0, "clip by value")
        assertMatchesReference(limited[1].gradient!, f["clipvalue.c2"], tolerance: 0, "clip by value")
    }

    func testLearningRateSchedulesMatchPyTorch() throws {
        let f = try generalFixtures("schedules")
        let schedules: [(String, any LearningRateSchedule, Int)] = [
            ("step", StepDecay(base: 0.1, stepSize: 7, gamma: 0.5), 30),
            ("exponential", ExponentialDecay(base: 0.1, gamma: 0.9), 30),
            (
                "cosine_warmup",
                CosineDecay(base: 0.1, totalSteps: 25, warmupSteps: 5, warmupStartFactor: 0.25, minimum: 0.001), 26
            ),
            ("linear_decay", LinearDecay(base: 0.1, constantSteps: 10, decaySteps: 15), 30),
        ]
        for (name, schedule, steps) in schedules {
            let expected = f[name]!.scalars
            for step in 0..<steps {
                XCTAssertEqual(
                    schedule.learningRate(at: step), expected[step], accuracy: 1e-6, "\(name) at step \(step)")
            }
        }
    }
}

/// Parameter groups and the EMA of weights against PyTorch (`Fixtures/general/training_tools.npz`).
final class TrainingToolFixtureTests: XCTestCase {
    final class Pair: Module {
        let a: Parameter, c: Parameter
        init(_ a: Tensor, _ c: Tensor) { (self.a, self.c) = (Parameter(a), Parameter(c)) }
    }

    func testParameterGroupsAndTheWeightAverageMatchPyTorch() throws {
        let f = try generalFixtures("training_tools")
        let model = Pair(f["groups.a0"]!, f["groups.c0"]!)
        let adam = Adam(
            groups: [
                ParameterGroup(parameters: [("a", model.a)], learningRateScale: 0.1),
                ParameterGroup(parameters: [("c", model.c)], weightDecay: 0.1),
            ], learningRate: 0.01)
        final class Tracked: Module {
            let c: Parameter
            init(_ c: Parameter) { self.c = c }
        }
        let ema = ExponentialMovingAverage(of: Tracked(model.c), decay: 0.9)
        let grads = f["groups.grads"]!
        for step in 0..<5 {
            let g = grads.slice(axis: 0, step..<(step + 1)).reshaped(to: [7])
            (model.a.value * g.slice(axis: 0, 0..<4)).sum().backward()
            (model.c.value * g.slice(axis: 0, 4..<7)).sum().backward()
            adam.update()
            ema.update()
        }
        assertMatchesReference(model.a.value, f["groups.a"], tolerance: 1e-5, "group with a tenth of the rate")
        assertMatchesReference(model.c.value, f["groups.c"], tolerance: 1e-5, "group with its own weight decay")
        assertMatchesReference(ema.averagedValues["c"]!, f["ema.c"], tolerance: 1e-5, "EMA of the weights")
        XCTAssertEqual(Set(adam.stateTensors().keys), ["0.a.m", "0.a.v", "0.a.step", "1.c.m", "1.c.v", "1.c.step"])
        let copy = Tracked(Parameter(.zeros([3])))
        try ema.copyAverages(to: copy)
        XCTAssertEqual(copy.c.value.scalars, ema.averagedValues["c"]!.scalars)
    }
}
