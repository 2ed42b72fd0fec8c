import DeepLearning
import Imaging
import XCTest

final class TransformsTests: XCTestCase {
    /// [3, 4, 2]: pixel (y, x) = (10y + x, −(10y + x)).
    static let image: Tensor = {
        var scalars: [Float] = []
        for y in 0..<3 { for x in 0..<4 { scalars += [Float(10 * y + x), -Float(10 * y + x)] } }
        return Tensor(shape: [3, 4, 2], scalars: scalars)
    }()

    func testCrop() {
        let window = crop(Self.image, top: 1, left: 2, height: 2, width: 2)
        XCTAssertEqual(window.shape, [2, 2, 2])
        XCTAssertEqual(window.scalars, [12, -12, 13, -13, 22, -22, 23, -23])
        let batch = Tensor(shape: [2, 3, 4, 2], scalars: Self.image.scalars + (Self.image * 2).scalars)
        XCTAssertEqual(crop(batch, top: 2, left: 0, height: 1, width: 1).scalars, [20, -20, 40, -40])
    }

    func testMirrored() {
        let flipped = mirrored(Self.image)
        XCTAssertEqual(flipped.shape, [3, 4, 2])
        XCTAssertEqual(Array(flipped.scalars.prefix(8)), [3, -3, 2, -2, 1, -1, 0, -0])
        XCTAssertEqual(mirrored(flipped).scalars, Self.image.scalars)
    }

    func testUnitRange() {
        let pixels = Tensor([0, 127.5, 255])
        XCTAssertEqual(toUnitRange(pixels).scalars, [-1, 0, 1])
        XCTAssertEqual(fromUnitRange(Tensor([-1, 0, 1])).scalars, [0, 127.5, 255])
    }

    func testImageGrid() {
        let a = Tensor(shape: [1, 1, 1], scalars: [1])
        let b = Tensor(shape: [2, 1, 1], scalars: [2, 3])
        let c = Tensor(shape: [1, 2, 1], scalars: [4, 5])
        // Row heights [2, 1], column widths [2, 1]; padding 1 → (1+2+1+1+1) × (1+2+1+1+1).
        let grid = imageGrid([[a, b], [c]], padding: 1, background: 0)
        XCTAssertEqual(grid.shape, [6, 6, 1])
        XCTAssertEqual(
            grid.scalars,
            [
                0, 0, 0, 0, 0, 0,
                0, 1, 0, 0, 2, 0,  // b starts at column padding + 2 (widest in column 0) + padding = 4
                0, 0, 0, 0, 3, 0,
                0, 0, 0, 0, 0, 0,
                0, 4, 5, 0, 0, 0,
                0, 0, 0, 0, 0, 0,
            ])
    }
}
