import DeepLearning
import XCTest

// Preconditions (not testable in-process; each message names the shapes and values): rank ≠ 4;
// H or W = 0; a scale or output size ≤ 0; pixelShuffle's channels not divisible by r²;
// pixelUnshuffle's height or width not divisible by r; r ≤ 0.
final class UpsamplingTests: XCTestCase {
    /// Backpropagates `sum(f(x))`; returns ∂x.
    private func gradientOfSum(_ x: Tensor, _ f: (Tensor) -> Tensor) -> Tensor {
        let parameter = Parameter(x)
        f(parameter.value).sum().backward()
        return parameter.gradient ?? .zeros(x.shape)
    }

    // MARK: Nearest

    func testNearestByTwoRepeatsEachPixelTwoByTwo() {
        let x = Tensor(shape: [1, 2, 2, 1], scalars: [1, 2, 3, 4])
        let y = upsampleNearest2D(x, scale: 2)
        XCTAssertEqual(y.shape, [1, 4, 4, 1])
        XCTAssertEqual(y.scalars, [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4])
        XCTAssertEqual(gradientOfSum(x) { upsampleNearest2D($0, scale: 2) }.scalars, [4, 4, 4, 4])
    }

    func testNearestToAnySizeReadsFloorOfScaledIndexLikePyTorch() {
        // torch: F.interpolate([10, 20, 30], size=7, mode="nearest") → [10, 10, 10, 20, 20, 30, 30];
        // size=2 → [10, 20].
        let x = Tensor(shape: [1, 1, 3, 1], scalars: [10, 20, 30])
        XCTAssertEqual(upsampleNearest2D(x, size: (1, 7)).scalars, [10, 10, 10, 20, 20, 30, 30])
        XCTAssertEqual(upsampleNearest2D(x, size: (1, 2)).scalars, [10, 20])
        XCTAssertEqual(gradientOfSum(x) { upsampleNearest2D($0, size: (1, 7)) }.scalars, [3, 2, 2])
        XCTAssertEqual(gradientOfSum(x) { upsampleNearest2D($0, size: (1, 2)) }.scalars, [1, 1, 0])
    }

    func testNearestNonSquareScaleShapes() {
        XCTAssertEqual(upsampleNearest2D(.zeros([2, 3, 4, 5]), scale: (3, 2)).shape, [2, 9, 8, 5])
        XCTAssertEqual(upsampleNearest2D(.zeros([0, 3, 4, 5]), scale: 2).shape, [0, 6, 8, 5])
    }

    // MARK: Bilinear

    func testBilinearByTwoUsesHalfPixelCentresClampedAtTheBorder() {
        // torch: F.interpolate([[0, 1]], scale_factor=2, mode="bilinear", align_corners=False)
        // → [0, 0.25, 0.75, 1] in every row.
        let x = Tensor(shape: [1, 1, 2, 1], scalars: [0, 1])
        XCTAssertEqual(upsampleBilinear2D(x, scale: 2).scalars, [0, 0.25, 0.75, 1, 0, 0.25, 0.75, 1])
    }

    func testBilinearToOddSizeMatchesPyTorchValuesAndAdjoint() {
        // torch: F.interpolate([0, 4, 8], size=5, mode="bilinear") → [0, 1.6, 4, 6.4, 8];
        // the gradient of the sum → [1.6, 1.8, 1.6].
        let x = Tensor(shape: [1, 1, 3, 1], scalars: [0, 4, 8])
        assertClose(
            upsampleBilinear2D(x, size: (1, 5)), Tensor(shape: [1, 1, 5, 1], scalars: [0, 1.6, 4, 6.4, 8]),
            tolerance: 1e-6)
        assertClose(
            gradientOfSum(x) { upsampleBilinear2D($0, size: (1, 5)) },
            Tensor(shape: [1, 1, 3, 1], scalars: [1.6, 1.8, 1.6]),
            tolerance: 1e-6)
    }

    func testBilinearKeepsConstantImagesConstantAtAnySize() {
        let x = Tensor(shape: [1, 3, 4, 2], repeating: 2.5)
        for size in [(7, 5), (3, 4), (2, 1), (9, 13)] {
            let y = upsampleBilinear2D(x, size: size)
            XCTAssertEqual(y.shape, [1, size.0, size.1, 2])
            XCTAssertLessThanOrEqual(y.maxAbsoluteDifference(to: Tensor(shape: y.shape, repeating: 2.5)), 1e-6)
        }
    }

