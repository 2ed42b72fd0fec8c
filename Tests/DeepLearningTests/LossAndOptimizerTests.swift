import DeepLearning
import XCTest

// Reference numbers: printed by Tools/fixtures/optim_losses_reference.py with torch 2.15.

private let probabilities = Tensor([0.1, 0.5, 0.9, 1e-9, 0.999, 0.3])
private let targets = Tensor([0, 1, 1, 0, 1, 0.2])
private let logits = Tensor([-30, -2, 0, 0.5, 3, 40])
private let predictions = Tensor([0.5, -1, 2, 0.25, 0, -3])

private func valueAndGradient(_ loss: (Tensor) -> Tensor, at x: Tensor) -> (Float, [Float]) {
    let parameter = Parameter(x)
    let value = loss(parameter.value)
    value.backward()
    return (value.scalar, parameter.gradient!.scalars)
}

private func assertEqual(
    _ a: [Float], _ b: [Float], accuracy: Float, file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertEqual(a.count, b.count, file: file, line: line)
    for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: accuracy, "\(a) vs \(b)", file: file, line: line) }
}

final class LossTests: XCTestCase {
    func testBinaryCrossEntropyMatchesPyTorch() {
        let (value, gradient) = valueAndGradient({ binaryCrossEntropy($0, targets) }, at: probabilities)
        XCTAssertEqual(value, 0.23850055, accuracy: 1e-6)
        assertEqual(gradient, [0.18518519, -0.33333334, -0.18518519, 0, -0.16683351, 0.079365082], accuracy: 1e-5)
    }

    func testBinaryCrossEntropyWithLogitsIsStableAndMatchesPyTorch() {
        let (value, gradient) = valueAndGradient(
            { binaryCrossEntropy(logits: $0, targets, reduction: .sum) }, at: logits)
        XCTAssertEqual(value, 35.842735, accuracy: 1e-4)
        assertEqual(gradient, [9.3576236e-14, -0.88079709, -0.5, 0.62245935, -0.047425866, 0.80000001], accuracy: 1e-6)
    }

    func testL1AndMSEMatchPyTorch() {
        let (l1, l1Gradient) = valueAndGradient({ l1Loss($0, targets) }, at: predictions)
        XCTAssertEqual(l1, 1.3249999, accuracy: 1e-6)
        assertEqual(
            l1Gradient, [0.16666667, -0.16666667, 0.16666667, 0.16666667, -0.16666667, -0.16666667], accuracy: 1e-6)
        let (mse, mseGradient) = valueAndGradient({ meanSquaredError($0, targets) }, at: predictions)
        XCTAssertEqual(mse, 2.7587502, accuracy: 1e-5)
        assertEqual(
            mseGradient, [0.16666667, -0.66666669, 0.33333334, 0.083333336, -0.33333334, -1.0666667], accuracy: 1e-6)
    }

    func testLossGradientsNumerically() {
        let t = randomTensor([2, 3], seed: 40, lower: 0, upper: 1)
        checkGradients(
            of: { binaryCrossEntropy(logits: $0[0], t, reduction: .sum) }, at: [randomTensor([2, 3], seed: 41)])
        checkGradients(
            of: { binaryCrossEntropy($0[0], t) }, at: [randomTensor([2, 3], seed: 42, lower: 0.2, upper: 0.8)],
            step: 1e-3)
        checkGradients(of: { meanSquaredError($0[0], t, reduction: .none) }, at: [randomTensor([2, 3], seed: 43)])
        checkGradients(
            of: { l1Loss($0[0], t, reduction: .sum) }, at: [randomTensor([2, 3], seed: 44, lower: 1.1, upper: 2)])
    }

    func testReductions() {
        let none = meanSquaredError(Tensor([1, 2]), Tensor([0, 0]), reduction: .none)
        XCTAssertEqual(none.scalars, [1, 4])
        XCTAssertEqual(meanSquaredError(Tensor([1, 2]), Tensor([0, 0]), reduction: .sum).scalar, 5)
        XCTAssertEqual(meanSquaredError(Tensor([1, 2]), Tensor([0, 0])).scalar, 2.5)
    }
}

/// f(w) = Σ w³ + w·(1, 2, −3): the objective of the reference script.
private final class Cubic: Module {
    let w = Parameter(Tensor([0.5, -1.5, 2]))
    func loss() -> Tensor { (w.value * w.value * w.value).sum() + (w.value * Tensor([1, 2, -3])).sum() }
}

