import DeepLearning
import Imaging
import XCTest

final class ResizeTests: XCTestCase {
    /// [4, 6, 2] with values (i · 7) mod 23 — irregular so wrong taps show up.
    static let input = Tensor(shape: [4, 6, 2], scalars: (0..<48).map { Float($0 * 7 % 23) })

    // Expected values: tf.image.resize(input, (h, w), method=m, antialias=False).numpy()
    // with tensorflow-cpu 2.21, rounded to 4 decimals.
    func testBilinearUpscaleMatchesTensorFlow() {
        let expected: [Float] = [
            0.0, 7.0, 7.0, 14.0, 12.5, 19.5, 6.5, 13.5, 12.0, 7.5, 17.5, 5.3333, 11.5, 14.6667, 5.5, 12.5, 1.0, 8.0,
            7.5, 14.5, 8.75, 15.75, 10.4167, 15.5, 12.0833, 9.5, 13.75, 9.25, 13.5, 10.9167, 7.5, 12.5833, 7.25, 8.5,
            8.5, 4.0, 13.6667, 20.6667, 11.0833, 16.1667, 10.1944, 10.8056, 16.9722, 7.3611, 14.1667, 11.5833, 8.8056,
            15.1667, 5.3611, 9.1667, 9.5833, 5.0833, 14.6667, 2.5, 8.3333, 15.3333, 13.4167, 10.8333, 17.6389, 8.0278,
            14.1944, 14.8056, 8.8333, 13.9167, 6.0278, 9.8333, 12.8056, 3.8333, 11.9167, 7.4167, 9.3333, 12.5, 14.5,
            10.0, 15.75, 11.25, 15.5, 12.9167, 9.5, 14.5833, 9.25, 10.5, 10.9167, 6.4167, 12.5833, 8.0833, 8.5, 9.75,
            4.0, 11.0, 22.0, 6.0, 17.5, 13.0, 11.5, 18.5, 5.5, 12.5, 11.0, 6.5, 16.5, 4.3333, 10.5, 13.6667, 4.5, 11.5,
            0.0, 7.0,
        ]
        assertClose(resize(Self.input, height: 6, width: 9, method: .bilinear), [6, 9, 2], expected)
    }

    func testBilinearDownscaleMatchesTensorFlow() {
        let expected: [Float] = [
            5.0417, 12.0417, 8.7917, 12.9167, 15.4167, 8.0417, 4.7917, 8.9167, 11.625, 15.75, 15.375, 10.875, 7.625,
            11.75, 11.375, 6.875, 18.2083, 9.875, 7.5833, 13.625, 14.2083, 5.875, 3.5833, 9.625,
        ]
        assertClose(resize(Self.input, height: 3, width: 4), [3, 4, 2], expected)
    }

    func testNearestMatchesTensorFlow() {
        let up: [Float] = [
            0.0, 7.0, 14.0, 21.0, 14.0, 21.0, 5.0, 12.0, 19.0, 3.0, 19.0, 3.0, 10.0, 17.0, 1.0, 8.0, 1.0, 8.0, 15.0,
            22.0, 6.0, 13.0, 6.0, 13.0, 20.0, 4.0, 11.0, 18.0, 11.0, 18.0, 2.0, 9.0, 16.0, 0.0, 16.0, 0.0, 15.0, 22.0,
            6.0, 13.0, 6.0, 13.0, 20.0, 4.0, 11.0, 18.0, 11.0, 18.0, 2.0, 9.0, 16.0, 0.0, 16.0, 0.0, 7.0, 14.0, 21.0,
            5.0, 21.0, 5.0, 12.0, 19.0, 3.0, 10.0, 3.0, 10.0, 17.0, 1.0, 8.0, 15.0, 8.0, 15.0, 22.0, 6.0, 13.0, 20.0,
            13.0, 20.0, 4.0, 11.0, 18.0, 2.0, 18.0, 2.0, 9.0, 16.0, 0.0, 7.0, 0.0, 7.0, 22.0, 6.0, 13.0, 20.0, 13.0,
            20.0, 4.0, 11.0, 18.0, 2.0, 18.0, 2.0, 9.0, 16.0, 0.0, 7.0, 0.0, 7.0,
        ]
        assertClose(resize(Self.input, height: 6, width: 9, method: .nearest), [6, 9, 2], up)
        let down: [Float] = [
            0.0, 7.0, 5.0, 12.0, 19.0, 3.0, 1.0, 8.0, 7.0, 14.0, 12.0, 19.0, 3.0, 10.0, 8.0, 15.0, 22.0, 6.0, 4.0, 11.0,
            18.0, 2.0, 0.0, 7.0,
        ]
        assertClose(resize(Self.input, height: 3, width: 4, method: .nearest), [3, 4, 2], down)
    }

    func testAreaMatchesTensorFlow() {
        let integer: [Float] = [8.75, 15.75, 13.75, 9.25, 7.25, 8.5, 15.75, 11.25, 9.25, 10.5, 8.5, 9.75]
        assertClose(resize(Self.input, height: 2, width: 3, method: .area), [2, 3, 2], integer)
        let fractional: [Float] = [
            6.5, 13.5, 9.8333, 13.0, 14.0, 9.5, 5.8333, 9.0, 11.8333, 15.0, 15.1667, 10.6667, 7.8333, 11.0, 11.1667,
            6.6667, 17.1667, 10.75, 9.0, 14.0833, 13.1667, 6.75, 5.0, 10.0833,
        ]
        assertClose(resize(Self.input, height: 3, width: 4, method: .area), [3, 4, 2], fractional)
    }

