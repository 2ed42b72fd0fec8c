import DeepLearning
import XCTest

/// `gradient(at:of:)`, `valueWithGradient`, `valueWithPullback`, `jacobian` and
/// `Module.valueWithGradient(of:)` against hand-derived results.
final class FunctionalDifferentiationTests: XCTestCase {
    func testGradientAndValueOfScalarFunctions() throws {
        XCTAssertEqual(try gradient(at: Tensor([1, 2, 3])) { x in (x * x).sum() }.scalars, [2, 4, 6])
        let (value, slope) = try valueWithGradient(at: Tensor([0.5, -1])) { x in (x.exp() * 2).sum() }
        XCTAssertEqual(value.scalar, 2 * (Foundation.exp(0.5) + Foundation.exp(-1)), accuracy: 1e-5)
        XCTAssertEqual(slope.scalars[0], 2 * Foundation.exp(0.5), accuracy: 1e-5)
        XCTAssertFalse(value.requiresGradient, "the value comes back detached")
        // Two arguments: f(a, b) = Σ a·b² → (b², 2ab).
        let (_, (da, db)) = try valueWithGradient(at: Tensor([1, 2]), Tensor([3, 4])) { a, b in (a * b * b).sum() }
        XCTAssertEqual(da.scalars, [9, 16])
        XCTAssertEqual(db.scalars, [6, 16])
        // An argument f ignores gets zeros.
        let (_, all) = try valueWithGradient(at: [Tensor([1]), Tensor([5, 6])]) { xs in xs[0].sum() * 3 }
        XCTAssertEqual(all[1].scalars, [0, 0])
        XCTAssertThrowsError(try gradient(at: Tensor([1, 2])) { $0 * 2 }, "a non-scalar result needs a seed")
    }

    func testPullbackAndJacobianOfAVectorFunction() throws {
        // f(x) = [x0·x1, x0 + 2·x1, sin x0]; J = [[x1, x0], [1, 2], [cos x0, 0]].
        func f(_ x: Tensor) -> Tensor {
            let (x0, x1) = (x.slice(axis: 0, 0..<1), x.slice(axis: 0, 1..<2))
            return concatenate([x0 * x1, x0 + x1 * 2, x0.sin()], axis: 0)
        }
        let x = Tensor([0.5, 3])
        let (value, pullback) = valueWithPullback(at: x, of: f)
        XCTAssertEqual(value.shape, [3])
        let vjp = try pullback(Tensor([1, 1, 1]))
        XCTAssertEqual(vjp.scalars[0], 3 + 1 + Foundation.cos(0.5), accuracy: 1e-6)
        XCTAssertEqual(vjp.scalars[1], 0.5 + 2, accuracy: 1e-6)
        let jacobian = try jacobian(at: x, of: f)
        XCTAssertEqual(jacobian.shape, [3, 2])
        let expected: [Float] = [3, 0.5, 1, 2, Foundation.cos(0.5), 0]
        for (actual, wanted) in zip(jacobian.scalars, expected) { XCTAssertEqual(actual, wanted, accuracy: 1e-6) }
    }

    func testAModelsGradientsByNameMatchBackwardAndLeaveParametersAlone() throws {
        RandomState.seed(11)
        let model = Sequential(Linear(3, 4), ReLU(), Linear(4, 2))
        let x = randomTensor([5, 3], seed: 12)
        let (loss, named) = try model.valueWithGradient { meanSquaredError(model(x), Tensor.zeros([5, 2])) }
        XCTAssertEqual(named.map(\.name), model.namedParameters.map(\.name))
        XCTAssertTrue(model.parameters.allSatisfy { $0.gradient == nil })
        let reference = meanSquaredError(model(x), Tensor.zeros([5, 2]))
        reference.backward()
        XCTAssertEqual(loss.scalar, reference.scalar, accuracy: 1e-7)
        for ((name, gradient), (_, parameter)) in zip(named, model.namedParameters) {
            XCTAssertLessThan(gradient.maxAbsoluteDifference(to: parameter.gradient!), 1e-6, name)
        }
    }