    /// 20 channels run one 16-lane vector and a 4-channel tail; both must equal resizing each
    /// channel alone.
    func testVectorLanesMatchResizingEachChannelAlone() {
        let x = randomTensor([1, 3, 4, 20], seed: 8)
        for op in [{ upsampleBilinear2D($0, size: (5, 7)) }, { upsampleNearest2D($0, size: (5, 7)) }]
            as [(Tensor) -> Tensor]
        {
            let y = op(x), dx = gradientOfSum(x, op)
            for channel in [0, 15, 16, 19] {
                let xc = x.slice(axis: 3, channel..<(channel + 1))
                XCTAssertEqual(y.slice(axis: 3, channel..<(channel + 1)).scalars, op(xc).scalars)
                XCTAssertEqual(dx.slice(axis: 3, channel..<(channel + 1)).scalars, gradientOfSum(xc, op).scalars)
            }
        }
    }

    // MARK: Pixel shuffle

    func testPixelShuffleUsesPyTorchChannelOrder() {
        // torch: F.pixel_shuffle(torch.arange(8.).reshape(1, 8, 1, 1), 2).permute(0, 2, 3, 1).flatten()
        // → [0, 4, 1, 5, 2, 6, 3, 7]: channel c·4 + i·2 + j goes to pixel (i, j), channel c.
        let x = Tensor(shape: [1, 1, 1, 8], scalars: (0..<8).map(Float.init))
        let y = pixelShuffle(x, upscaleFactor: 2)
        XCTAssertEqual(y.shape, [1, 2, 2, 2])
        XCTAssertEqual(y.scalars, [0, 4, 1, 5, 2, 6, 3, 7])
        XCTAssertEqual(pixelUnshuffle(y, downscaleFactor: 2).scalars, x.scalars)
    }

    func testPixelUnshuffleInvertsPixelShuffle() {
        let x = randomTensor([2, 3, 2, 18], seed: 9)
        let y = pixelShuffle(x, upscaleFactor: 3)
        XCTAssertEqual(y.shape, [2, 9, 6, 2])
        XCTAssertEqual(pixelUnshuffle(y, downscaleFactor: 3).scalars, x.scalars)
        XCTAssertEqual(pixelShuffle(x, upscaleFactor: 1).scalars, x.scalars)
    }

    // MARK: Gradient checks

    func testNearestGradients() {
        let x = randomTensor([2, 3, 2, 2], seed: 21)
        checkGradients(of: { upsampleNearest2D($0[0], scale: 2) }, at: [x])
        checkGradients(of: { upsampleNearest2D($0[0], scale: (1, 3)) }, at: [x])
        checkGradients(of: { upsampleNearest2D($0[0], size: (5, 3)) }, at: [x])
        checkGradients(of: { upsampleNearest2D($0[0], size: (2, 1)) }, at: [x])
    }

    func testBilinearGradients() {
        let x = randomTensor([2, 3, 2, 2], seed: 22)
        checkGradients(of: { upsampleBilinear2D($0[0], scale: 2) }, at: [x])
        checkGradients(of: { upsampleBilinear2D($0[0], scale: (3, 2)) }, at: [x])
        checkGradients(of: { upsampleBilinear2D($0[0], size: (7, 5)) }, at: [x])
        checkGradients(of: { upsampleBilinear2D($0[0], size: (2, 1)) }, at: [x])
        checkGradients(of: { upsampleBilinear2D($0[0], size: (3, 3)) }, at: [randomTensor([1, 2, 2, 17], seed: 23)])
    }

    func testPixelShuffleGradients() {
        checkGradients(of: { pixelShuffle($0[0], upscaleFactor: 2) }, at: [randomTensor([2, 2, 1, 8], seed: 24)])
        checkGradients(of: { pixelUnshuffle($0[0], downscaleFactor: 2) }, at: [randomTensor([1, 4, 2, 3], seed: 25)])
    }

    // MARK: Layers

    func testUpsamplingLayersApplyTheirOps() {
        let x = randomTensor([1, 3, 4, 8], seed: 26)
        XCTAssertEqual(Upsample2D()(x).scalars, upsampleNearest2D(x, scale: 2).scalars)
        XCTAssertEqual(Upsample2D(scale: 3, mode: .bilinear)(x).scalars, upsampleBilinear2D(x, scale: 3).scalars)
        XCTAssertEqual(Upsample2D(scale: (2, 1))(x).shape, [1, 6, 4, 8])
        XCTAssertEqual(
            Upsample2D(size: (5, 7), mode: .bilinear)(x).scalars, upsampleBilinear2D(x, size: (5, 7)).scalars)
        XCTAssertEqual(Upsample2D(size: (5, 7))(x).scalars, upsampleNearest2D(x, size: (5, 7)).scalars)
        XCTAssertEqual(PixelShuffle(upscaleFactor: 2)(x).shape, [1, 6, 8, 2])
        XCTAssertEqual(PixelUnshuffle(downscaleFactor: 2)(PixelShuffle(upscaleFactor: 2)(x)).scalars, x.scalars)
    }
}
