import DeepLearning
import Foundation
import XCTest

/// Pooling, upsampling and pixel-shuffle ops against PyTorch 2.15 (CPU, float32).
/// Fixtures: Tests/DeepLearningTests/Fixtures/pooling, made by Tools/fixtures/make_pooling_fixtures.py
/// (torch on NCHW, permuted to NHWC). Each case compares the forward output at
/// max |Δ| ≤ 1e-5·(1 + max |ref|) and the gradient of `sum(y * dy)` for a fixed `dy` at 1e-4 likewise.
final class PoolingFixtureTests: XCTestCase {
    private func fixture(_ testCase: String, _ name: String) throws -> Tensor {
        let url = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/pooling/\(testCase)/\(name).npy")
        return try NPY.read(from: url)
    }

    private func assertMatches(
        _ actual: Tensor, _ reference: Tensor, relative tolerance: Float, _ message: String,
        file: StaticString, line: UInt
    ) {
        XCTAssertEqual(actual.shape, reference.shape, message, file: file, line: line)
        guard actual.shape == reference.shape else { return }
        let scale = 1 + reference.scalars.map(abs).max()!
        XCTAssertLessThanOrEqual(
            actual.maxAbsoluteDifference(to: reference), tolerance * scale, message, file: file, line: line)
    }

    /// Runs `op` on the case's x, backpropagates `sum(y * dy)` and compares y and ∂x with torch's.
    private func check(
        _ testCase: String, file: StaticString = #filePath, line: UInt = #line, _ op: (Tensor) -> Tensor
    ) throws {
        let x = Parameter(try fixture(testCase, "x"))
        let y = op(x.value)
        (y * (try fixture(testCase, "dy"))).sum().backward()
        assertMatches(y, try fixture(testCase, "y"), relative: 1e-5, "\(testCase) y", file: file, line: line)
        assertMatches(
            x.gradient ?? .zeros(x.value.shape), try fixture(testCase, "dx"), relative: 1e-4, "\(testCase) dx",
            file: file, line: line)
    }

    // MARK: Max pooling

    func testMaxPoolOverlappingK3S2P1MatchesTorch() throws {
        try check("maxpool_k3_s2_p1") { maxPool2D($0, kernelSize: 3, stride: 2, padding: 1) }
    }
    func testMaxPoolCeilModeK3S2P1MatchesTorch() throws {
        try check("maxpool_k3_s2_p1_ceil") { maxPool2D($0, kernelSize: 3, stride: 2, padding: 1, ceilMode: true) }
    }
    func testMaxPoolCeilModePartialLastWindowMatchesTorch() throws {
        try check("maxpool_k2_ceil") { maxPool2D($0, kernelSize: 2, ceilMode: true) }
    }
    func testMaxPoolCeilModeDropsWindowStartingInPaddingLikeTorch() throws {
        try check("maxpool_k2_s2_p1_ceil_dropped") { maxPool2D($0, kernelSize: 2, padding: 1, ceilMode: true) }
    }
    func testMaxPoolNonSquareKernelStrideAndPaddingMatchTorch() throws {
        try check("maxpool_k3x2_s2x1_p1x0") { maxPool2D($0, kernelSize: (3, 2), stride: (2, 1), padding: (1, 0)) }
    }
    func testMaxPoolNonSquareCeilModeMatchesTorch() throws {
        try check("maxpool_k2x3_s1x2_p1x1_ceil") {
            maxPool2D($0, kernelSize: (2, 3), stride: (1, 2), padding: (1, 1), ceilMode: true)
        }
    }
    func testMaxPoolTiesSendGradientToFirstMaximumLikeTorch() throws {
        try check("maxpool_ties_k3_s1_p1") { maxPool2D($0, kernelSize: 3, stride: 1, padding: 1) }
    }

    // MARK: Average pooling

