import DeepLearning
import XCTest

/// Checks an op's second derivative numerically, as `checkGradients` checks its first.
///
/// With the scalar `L = sum(f(inputs) * probe)` (a fixed random probe) and random directions v
/// (one per input), the Hessian-vector product H·v comes from a recorded pass: the gradients
/// of L with `createGraph: true`, then the gradient of Σ⟨∇L, v⟩. It is compared with the central
/// difference of the first-order gradient along v, (∇L(x + εv) − ∇L(x − εv)) / 2ε, at
/// `|a − n| ≤ absoluteTolerance + relativeTolerance·max|n|` per input. The recorded pass's
/// first-order gradients must also equal the plain pass's.
func checkSecondOrder(
    of f: ([Tensor]) -> Tensor, at inputs: [Tensor], step: Float = 1e-2,
    absoluteTolerance: Float = 1e-3, relativeTolerance: Float = 2e-2, seed: UInt64 = 7,
    file: StaticString = #filePath, line: UInt = #line
) {
    var generator = SeededGenerator(seed: seed)
    let probe = Tensor.randomUniform(
        withoutGradient { f(inputs) }.shape, lowerBound: -1, upperBound: 1, generator: &generator)
    let directions = inputs.map {
        Tensor.randomUniform($0.shape, lowerBound: -1, upperBound: 1, generator: &generator)
    }
    func firstOrder(_ values: [Tensor], createGraph: Bool) -> (leaves: [Tensor], gradients: [Tensor]) {
        let leaves = values.map { $0.requiringGradient() }
        let objective = (f(leaves) * probe).sum()
        let result = try! gradients(
            of: objective, withRespectTo: leaves, createGraph: createGraph, allowUnused: true)
        return (leaves, result)
    }
    let (leaves, recorded) = firstOrder(inputs, createGraph: true)
    let plain = firstOrder(inputs, createGraph: false).gradients
    for index in inputs.indices {
        let scale = max(1, plain[index].scalars.map(abs).max() ?? 0)
        assertClose(
            recorded[index], plain[index], tolerance: 1e-5 * scale, "recorded first-order gradient of input \(index)",
            file: file, line: line)
    }
    var directional = Tensor(0)
    for (gradient, direction) in zip(recorded, directions) { directional = directional + (gradient * direction).sum() }
    let hessianVector = try! gradients(of: directional, withRespectTo: leaves, allowUnused: true)
    let plus = firstOrder(zip(inputs, directions).map { $0 + $1 * step }, createGraph: false).gradients
    let minus = firstOrder(zip(inputs, directions).map { $0 - $1 * step }, createGraph: false).gradients
    for index in inputs.indices {
        let numeric = ((plus[index] - minus[index]) / (2 * step)).scalars
        let analytic = hessianVector[index].scalars
        let scale = numeric.map(abs).max() ?? 0
        var worst: (error: Float, element: Int) = (0, -1)
        for element in numeric.indices {
            let error = abs(analytic[element] - numeric[element])
            if error > worst.error { worst = (error, element) }
        }
        XCTAssertLessThanOrEqual(
            worst.error, absoluteTolerance + relativeTolerance * scale,
            "input \(index) \(inputs[index].shape): H·v element \(worst.element) analytic \(worst.element >= 0 ? analytic[worst.element] : 0) vs numeric \(worst.element >= 0 ? numeric[worst.element] : 0) (max |numeric| \(scale))",
            file: file, line: line)
    }
}
