@testable import DeepLearning
import XCTest

/// Stride-1 3×3 convolutions on the Winograd route against the same convolutions as
/// patch-matrix GEMMs: outputs, input gradients and kernel gradients, on odd
/// and even sizes, every padding the route takes, batches, a bias, and a transposed convolution
/// (whose passes are the same two, swapped).
final class WinogradTests: XCTestCase {
    private var savedMinimum = 0

    // Small shapes take the route too, so every edge case fits in a fast test.
    override func setUp() {
        savedMinimum = ThreadState.current.kernelSettings.winogradMinimumTiles
        ThreadState.current.kernelSettings.winogradMinimumTiles = 1
    }

    override func tearDown() { ThreadState.current.kernelSettings.winogradMinimumTiles = savedMinimum }

    /// `body` with the Winograd route on, then off; returns both results.
    private func bothRoutes(_ body: () throws -> [Tensor]) rethrows -> (winograd: [Tensor], gemm: [Tensor]) {
        let saved = ThreadState.current.kernelSettings.winograd
        defer { ThreadState.current.kernelSettings.winograd = saved }
        ThreadState.current.kernelSettings.winograd = true
        let winograd = try body()
        ThreadState.current.kernelSettings.winograd = false
        return (winograd, try body())
    }

    private func assertClose(
        _ a: Tensor, _ b: Tensor, _ what: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(a.shape, b.shape, what, file: file, line: line)
        let scale = b.scalars.map(Swift.abs).max() ?? 1
        let error = zip(a.scalars, b.scalars).map { Swift.abs($0 - $1) }.max() ?? 0
        XCTAssertLessThan(
            error, 2e-6 * Swift.max(scale, 1), "\(what): max |Δ| \(error) of max |y| \(scale)", file: file, line: line)
    }

    private func check(
        batch: Int, height: Int, width: Int, inputChannels: Int, outputChannels: Int, padding: Padding,
        bias: Bool = false, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let seed = UInt64(height * 1000 + width * 10 + inputChannels)
        let x = randomTensor([batch, height, width, inputChannels], seed: seed)
        let w = randomTensor([3, 3, inputChannels, outputChannels], seed: seed + 1)
        let b = bias ? randomTensor([outputChannels], seed: seed + 2) : nil
        let geometry = ConvGeometry(
            batch: batch, inputHeight: height, inputWidth: width, inputChannels: inputChannels,
            outputChannels: outputChannels, kernelSize: 3, stride: 1, padding: padding)
        XCTAssertTrue(geometry.usesWinograd, "the route takes \(padding)", file: file, line: line)
        let (winograd, gemm) = try bothRoutes {
            let input = x.requiringGradient(), kernel = w.requiringGradient()
            let y = conv2D(input, kernel: kernel, bias: b, padding: padding)
            let seedGradient = randomTensor(y.shape, seed: seed + 3)
            return [y] + (try gradients(of: y, withRespectTo: [input, kernel], seed: seedGradient))
        }
        let what = "\(batch)×\(height)×\(width)×\(inputChannels)→\(outputChannels) \(padding)"
        assertClose(winograd[0], gemm[0], "output of \(what)", file: file, line: line)
        assertClose(winograd[1], gemm[1], "input gradient of \(what)", file: file, line: line)
        assertClose(winograd[2], gemm[2], "kernel gradient of \(what)", file: file, line: line)
    }

    func testWinogradMatchesTheGEMMOnEveryPaddingAndSize() throws {
        try check(batch: 1, height: 8, width: 8, inputChannels: 16, outputChannels: 16, padding: .valid)
        try check(
            batch: 2, height: 7, width: 9, inputChannels: 16, outputChannels: 24,
            padding: .explicit(height: 1, width: 1), bias: true)
        try check(
            batch: 1, height: 5, width: 6, inputChannels: 33, outputChannels: 17,
            padding: .explicit(height: 2, width: 2))
        try check(batch: 3, height: 10, width: 3, inputChannels: 20, outputChannels: 16, padding: .same, bias: true)
        try check(batch: 1, height: 3, width: 3, inputChannels: 16, outputChannels: 32, padding: .valid)
    }

    /// More tiles than one chunk holds: the chunk loop's offsets.
    func testWinogradSpansSeveralChunks() throws {
        let tilesPerChunk = ConvGeometry.winogradChunkFloats / (16 * 64)
        let side = 2 * Int(Double(tilesPerChunk).squareRoot().rounded(.up)) + 3  // > one chunk of tiles
        try check(
            batch: 1, height: side, width: side, inputChannels: 64, outputChannels: 48,
            padding: .explicit(height: 1, width: 1))
    }

    /// A stride-1 3×3 transposed convolution runs the two passes the other way round.
    func testTransposedConvolutionOnTheWinogradRouteMatches() throws {
        let x = randomTensor([2, 6, 5, 16], seed: 9), w = randomTensor([3, 3, 24, 16], seed: 10)
        let (winograd, gemm) = try bothRoutes {
            let input = x.requiringGradient()
            let y = conv2DTranspose(input, kernel: w, stride: 1, padding: .same)
            return [y] + (try gradients(of: y, withRespectTo: [input], seed: randomTensor(y.shape, seed: 11)))
        }
        assertClose(winograd[0], gemm[0], "transposed output")
        assertClose(winograd[1], gemm[1], "transposed input gradient")
    }

    func testNarrowStridedAndDilatedConvolutionsKeepTheGEMM() {
        func geometry(_ cin: Int, stride: Int = 1, dilation: Int = 1, kernel: Int = 3) -> ConvGeometry {
            ConvGeometry(
                batch: 1, inputHeight: 8, inputWidth: 8, inputChannels: cin, outputChannels: 32,
                kernelSize: (kernel, kernel), stride: (stride, stride), padding: .valid, dilation: (dilation, dilation))
        }
        XCTAssertTrue(geometry(16).usesWinograd)
        XCTAssertFalse(geometry(8).usesWinograd)
        XCTAssertFalse(geometry(16, stride: 2).usesWinograd)
        XCTAssertFalse(geometry(16, dilation: 2).usesWinograd)
        XCTAssertFalse(geometry(16, kernel: 5).usesWinograd)
        ThreadState.current.kernelSettings.winogradMinimumTiles = 256
        XCTAssertFalse(geometry(16).usesWinograd, "16 tiles are too few for the default minimum")
    }
}