    func testAvgPoolK3S2P1IncludingPadMatchesTorch() throws {
        try check("avgpool_k3_s2_p1_include_pad") { avgPool2D($0, kernelSize: 3, stride: 2, padding: 1) }
    }
    func testAvgPoolK3S2P1ExcludingPadMatchesTorch() throws {
        try check("avgpool_k3_s2_p1_exclude_pad") {
            avgPool2D($0, kernelSize: 3, stride: 2, padding: 1, countIncludePad: false)
        }
    }
    func testAvgPoolCeilModeIncludingPadClipsDivisorToPaddedInputLikeTorch() throws {
        try check("avgpool_k3_s2_p1_ceil_include_pad") {
            avgPool2D($0, kernelSize: 3, stride: 2, padding: 1, ceilMode: true)
        }
    }
    func testAvgPoolCeilModeExcludingPadMatchesTorch() throws {
        try check("avgpool_k3_s2_p1_ceil_exclude_pad") {
            avgPool2D($0, kernelSize: 3, stride: 2, padding: 1, ceilMode: true, countIncludePad: false)
        }
    }
    func testAvgPoolCeilModeWithoutPaddingMatchesTorch() throws {
        try check("avgpool_k2_ceil_include_pad") { avgPool2D($0, kernelSize: 2, ceilMode: true) }
        try check("avgpool_k2_ceil_exclude_pad") {
            avgPool2D($0, kernelSize: 2, ceilMode: true, countIncludePad: false)
        }
    }
    func testAvgPoolCeilModeDropsWindowStartingInPaddingLikeTorch() throws {
        try check("avgpool_k2_s2_p1_ceil_dropped_include_pad") {
            avgPool2D($0, kernelSize: 2, padding: 1, ceilMode: true)
        }
        try check("avgpool_k2_s2_p1_ceil_dropped_exclude_pad") {
            avgPool2D($0, kernelSize: 2, padding: 1, ceilMode: true, countIncludePad: false)
        }
    }
    func testAvgPoolNonSquareMatchesTorch() throws {
        try check("avgpool_k3x2_s2x1_p1x0_include_pad") {
            avgPool2D($0, kernelSize: (3, 2), stride: (2, 1), padding: (1, 0))
        }
        try check("avgpool_k3x2_s2x1_p1x0_exclude_pad") {
            avgPool2D($0, kernelSize: (3, 2), stride: (2, 1), padding: (1, 0), countIncludePad: false)
        }
    }
    func testAvgPoolNonSquareCeilModeMatchesTorch() throws {
        try check("avgpool_k2x3_s1x2_p1x1_ceil_include_pad") {
            avgPool2D($0, kernelSize: (2, 3), stride: (1, 2), padding: (1, 1), ceilMode: true)
        }
        try check("avgpool_k2x3_s1x2_p1x1_ceil_exclude_pad") {
            avgPool2D($0, kernelSize: (2, 3), stride: (1, 2), padding: (1, 1), ceilMode: true, countIncludePad: false)
        }
    }

    // MARK: Global pooling

    func testGlobalAveragePoolMatchesTorchAdaptiveAvgPool() throws {
        try check("global_avg") { globalAveragePool2D($0) }
    }
    func testGlobalMaxPoolMatchesTorchAdaptiveMaxPool() throws {
        try check("global_max") { globalMaxPool2D($0) }
    }

    // MARK: Upsampling

    func testNearestByTwoMatchesTorch() throws { try check("nearest_x2") { upsampleNearest2D($0, scale: 2) } }
    func testNearestByNonSquareScaleMatchesTorch() throws {
        try check("nearest_x3x2") { upsampleNearest2D($0, scale: (3, 2)) }
    }
    func testNearestToNonIntegerRatioSizeMatchesTorch() throws {
        try check("nearest_size_7x5") { upsampleNearest2D($0, size: (7, 5)) }
    }
    func testNearestDownToSmallerSizeMatchesTorch() throws {
        try check("nearest_size_down_4x3") { upsampleNearest2D($0, size: (4, 3)) }
    }
    func testBilinearByTwoMatchesTorch() throws { try check("bilinear_x2") { upsampleBilinear2D($0, scale: 2) } }
    func testBilinearByNonSquareScaleMatchesTorch() throws {
        try check("bilinear_x3x2") { upsampleBilinear2D($0, scale: (3, 2)) }
    }
    func testBilinearToOddSizeMatchesTorch() throws {
        try check("bilinear_size_7x5") { upsampleBilinear2D($0, size: (7, 5)) }
    }
    func testBilinearDownToSmallerSizeMatchesTorch() throws {
        try check("bilinear_size_down_4x3") { upsampleBilinear2D($0, size: (4, 3)) }
    }

    // MARK: Pixel shuffle

    func testPixelShuffleR2MatchesTorchChannelOrder() throws {
        try check("pixel_shuffle_r2") { pixelShuffle($0, upscaleFactor: 2) }
    }
    func testPixelShuffleR3MatchesTorchChannelOrder() throws {
        try check("pixel_shuffle_r3") { pixelShuffle($0, upscaleFactor: 3) }
    }
    func testPixelUnshuffleR2MatchesTorch() throws {
        try check("pixel_unshuffle_r2") { pixelUnshuffle($0, downscaleFactor: 2) }
    }
    func testPixelUnshuffleR3MatchesTorch() throws {
        try check("pixel_unshuffle_r3") { pixelUnshuffle($0, downscaleFactor: 3) }
    }
}
