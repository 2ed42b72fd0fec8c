@testable import DeepLearning
import XCTest

/// Tensor storage, creation, inspection and seeded randomness.
final class TensorTests: XCTestCase {
    private func address(_ t: Tensor) -> UnsafePointer<Float>? {
        t.withUnsafeBufferPointer { $0.baseAddress }
    }

    func testCreationAndShapeQueries() {
        let t = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(t.shape, [2, 3])
        XCTAssertEqual(t.rank, 2)
        XCTAssertEqual(t.count, 6)
        XCTAssertEqual(Tensor(shape: [2, 2], repeating: 7).scalars, [7, 7, 7, 7])
        XCTAssertEqual(Tensor.zeros([3]).scalars, [0, 0, 0])
        XCTAssertEqual(Tensor.ones([1, 2]).scalars, [1, 1])
        XCTAssertEqual(Tensor([1, 2]).shape, [2])
        let scalar = Tensor(2.5)
        XCTAssertEqual(scalar.shape, [])
        XCTAssertEqual(scalar.rank, 0)
        XCTAssertEqual(scalar.count, 1)
        XCTAssertEqual(scalar.scalar, 2.5)
        XCTAssertEqual(scalar[], 2.5)
    }

    func testEmptyTensors() {
        XCTAssertEqual(Tensor([]).count, 0)
        XCTAssertEqual(Tensor(shape: [0, 3], scalars: []).shape, [0, 3])
        XCTAssertEqual(Tensor.zeros([2, 0]).scalars, [])
    }

    func testSubscriptIsRowMajor() {
        let t = Tensor(shape: [2, 3, 4], scalars: (0..<24).map(Float.init))
        XCTAssertEqual(t[0, 0, 0], 0)
        XCTAssertEqual(t[0, 1, 2], 6)
        XCTAssertEqual(t[1, 2, 3], 23)
        XCTAssertEqual(t[1, 0, 1], 13)
    }

    func testCopyOnWriteLeavesTheOriginalUnchanged() {
        let original = Tensor([1, 2, 3])
        var copy = original
        XCTAssertEqual(address(copy), address(original), "assignment shares the buffer")
        copy.withUnsafeMutableBufferPointer { $0[0] = 9 }
        XCTAssertEqual(original.scalars, [1, 2, 3])
        XCTAssertEqual(copy.scalars, [9, 2, 3])
        XCTAssertNotEqual(address(copy), address(original))
    }

    func testUniqueBufferIsMutatedInPlace() {
        var t = Tensor.zeros([4])
        let before = address(t)
        t.withUnsafeMutableBufferPointer { $0[1] = 5 }
        XCTAssertEqual(address(t), before)
        XCTAssertEqual(t.scalars, [0, 5, 0, 0])
    }

    func testParameterUpdateIsInPlaceAndLeavesOldValuesAlone() {
        let p = Parameter(Tensor([1, 2]))
        let before = address(p.value)
        p.update { $0[0] = 10 }
        XCTAssertEqual(address(p.value), before, "a parameter nobody else holds is updated in place")
        let snapshot = p.value
        p.update { $0[1] = 20 }
        XCTAssertEqual(snapshot.scalars, [10, 2], "a value read before the update keeps its elements")
        XCTAssertEqual(p.value.scalars, [10, 20])
    }

    func testMutableAccessDropsTheGraphNode() {
        var y = Parameter(Tensor([1, 2])).value * 2
        XCTAssertTrue(y.requiresGradient)
        y.withUnsafeMutableBufferPointer { _ in }
        XCTAssertFalse(y.requiresGradient)
        XCTAssertFalse((Parameter(Tensor([1])).value * 2).detached().requiresGradient)
    }

    func testBackwardFreesTheGraph() {
        let x = Parameter(Tensor([1, 2]))
        let hidden = x.value * 3
        let loss = hidden.sum()
        loss.backward()
        XCTAssertEqual(x.gradient?.scalars, [3, 3])
        // Saved tensors and pullbacks are released as the walk passes (retain_graph=False);
        // a second backward through them is a precondition failure, not a silent zero.
        XCTAssertEqual(loss.node?.consumed, true)
        XCTAssertEqual(hidden.node?.consumed, true)
    }