final class OptimizerTests: XCTestCase {
    private func run(_ optimizer: (Module) -> Optimizer, steps: Int = 2) -> [[Float]] {
        let model = Cubic()
        let opt = optimizer(model)
        var trajectory: [[Float]] = []
        for _ in 0..<steps {
            model.loss().backward()
            opt.update()
            XCTAssertNil(model.w.gradient, "update() clears gradients")
            trajectory.append(model.w.value.scalars)
        }
        return trajectory
    }

    func testTwoAdamStepsMatchPyTorch() {
        let steps = run { Adam(for: $0, learningRate: 0.1, beta1: 0.5) }
        assertEqual(steps[0], [0.4, -1.6, 1.9], accuracy: 1e-6)
        assertEqual(steps[1], [0.30312023, -1.7015502, 1.8025491], accuracy: 1e-6)
    }

    /// 37 elements: two 16-lane SIMD blocks and a scalar tail, against the textbook formula.
    func testAdamVectorisedUpdateMatchesTheFormula() {
        final class Weights: Module { let w = Parameter(randomTensor([37], seed: 70)) }
        let model = Weights()
        let adam = Adam(for: model, learningRate: 0.01, beta1: 0.5, weightDecay: 0.1)
        var w = model.w.value.scalars.map(Double.init), m = [Double](repeating: 0, count: 37), v = m
        for step in 1...3 {
            let g = randomTensor([37], seed: UInt64(80 + step))
            model.w.value.sum().backward()  // gradient of ones …
            model.w.zeroGradient()
            (model.w.value * g).sum().backward()  // … replaced by g
            adam.update()
            for i in 0..<37 {
                let gi = Double(g.scalars[i]) + 0.1 * w[i]
                m[i] = 0.5 * m[i] + 0.5 * gi
                v[i] = 0.999 * v[i] + 0.001 * gi * gi
                w[i] -=
                    0.01 * (m[i] / (1 - pow(0.5, Double(step))))
                    / ((v[i] / (1 - pow(0.999, Double(step)))).squareRoot() + 1e-8)
            }
        }
        for (a, b) in zip(model.w.value.scalars, w) { XCTAssertEqual(Double(a), b, accuracy: 1e-5) }
    }

    func testAdamWMatchesPyTorch() {
        let steps = run { Adam(for: $0, learningRate: 0.1, weightDecay: 0.1, decoupledWeightDecay: true) }
        assertEqual(steps[1], [0.29188657, -1.6692817, 1.7619891], accuracy: 1e-6)
    }

    func testNesterovSGDMatchesPyTorch() {
        let steps = run { SGD(for: $0, learningRate: 0.1, momentum: 0.9, nesterov: true) }
        assertEqual(steps[0], [0.16749999, -3.1625001, 0.28999993], accuracy: 1e-5)
        assertEqual(steps[1], [-0.18024208, -9.9520521, 0.083063044], accuracy: 1e-4)
    }

    func testOptimizerStateRoundTripsAndContinuesIdentically() throws {
        let a = Cubic(), b = Cubic()
        let optA = Adam(for: a, learningRate: 0.05), optB = Adam(for: b, learningRate: 0.05)
        a.loss().backward(); optA.update()
        b.w.value = a.w.value
        try optB.loadState(optA.stateTensors(), step: optA.step)
        XCTAssertEqual(Set(optA.stateTensors().keys), ["w.m", "w.v", "w.step"])
        a.loss().backward(); optA.update()
        b.loss().backward(); optB.update()
        XCTAssertEqual(a.w.value.scalars, b.w.value.scalars)
        XCTAssertThrowsError(try optB.loadState(["w.m": .zeros([2])], step: 1)) { error in
            XCTAssertTrue("\(error)".contains("w.m"))
        }
    }

    func testLearningRateCanChangeBetweenSteps() {
        let model = Cubic()
        let sgd = SGD(for: model, learningRate: 0)
        model.loss().backward(); sgd.update()
        XCTAssertEqual(model.w.value.scalars, [0.5, -1.5, 2])
        sgd.learningRate = 0.1
        model.loss().backward(); sgd.update()
        XCTAssertNotEqual(model.w.value.scalars, [0.5, -1.5, 2])
    }
}