    func testTransformsNestLikeGradOfGrad() throws {
        let x = Tensor([0.5, -1, 2])
        // d/dx Σ d/dx x³ = d/dx Σ 3x² = 6x
        let second = try gradient(at: x) { x in try gradient(at: x) { ($0 * $0 * $0).sum() }.sum() }
        for (actual, value) in zip(second.scalars, x.scalars) { XCTAssertEqual(actual, 6 * value, accuracy: 1e-5) }
        // Third order: d/dx Σ d/dx Σ d/dx Σ x⁴ = 24x
        let third = try gradient(at: x) { x in
            try gradient(at: x) { x in try gradient(at: x) { $0.pow(4).sum() }.sum() }.sum()
        }
        for (actual, value) in zip(third.scalars, x.scalars) { XCTAssertEqual(actual, 24 * value, accuracy: 1e-4) }
    }

    func testHessianVectorProductAndForwardModeProduct() throws {
        let x = Tensor([0.3, -0.7, 1.1]), v = Tensor([1, 2, -1])
        // f = Σ sin(x)·x²: ∂²f/∂x² = (2 − x²)·sin x + 4x·cos x on the diagonal.
        let hv = try hessianVectorProduct(at: x, along: v) { ($0.sin() * $0 * $0).sum() }
        for i in 0..<3 {
            let (xi, vi) = (x.scalars[i], v.scalars[i])
            XCTAssertEqual(
                hv.scalars[i], ((2 - xi * xi) * Foundation.sin(xi) + 4 * xi * Foundation.cos(xi)) * vi, accuracy: 1e-5)
        }
        // g(x) = [x0·x1, tanh(x2)]: J·v = [v0·x1 + x0·v1, (1 − tanh²x2)·v2].
        let (value, jvp) = try valueWithDifferential(at: x, along: v) { x in
            concatenate([x.slice(axis: 0, 0..<1) * x.slice(axis: 0, 1..<2), x.slice(axis: 0, 2..<3).tanh()], axis: 0)
        }
        XCTAssertEqual(value.scalars[0], 0.3 * -0.7, accuracy: 1e-6)
        XCTAssertEqual(jvp.scalars[0], 1 * -0.7 + 0.3 * 2, accuracy: 1e-6)
        let t = Foundation.tanh(Float(1.1))
        XCTAssertEqual(jvp.scalars[1], (1 - t * t) * -1, accuracy: 1e-5)
    }

    func testAModelsGradientsCanBePenalisedThroughCreateGraph() throws {
        RandomState.seed(13)
        let model = Sequential(Linear(3, 4), Tanh(), Linear(4, 1))
        let x = randomTensor([5, 3], seed: 14)
        // Σ‖∂loss/∂θ‖², differentiated w.r.t. θ, against central differences along a direction.
        func penalty() throws -> Tensor {
            let (_, named) = try model.valueWithGradient(createGraph: true) { model(x).squared().mean() }
            return named.map { $0.gradient.squared().sum() }.reduce(Tensor(0), +)
        }
        let value = try penalty()
        let leaves = model.parameters.map(\.value)
        let analytic = try gradients(of: value, withRespectTo: leaves)
        let direction = model.parameters.map { randomTensor($0.shape, seed: 15) }
        let step: Float = 1e-2
        func shifted(_ sign: Float) throws -> Float {
            for (parameter, d) in zip(model.parameters, direction) {
                parameter.value = parameter.value.detached() + d * (sign * step)
            }
            defer {
                for (parameter, d) in zip(model.parameters, direction) {
                    parameter.value = parameter.value.detached() - d * (sign * step)
                }
            }
            return try penalty().scalar
        }
        let numeric = (try shifted(1) - shifted(-1)) / (2 * step)
        let directional = zip(analytic, direction).reduce(Float(0)) { $0 + ($1.0 * $1.1).sum().scalar }
        XCTAssertEqual(directional, numeric, accuracy: 2e-2 * max(1, abs(numeric)))
    }
}
