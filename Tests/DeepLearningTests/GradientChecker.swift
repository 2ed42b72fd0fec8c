import DeepLearning
import XCTest

/// Numerical gradient checking by central differences.
///
/// `f` maps the inputs to a tensor; the checked scalar is `sum(f(inputs) * probe)` with a
/// fixed random `probe`, so every output element's gradient is exercised (not just their
/// sum). Differences are evaluated in Float32 but the step and tolerance are chosen for it:
/// each input is perturbed by ±`step` and the difference quotient compared with the analytic
/// gradient from `backward()` at `|a − n| ≤ absoluteTolerance + relativeTolerance·|n|`.
func checkGradients(
    of f: ([Tensor]) -> Tensor, at inputs: [Tensor], step: Float = 1e-2,
    absoluteTolerance: Float = 2e-3, relativeTolerance: Float = 2e-2, seed: UInt64 = 99,
    file: StaticString = #filePath, line: UInt = #line
) {
    var generator = SeededGenerator(seed: seed)
    let parameters = inputs.map { Parameter($0) }
    let output = f(parameters.map(\.value))
    let probe = Tensor.randomUniform(output.shape, lowerBound: -1, upperBound: 1, generator: &generator)
    (output * probe).sum().backward()
    // Accumulate the scalar objective in Double to keep the finite difference clean.
    func objective(_ values: [Tensor]) -> Double {
        let y = withoutGradient { f(values) }
        return zip(y.scalars, probe.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    }
    for (index, input) in inputs.enumerated() {
        let analytic = parameters[index].gradient?.scalars ?? [Float](repeating: 0, count: input.count)
        var worst: (Float, Int, Float, Float) = (0, -1, 0, 0)
        for element in 0..<input.count {
            var plus = inputs, minus = inputs
            plus[index] = perturbed(input, element, step)
            minus[index] = perturbed(input, element, -step)
            let numeric = Float((objective(plus) - objective(minus)) / (2 * Double(step)))
            let error = abs(analytic[element] - numeric) - relativeTolerance * abs(numeric)
            if error > worst.0 { worst = (error, element, analytic[element], numeric) }
        }
        XCTAssertLessThanOrEqual(
            worst.0, absoluteTolerance,
            "input \(index) \(input.shape): element \(worst.1) analytic \(worst.2) vs numeric \(worst.3)",
            file: file, line: line)
    }
}

private func perturbed(_ tensor: Tensor, _ element: Int, _ delta: Float) -> Tensor {
    var copy = tensor
    copy.withUnsafeMutableBufferPointer { $0[element] += delta }
    return copy
}

/// A reproducible tensor with elements in [-1, 1).
func randomTensor(_ shape: [Int], seed: UInt64 = 1, lower: Float = -1, upper: Float = 1) -> Tensor {
    var generator = SeededGenerator(seed: seed)
    return .randomUniform(shape, lowerBound: lower, upperBound: upper, generator: &generator)
}

/// Fails unless `actual` matches `expected` elementwise within `tolerance`, reporting the worst element.
func assertClose(
    _ actual: Tensor, _ expected: Tensor, tolerance: Float = 1e-4, _ message: String = "",
    file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertEqual(actual.shape, expected.shape, "shape \(message)", file: file, line: line)
    guard actual.shape == expected.shape else { return }
    let difference = actual.maxAbsoluteDifference(to: expected)
    XCTAssertLessThanOrEqual(difference, tolerance, "max |Δ| \(message)", file: file, line: line)
}
