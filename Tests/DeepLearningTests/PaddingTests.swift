import DeepLearning
import XCTest

final class PaddingTests: XCTestCase {
    func testReflectionMatchesNumPy() {
        // np.pad(np.arange(4).reshape(1, 1, 4, 1), ((0,0),(0,0),(2,1),(0,0)), mode='reflect')[0, 0, :, 0]
        // → [2, 1, 0, 1, 2, 3, 2]
        let x = Tensor(shape: [1, 1, 4, 1], scalars: [0, 1, 2, 3])
        let y = x.padded(top: 0, bottom: 0, left: 2, right: 1, mode: .reflect)
        XCTAssertEqual(y.shape, [1, 1, 7, 1])
        XCTAssertEqual(y.scalars, [2, 1, 0, 1, 2, 3, 2])
        XCTAssertEqual(x.padded(top: 1, bottom: 0, left: 0, right: 1).scalars, [0, 0, 0, 0, 0, 0, 1, 2, 3, 0])
    }

    func testPaddingGradients() {
        checkGradients(
            of: { $0[0].padded(top: 2, bottom: 1, left: 1, right: 2, mode: .reflect) },
            at: [randomTensor([2, 3, 4, 2], seed: 21)])
        checkGradients(
            of: { $0[0].padded(top: 1, bottom: 2, left: 0, right: 1, mode: .zeros) },
            at: [randomTensor([1, 2, 3, 2], seed: 22)])
    }

    func testReflectionPadLayer() {
        XCTAssertEqual(ReflectionPad2D(3)(Tensor.zeros([1, 8, 8, 2])).shape, [1, 14, 14, 2])
    }
}