    func testAreaIsTheExactBoxAverageForIntegerFactors() {
        let image = Tensor(shape: [2, 4, 1], scalars: [1, 2, 3, 4, 5, 6, 7, 8])
        XCTAssertEqual(resize(image, height: 1, width: 2, method: .area).scalars, [3.5, 5.5])
    }

    func testBatchedResizeEqualsPerImage() {
        let second = Self.input * 2 + 1
        let batch = Tensor(shape: [2, 4, 6, 2], scalars: Self.input.scalars + second.scalars)
        for method in [ResizeMethod.nearest, .bilinear, .area] {
            let resized = resize(batch, height: 5, width: 3, method: method)
            XCTAssertEqual(resized.shape, [2, 5, 3, 2])
            let each =
                resize(Self.input, height: 5, width: 3, method: method).scalars
                + resize(second, height: 5, width: 3, method: method).scalars
            XCTAssertEqual(resized.scalars, each)
        }
    }

    func testSameSizeIsIdentity() {
        XCTAssertEqual(resize(Self.input, height: 4, width: 6).scalars, Self.input.scalars)
    }

    func assertClose(
        _ actual: Tensor, _ shape: [Int], _ expected: [Float], file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(actual.shape, shape, file: file, line: line)
        XCTAssertLessThan(
            actual.maxAbsoluteDifference(to: Tensor(shape: shape, scalars: expected)), 1e-3, file: file, line: line)
    }

    /// PIL's `Image.BICUBIC` on a float image (Tools/fixtures/make_bicubic_fixture.py), upscaled
    /// (Keys' cubic over 4 pixels) and downscaled (the kernel widened by the factor: antialiased):
    /// junyanz's preprocessing, which the CycleGAN data follows.
    func testBicubicMatchesPIL() {
        let source = Tensor(
            shape: [5, 7, 1],
            scalars: [
                -40.0, 75.0, 190.0, 52.0, 167.0, 29.0, 144.0, 29.0, 145.0, 8.0, 124.0, -13.0, 103.0, -34.0, 98.0, -38.0,
                79.0, 196.0, 60.0, 177.0, 41.0, 167.0, 32.0, 150.0, 15.0, 133.0, -2.0, 116.0, -17.0, 102.0, -32.0, 87.0,
                206.0, 72.0, 191.0,
            ])
        let expected: [(Int, Int, [Float])] = [
            (
                11, 13,
                [
                    -56.0458, -22.1278, 47.3936, 133.691, 206.115, 135.226, 45.2763, 122.741, 180.389, 76.0895, 29.5654,
                    121.274, 172.199, -42.0215, -5.17184, 67.9354, 128.16, 166.072, 118.775, 60.2096, 106.729, 140.785,
                    72.9774, 41.4351, 96.6209, 127.418, -11.8011, 34.4674, 120.616, 118.355, 70.9065, 77.8668, 93.0613,
                    67.2924, 46.2306, 63.6377, 67.0704, 36.9398, 20.718, 26.7787, 64.5501, 132.158, 91.4074, 7.26775,
                    61.768, 131.496, 49.5281, -14.362, 69.4868, 100.245, 3.78305, -49.0005, 68.6675, 60.8995, 45.7271,
                    30.3053, 28.0197, 108.288, 180.38, 86.9987, 14.4549, 112.205, 148.798, 38.8551, -21.3709, 109.365,
                    60.6452, -28.3835, -11.4251, 69.3091, 147.51, 196.0, 120.351, 61.3996, 138.909, 167.383, 78.3548,
                    29.6351, 157.568, 97.6158, -11.7722, 18.1363, 118.39, 132.783, 116.579, 102.888, 92.7277, 97.2308,
                    96.025, 81.0648, 73.1358, 182.394, 130.159, 34.8055, 65.8753, 150.899, 96.88, 22.9008, 80.2086,
                    123.816, 46.0004, 11.3097, 79.7983, 117.828, 109.465, 94.105, 65.7185, 71.5569, 90.2758, 55.8534,
                    28.0627, 109.428, 161.316, 62.6695, 19.6417, 109.715, 159.618, -0.0491882, 31.8851, 89.3716,
                    60.0762, -5.74101, 15.9267, 75.5652, 156.468, 194.906, 106.074, 67.2109, 147.923, 192.653, -46.1093,
                    6.07834, 100.34, 56.1472, -45.8981, -1.86016, 93.7237, 176.134, 210.117, 123.504, 85.6165, 164.333,
                    207.956,
                ]
            ),
            (3, 2, [76.5211, 78.1494, 76.2354, 84.8829, 63.9161, 108.313]),
        ]
        for (height, width, values) in expected {
            let resized = resize(source, height: height, width: width, method: .bicubic)
            XCTAssertEqual(resized.shape, [height, width, 1])
            let error = zip(resized.scalars, values).map { Swift.abs($0 - $1) }.max() ?? .infinity
            XCTAssertLessThan(error, 2e-3, "\(height)×\(width)")
        }
    }
}
