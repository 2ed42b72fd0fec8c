@testable @_spi(Benchmarks) import DeepLearning
import XCTest

/// Convolutions with at most 4 output channels on the direct loops (`thinconv.c`) against the
/// patch-matrix GEMM: outputs, input gradients and kernel gradients, at every instruction-set
/// level this CPU has, pixel counts that are not multiples of the kernels' 4-pixel blocks, a
/// bias, a batch, and 1 to 4 output channels.
final class ThinOutputConvolutionTests: XCTestCase {
    private var savedLevel = 0

    override func setUp() { savedLevel = PointwiseKernels.level }
    override func tearDown() { PointwiseKernels.level = savedLevel }

    private func levels() throws -> ClosedRange<Int> {
        try XCTSkipIf(savedLevel == 0, "this CPU has neither AVX2+FMA nor AVX-512: the loops are never used")
        return 1...savedLevel
    }

    private func run(_ x: Tensor, _ w: Tensor, _ b: Tensor?, seed: UInt64, direct: Bool) throws -> [Tensor] {
        let saved = ThreadState.current.kernelSettings.thinOutputConvolutions
        defer { ThreadState.current.kernelSettings.thinOutputConvolutions = saved }
        ThreadState.current.kernelSettings.thinOutputConvolutions = direct
        let input = x.requiringGradient(), kernel = w.requiringGradient()
        let y = conv2D(input, kernel: kernel, bias: b)
        return [y] + (try gradients(of: y, withRespectTo: [input, kernel], seed: randomTensor(y.shape, seed: seed)))
    }

    private func check(
        batch: Int, height: Int, width: Int, channels: Int, kernel k: Int, outputs: Int, bias: Bool,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        for level in try levels() {
            PointwiseKernels.level = level
            let seed = UInt64(height * 100 + channels + outputs)
            let x = randomTensor([batch, height, width, channels], seed: seed)
            let w = randomTensor([k, k, channels, outputs], seed: seed + 1)
            let b = bias ? randomTensor([outputs], seed: seed + 2) : nil
            let geometry = ConvGeometry(
                batch: batch, inputHeight: height, inputWidth: width, inputChannels: channels,
                outputChannels: outputs, kernelSize: k, stride: 1, padding: .valid)
            XCTAssertTrue(geometry.usesThinOutputKernels, "level \(level) takes the shape", file: file, line: line)
            let direct = try run(x, w, b, seed: seed + 3, direct: true)
            let gemm = try run(x, w, b, seed: seed + 3, direct: false)
            for (name, (a, r)) in zip(["output", "input gradient", "kernel gradient"], zip(direct, gemm)) {
                XCTAssertEqual(a.shape, r.shape, file: file, line: line)
                let scale = Swift.max(r.scalars.map(Swift.abs).max() ?? 1, 1)
                let error = zip(a.scalars, r.scalars).map { Swift.abs($0 - $1) }.max() ?? 0
                XCTAssertLessThan(
                    error, 2e-6 * scale, "\(name), level \(level), \(k)×\(k) \(channels) → \(outputs)", file: file,
                    line: line)
            }
        }
    }

    func testDirectLoopsMatchTheGEMM() throws {
        try check(batch: 1, height: 13, width: 15, channels: 64, kernel: 7, outputs: 3, bias: true)
        try check(batch: 2, height: 9, width: 6, channels: 32, kernel: 3, outputs: 1, bias: false)
        try check(batch: 1, height: 8, width: 11, channels: 32, kernel: 4, outputs: 4, bias: true)
        try check(batch: 3, height: 10, width: 10, channels: 96, kernel: 5, outputs: 2, bias: false)
    }

    func testOtherShapesKeepTheGEMM() throws {
        _ = try levels()
        func geometry(_ cin: Int, _ cout: Int, stride: Int = 1, padding: Padding = .valid) -> ConvGeometry {
            ConvGeometry(
                batch: 1, inputHeight: 16, inputWidth: 16, inputChannels: cin, outputChannels: cout, kernelSize: 7,
                stride: stride, padding: padding)
        }
        XCTAssertTrue(geometry(64, 3).usesThinOutputKernels)
        XCTAssertFalse(geometry(64, 5).usesThinOutputKernels, "5 outputs")
        XCTAssertFalse(geometry(64, 3, stride: 2).usesThinOutputKernels, "strided")
        XCTAssertFalse(geometry(64, 3, padding: .same).usesThinOutputKernels, "padded")
        XCTAssertFalse(geometry(8, 3).usesThinOutputKernels, "8 channels")
    }
}