    func testSeededRandomnessIsReproducible() {
        var g1 = SeededGenerator(seed: 42), g2 = SeededGenerator(seed: 42), g3 = SeededGenerator(seed: 43)
        let a = Tensor.randomNormal([16], generator: &g1)
        let b = Tensor.randomNormal([16], generator: &g2)
        let c = Tensor.randomNormal([16], generator: &g3)
        XCTAssertEqual(a.scalars, b.scalars)
        XCTAssertNotEqual(a.scalars, c.scalars)
        // The stream continues: the next draw differs from the first.
        XCTAssertNotEqual(Tensor.randomNormal([16], generator: &g1).scalars, a.scalars)
        var u1 = SeededGenerator(seed: 7), u2 = SeededGenerator(seed: 7)
        XCTAssertEqual(
            Tensor.randomUniform([8], generator: &u1).scalars, Tensor.randomUniform([8], generator: &u2).scalars)
    }

    func testGeneratorStateRoundTripsThroughCodable() throws {
        var generator = SeededGenerator(seed: 5)
        _ = generator.next()
        let decoded = try JSONDecoder().decode(SeededGenerator.self, from: JSONEncoder().encode(generator))
        XCTAssertEqual(decoded, generator)
        var copy = decoded
        XCTAssertEqual(copy.next(), generator.next())
    }

    func testRandomNormalHasTheRequestedMeanAndDeviation() {
        var generator = SeededGenerator(seed: 1)
        let samples = Tensor.randomNormal([20_000], mean: 3, standardDeviation: 2, generator: &generator).scalars
        let mean = samples.reduce(0, +) / Float(samples.count)
        let variance = samples.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(samples.count)
        // Standard errors: 2/√20000 ≈ 0.014 for the mean, ≈ 0.01 for the deviation.
        XCTAssertEqual(mean, 3, accuracy: 0.06)
        XCTAssertEqual(variance.squareRoot(), 2, accuracy: 0.05)
        XCTAssertTrue(samples.allSatisfy(\.isFinite))
    }

    func testRandomUniformStaysInBounds() {
        var generator = SeededGenerator(seed: 2)
        let samples = Tensor.randomUniform([10_000], lowerBound: -3, upperBound: 5, generator: &generator).scalars
        XCTAssertTrue(samples.allSatisfy { $0 >= -3 && $0 < 5 })
        XCTAssertEqual(samples.reduce(0, +) / Float(samples.count), 1, accuracy: 0.1)
    }

    func testDescription() {
        XCTAssertEqual(
            Tensor(shape: [2, 2], scalars: [1, 2.5, -3, 0]).description,
            "Tensor(shape: [2, 2], [1, 2.5, -3, 0])")
        XCTAssertEqual(Tensor(1).description, "Tensor(shape: [], [1])")
        let long = Tensor.zeros([20]).description
        XCTAssertTrue(long.hasSuffix(", 0, …])"), long)
        XCTAssertEqual(describeShape([2, 3, 4]), "[2, 3, 4]")
    }

    func testComparisonHelpers() {
        let a = Tensor([1, 2, 3])
        XCTAssertTrue(a.isClose(to: Tensor([1, 2, 3.000001])))
        XCTAssertFalse(a.isClose(to: Tensor([1, 2, 3.1])))
        XCTAssertFalse(a.isClose(to: Tensor(shape: [3, 1], scalars: [1, 2, 3])))
        XCTAssertEqual(a.maxAbsoluteDifference(to: Tensor([1, 2.5, 2])), 1)
        XCTAssertTrue(a.isFinite)
        XCTAssertFalse(Tensor([1, .nan]).isFinite)
        XCTAssertFalse(Tensor([.infinity]).isFinite)
        // The vector scan: every position class (first, SIMD body, later chunk, scalar tail).
        let count = 200_003
        XCTAssertTrue(Tensor(shape: [count], repeating: .greatestFiniteMagnitude).isFinite)
        XCTAssertTrue(Tensor(shape: [count], repeating: -.leastNonzeroMagnitude).isFinite)
        for position in [0, 17, 65_535, 65_536, 150_000, count - 1] {
            for bad: Float in [.nan, .infinity, -.infinity, -.nan] {
                var scalars = [Float](repeating: 1, count: count)
                scalars[position] = bad
                XCTAssertFalse(Tensor(shape: [count], scalars: scalars).isFinite, "\(bad) at \(position)")
            }
        }
        XCTAssertTrue(Tensor([1, .nan]).maxAbsoluteDifference(to: Tensor([1, 1])).isNaN)
    }
}
