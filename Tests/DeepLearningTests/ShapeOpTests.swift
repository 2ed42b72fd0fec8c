@testable import DeepLearning
import XCTest

/// reshape, permute/transpose, slice, broadcast and concatenate: NumPy's values and gradients.
final class ShapeOpTests: XCTestCase {
    // x = ((np.arange(24) * 7) % 11 - 5).astype(np.float32).reshape(2, 3, 4)
    let x = Tensor(
        shape: [2, 3, 4],
        scalars: [
            -5, 2, -2, 5, 1, -3, 4, 0, -4, 3, -1, -5,
            2, -2, 5, 1, -3, 4, 0, -4, 3, -1, -5, 2,
        ])

    func testReshapeInfersOneAxisAndSharesTheBuffer() {
        let y = x.reshaped(to: [4, -1])
        XCTAssertEqual(y.shape, [4, 6])
        XCTAssertEqual(y.scalars, x.scalars)
        XCTAssertEqual(x.reshaped(to: [-1]).shape, [24])
        XCTAssertEqual(x.reshaped(to: [2, -1, 3]).shape, [2, 4, 3])
        XCTAssertEqual(Tensor([5]).reshaped(to: []).shape, [])
        let shared = x.withUnsafeBufferPointer { $0.baseAddress } == y.withUnsafeBufferPointer { $0.baseAddress }
        XCTAssertTrue(shared, "reshape is documented O(1)")
    }

    func testPermuteAndTransposeMatchNumPy() {
        // np.transpose(x, (2, 0, 1))
        let p = x.permuted([2, 0, 1])
        XCTAssertEqual(p.shape, [4, 2, 3])
        XCTAssertEqual(
            p.scalars,
            [
                -5, 1, -4, 2, -3, 3, 2, -3, 3, -2, 4, -1,
                -2, 4, -1, 5, 0, -5, 5, 0, -5, 1, -4, 2,
            ])
        // np.swapaxes(x, -1, -2)
        let t = x.transposed()
        XCTAssertEqual(t.shape, [2, 4, 3])
        XCTAssertEqual(
            t.scalars,
            [
                -5, 1, -4, 2, -3, 3, -2, 4, -1, 5, 0, -5,
                2, -3, 3, -2, 4, -1, 5, 0, -5, 1, -4, 2,
            ])
        XCTAssertEqual(x.permuted([0, 1, 2]).scalars, x.scalars)
        let m = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6]).transposed()
        XCTAssertEqual(m.shape, [3, 2])
        XCTAssertEqual(m.scalars, [1, 4, 2, 5, 3, 6])
    }

    func testLargePermuteUsesTheParallelPathCorrectly() {
        // NHWC → NCHW on a tensor big enough to split across threads, checked element by element.
        let big = randomTensor([2, 40, 50, 9], seed: 4)
        let p = big.permuted([0, 3, 1, 2])
        for (n, c, h, w) in [(0, 0, 0, 0), (1, 8, 39, 49), (0, 5, 17, 3), (1, 2, 0, 48)] {
            XCTAssertEqual(p[n, c, h, w], big[n, h, w, c])
        }
        XCTAssertEqual(p.permuted([0, 2, 3, 1]).scalars, big.scalars)
    }

    func testSliceMatchesNumPy() {
        // x[:, 1:3, :]
        let s1 = x.slice(axis: 1, 1..<3)
        XCTAssertEqual(s1.shape, [2, 2, 4])
        XCTAssertEqual(s1.scalars, [1, -3, 4, 0, -4, 3, -1, -5, -3, 4, 0, -4, 3, -1, -5, 2])
        // x[..., 1:2]
        let sLast = x.slice(axis: -1, 1..<2)
        XCTAssertEqual(sLast.shape, [2, 3, 1])
        XCTAssertEqual(sLast.scalars, [2, -3, 3, -2, 4, -1])
        // x[1:2]
        let s0 = x.slice(axis: 0, 1..<2)
        XCTAssertEqual(s0.shape, [1, 3, 4])
        XCTAssertEqual(s0.scalars, [2, -2, 5, 1, -3, 4, 0, -4, 3, -1, -5, 2])
        XCTAssertEqual(x.slice(axis: 2, 2..<2).shape, [2, 3, 0])
    }

    func testBroadcastedMatchesNumPy() {
        // np.broadcast_to(np.array([[1], [2]], np.float32), (3, 2, 4))
        let b = Tensor(shape: [2, 1], scalars: [1, 2]).broadcasted(to: [3, 2, 4])
        XCTAssertEqual(b.shape, [3, 2, 4])
        XCTAssertEqual(b.scalars, [1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1, 2, 2, 2, 2])
        XCTAssertEqual(Tensor(7).broadcasted(to: [2, 2]).scalars, [7, 7, 7, 7])
    }

    func testConcatenateMatchesNumPy() throws {
        // np.concatenate([x, np.arange(100, 112, dtype=np.float32).reshape(1, 3, 4)], axis=0)
        let y = Tensor(shape: [1, 3, 4], scalars: (100..<112).map(Float.init))
        let c0 = try Tensor.concatenating([x, y], alongAxis: 0)
        XCTAssertEqual(c0.shape, [3, 3, 4])
        XCTAssertEqual(c0.scalars, x.scalars + y.scalars)
        // np.concatenate([x, np.arange(100, 108, dtype=np.float32).reshape(2, 1, 4)], axis=1)
        let z = Tensor(shape: [2, 1, 4], scalars: (100..<108).map(Float.init))
        let c1 = try Tensor.concatenating([x, z], alongAxis: 1)
        XCTAssertEqual(c1.shape, [2, 4, 4])
        XCTAssertEqual(
            c1.scalars,
            [
                -5, 2, -2, 5, 1, -3, 4, 0, -4, 3, -1, -5, 100, 101, 102, 103,
                2, -2, 5, 1, -3, 4, 0, -4, 3, -1, -5, 2, 104, 105, 106, 107,
            ])
        // np.concatenate([x, np.arange(100, 106, dtype=np.float32).reshape(2, 3, 1)], axis=-1)
        let w = Tensor(shape: [2, 3, 1], scalars: (100..<106).map(Float.init))
        let cLast = concatenate([x, w])
        XCTAssertEqual(cLast.shape, [2, 3, 5])
        XCTAssertEqual(
            cLast.scalars,
            [
                -5, 2, -2, 5, 100, 1, -3, 4, 0, 101, -4, 3, -1, -5, 102,
                2, -2, 5, 1, 103, -3, 4, 0, -4, 104, 3, -1, -5, 2, 105,
            ])
        XCTAssertEqual(concatenate([w, w, w], axis: 2).shape, [2, 3, 3])
    }

    func testConcatenatingMismatchedShapesThrowsNamingThem() {
        let a = Tensor.zeros([2, 3, 4]), b = Tensor.zeros([2, 5, 6])
        XCTAssertThrowsError(try Tensor.concatenating([a, b], alongAxis: -1)) { error in
            let message = "\(error)"
            XCTAssertTrue(error is ShapeError)
            XCTAssertTrue(message.contains("[2, 3, 4]"), message)
            XCTAssertTrue(message.contains("[2, 5, 6]"), message)
        }
        XCTAssertThrowsError(try Tensor.concatenating([a, Tensor.zeros([2, 3])], alongAxis: 0)) { error in
            XCTAssertTrue("\(error)".contains("[2, 3, 4]") && "\(error)".contains("[2, 3]"), "\(error)")
        }
        XCTAssertThrowsError(try Tensor.concatenating([], alongAxis: 0))
    }

    // MARK: Gradients

    func testGradientsOfReshapeAndPermute() {
        let input = randomTensor([2, 3, 4], seed: 21)
        checkGradients(of: { $0[0].reshaped(to: [4, 6]) }, at: [input])
        checkGradients(of: { $0[0].reshaped(to: [-1, 2]) }, at: [input])
        checkGradients(of: { $0[0].permuted([2, 0, 1]) }, at: [input])
        checkGradients(of: { $0[0].permuted([1, 2, 0]) }, at: [input])
        checkGradients(of: { $0[0].transposed() }, at: [input])
        checkGradients(of: { $0[0].reshaped(to: [6, 4]).transposed() }, at: [input])
    }

    func testGradientsOfSliceAndBroadcast() {
        let input = randomTensor([2, 3, 4], seed: 22)
        checkGradients(of: { $0[0].slice(axis: 0, 1..<2) }, at: [input])
        checkGradients(of: { $0[0].slice(axis: 1, 1..<3) }, at: [input])
        checkGradients(of: { $0[0].slice(axis: -1, 0..<3) }, at: [input])
        checkGradients(of: { $0[0].broadcasted(to: [3, 2, 3, 4]) }, at: [input])
        checkGradients(of: { $0[0].broadcasted(to: [2, 3, 5]) }, at: [randomTensor([2, 3, 1], seed: 23)])
        checkGradients(of: { $0[0].broadcasted(to: [2, 3]) }, at: [randomTensor([], seed: 24)])
    }

    func testGradientsOfConcatenate() {
        let a = randomTensor([2, 3, 2], seed: 25)
        checkGradients(of: { concatenate($0, axis: 0) }, at: [a, randomTensor([1, 3, 2], seed: 26)])
        checkGradients(of: { concatenate($0, axis: 1) }, at: [a, randomTensor([2, 1, 2], seed: 27)])
        checkGradients(
            of: { concatenate($0) }, at: [a, randomTensor([2, 3, 3], seed: 28), randomTensor([2, 3, 1], seed: 29)])
    }

    func testConcatenateWithActivationEqualsActivationOfConcatenate() {
        var generator = SeededGenerator(seed: 60)
        // 19 + 16 channels: vector blocks and scalar tails; axis 0 and the channel axis.
        let a = Parameter(Tensor.randomUniform([2, 3, 3, 19], lowerBound: -1, upperBound: 1, generator: &generator))
        let b = Parameter(Tensor.randomUniform([2, 3, 3, 16], lowerBound: -1, upperBound: 1, generator: &generator))
        for activation: Activation in [.relu, .leakyReLU(slope: 0.2), .tanh, .leakyReLU(slope: -1), .identity] {
            for (axis, second) in [(-1, b), (0, a)] {
                let seed = Tensor.randomUniform(
                    concatenate([a.value, second.value], axis: axis).shape, lowerBound: -1, upperBound: 1,
                    generator: &generator)
                func run(_ fused: Bool) -> (Tensor, Tensor, Tensor) {
                    a.zeroGradient(); b.zeroGradient()
                    let y =
                        fused
                        ? concatenate([a.value, second.value], axis: axis, activation: activation)
                        : activation(concatenate([a.value, second.value], axis: axis))
                    y.backward(seed: seed)
                    return (y.detached(), a.gradient!, (second === a ? a : b).gradient!)
                }
                let separate = run(false), fused = run(true)
                XCTAssertEqual(fused.0.scalars, separate.0.scalars, "\(activation) axis \(axis)")
                XCTAssertEqual(fused.1.scalars, separate.1.scalars, "\(activation) axis \(axis)")
                XCTAssertEqual(fused.2.scalars, separate.2.scalars, "\(activation) axis \(axis)")
            }
        }
    }

    func testConcatenateWithAConstantGivesGradientOnlyToTheParameter() {
        let p = Parameter(Tensor([1, 2]))
        let y = concatenate([Tensor([9, 9, 9]), p.value], axis: 0)
        (y * Tensor([1, 2, 3, 4, 5])).sum().backward()
        XCTAssertEqual(p.gradient?.scalars, [4, 5])
    }
}
