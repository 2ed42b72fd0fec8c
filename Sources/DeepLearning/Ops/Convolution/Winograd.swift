import CKernels

// Stride-1 3×3 convolutions by Winograd's minimal filtering F(2×2, 3×3) (Lavin & Gray 2016):
// every 2×2 block of outputs ("tile") is Aᵀ·[U ⊙ V]·A with U = G·g·Gᵀ the kernel's transform and
// V = Bᵀ·d·B its 4×4 input window's; summed over input channels, the 16 elementwise products
// become 16 matrix products M[ξ] = V[ξ]·U[ξ] ([tiles, Cin] by [Cin, Cout]) — 2.25× fewer
// multiplications than the patch-matrix GEMM. The transforms are C loops along the contiguous
// channel axis (Sources/CKernels/winograd.c); the products go through `product` like every other.
//
// All three passes take this route: the input gradient of a stride-1 3×3 convolution is one too
// (∂y padded by 2 − pad, the kernel rotated 180° with its channel axes swapped, whose transform
// is the kernel's own with permuted planes), and the kernel gradient is the forward route's
// adjoint (16 products Vᵀ·∂M, then Gᵀ·∂U·G). Docs/Performance.md has the
// measurements, including the rounding (within a few float32 ulps of the GEMM's sums).

/// Switches the Winograd route for the calling thread, for benchmarks comparing it with the
/// patch-matrix GEMM (the tests switch `KernelSettings.winograd` directly).
@_spi(Benchmarks) public enum WinogradRoute {
    /// Whether the calling thread's stride-1 3×3 convolutions take the Winograd route (default true).
    public static var enabled: Bool {
        get { ThreadState.current.kernelSettings.winograd }
        set { ThreadState.current.kernelSettings.winograd = newValue }
    }
}

extension ConvGeometry {
    /// Whether the forward and input-gradient passes take the Winograd route: an ungrouped,
    /// undilated, stride-1 3×3 convolution with padding ≤ 2, at least 16 channels on each side
    /// (thinner products are memory-bound, and the transforms would cost more than they save),
    /// float32 products, at least 256 tiles of 2×2 outputs (`KernelSettings.winogradMinimumTiles`) (below that the 16 products are too
    /// small for sgemm to run at speed, and the kernel's transform is not paid back: measured
    /// 4× slower at 512 channels on 16², `kernel-benchmark --winograd`), and the route not
    /// switched off (`KernelSettings.winograd`).
    var usesWinograd: Bool {
        let settings = ThreadState.current.kernelSettings
        return settings.winograd && !settings.bfloat16Products && kernelHeight == 3 && kernelWidth == 3
            && strideHeight == 1 && strideWidth == 1 && dilationHeight == 1 && dilationWidth == 1 && groups == 1
            && inputChannels >= 16 && outputChannels >= 16 && (0...2).contains(padTop) && (0...2).contains(padLeft)
            && batch * ((outputHeight + 1) / 2) * ((outputWidth + 1) / 2) >= settings.winogradMinimumTiles
    }

    /// y = conv(x, w) (+ bias) by Winograd.
    func winogradForward(
        input: UnsafePointer<Float>, kernel: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        output: UnsafeMutablePointer<Float>
    ) {
        StoragePool.withScratchBuffer(16 * inputChannels * outputChannels) { transformed in
            dl_winograd_kernel(
                Int32(PointwiseKernels.level), kernel, Int32(inputChannels), Int32(outputChannels), transformed)
            Self.winograd(
                input: input, batch: batch, height: inputHeight, width: inputWidth, channels: inputChannels,
                padTop: padTop, padLeft: padLeft, transformedKernel: transformed, rotated: false,
                outputChannels: outputChannels,
                outputHeight: outputHeight, outputWidth: outputWidth, bias: bias, output: output)
        }
    }

    /// ∂x from ∂y by Winograd: the correlation of ∂y, padded by 2 − pad, with the rotated kernel.
    func winogradInputGradient(
        outputGradient: UnsafePointer<Float>, kernel: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>
    ) {
        StoragePool.withScratchBuffer(16 * inputChannels * outputChannels) { transformed in
            dl_winograd_kernel(
                Int32(PointwiseKernels.level), kernel, Int32(inputChannels), Int32(outputChannels), transformed)
            Self.winograd(
                input: outputGradient, batch: batch, height: outputHeight, width: outputWidth,
                channels: outputChannels, padTop: 2 - padTop, padLeft: 2 - padLeft, transformedKernel: transformed,
                rotated: true, outputChannels: inputChannels, outputHeight: inputHeight, outputWidth: inputWidth,
                bias: nil,
                output: inputGradient)
        }
    }

    /// ∂w from x and ∂y by Winograd, the adjoint of the forward route: ∂U[ξ] = Σ over tiles of
    /// V[ξ]ᵀ·∂M[ξ] (V the input transform of x, ∂M = A·∂Y·Aᵀ), then ∂w = Gᵀ·∂U·G; overwrites
    /// `kernelGradient`.
    func winogradKernelGradient(
        input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>, kernelGradient: UnsafeMutablePointer<Float>
    ) {
        let level = Int32(PointwiseKernels.level)
        let (cin, cout) = (inputChannels, outputChannels)
        let tiling = WinogradTiling(
            batch: batch, outputHeight: outputHeight, outputWidth: outputWidth, widest: Swift.max(cin, cout))
        let (tilesY, tilesX, chunk) = (tiling.tilesY, tiling.tilesX, tiling.chunk)
        StoragePool.withScratchBuffer(16 * chunk * (cin + cout) + 16 * cin * cout) { scratch in
            let v = scratch, dm = scratch + 16 * chunk * cin, du = dm + 16 * chunk * cout
            tiling.forEachChunk { first, count in
                let (vStride, mStride) = (count * cin, count * cout)
                Parallelism.forEachChunk(of: count, grain: 16) { range in
                    dl_winograd_input(
                        level, input, Int32(inputHeight), Int32(inputWidth), Int32(cin), Int32(padTop), Int32(padLeft),
                        Int32(tilesY), Int32(tilesX), first + range.lowerBound, first + range.upperBound,
                        v + range.lowerBound * cin, vStride)
                    dl_winograd_output_adjoint(
                        level, outputGradient, Int32(outputHeight), Int32(outputWidth), Int32(cout), Int32(tilesY),
                        Int32(tilesX), first + range.lowerBound, first + range.upperBound,
                        dm + range.lowerBound * cout, mStride)
                }
                for xi in 0..<16 {
                    product(
                        transposeA: true, transposeB: false, m: cin, n: cout, k: count, a: v + xi * vStride, lda: cin,
                        b: dm + xi * mStride, ldb: cout, beta: first == 0 ? 0 : 1, c: du + xi * cin * cout, ldc: cout)
                }
            }
            dl_winograd_kernel_adjoint(level, du, Int32(cin), Int32(cout), kernelGradient)
        }
    }

    /// The plane of U holding plane ξ = 4i + j of the rotated kernel's transform: i and j map
    /// 0 ↔ 3 (G·J = P·G for the reversal J and the swap P of rows 0 and 3 of G).
    private static let rotatedPlane: [Int] = (0..<16).map { xi in
        let swap = [3, 1, 2, 0]
        return swap[xi / 4] * 4 + swap[xi % 4]
    }

    /// Floats of each of the two transformed-tile buffers of one chunk: 4 MB, so a chunk's
    /// transforms stay in the last-level cache between the passes over them.
    static let winogradChunkFloats = 1 << 20

    /// The stride-1 3×3 correlation of `input` ([N, H, W, C], zero-padded by `padTop`/`padLeft`
    /// above and left and as far as needed below and right) with a kernel whose transform is
    /// `u`, into `output` ([N, outputHeight, outputWidth, Cout], overwritten). `u` is
    /// `[16, C, Cout]`, or, when `rotated`, the transform `[16, Cout, C]` of the kernel this one
    /// is the 180° rotation of, with its channels swapped: rotating a kernel swaps rows and
    /// columns 0 and 3 of G·g·Gᵀ, so plane (i, j) is that transform's plane (3 − i, 3 − j) for
    /// i, j ∈ {0, 3} (1 and 2 stay), used transposed.
    private static func winograd(
        input: UnsafePointer<Float>, batch: Int, height: Int, width: Int, channels: Int, padTop: Int, padLeft: Int,
        transformedKernel u: UnsafePointer<Float>, rotated: Bool, outputChannels: Int, outputHeight: Int,
        outputWidth: Int,
        bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>
    ) {
        let level = Int32(PointwiseKernels.level)
        let tiling = WinogradTiling(
            batch: batch, outputHeight: outputHeight, outputWidth: outputWidth,
            widest: Swift.max(channels, outputChannels))
        let (tilesY, tilesX, chunk) = (tiling.tilesY, tiling.tilesX, tiling.chunk)
        StoragePool.withScratchBuffer(16 * chunk * (channels + outputChannels)) { scratch in
            let v = scratch, m = scratch + 16 * chunk * channels
            tiling.forEachChunk { first, count in
                let (vStride, mStride) = (count * channels, count * outputChannels)
                Parallelism.forEachChunk(of: count, grain: 16) { range in
                    dl_winograd_input(
                        level, input, Int32(height), Int32(width), Int32(channels), Int32(padTop), Int32(padLeft),
                        Int32(tilesY), Int32(tilesX), first + range.lowerBound, first + range.upperBound,
                        v + range.lowerBound * channels, vStride)
                }
                for xi in 0..<16 {
                    let plane = rotated ? Self.rotatedPlane[xi] : xi
                    product(
                        transposeA: false, transposeB: rotated, m: count, n: outputChannels, k: channels,
                        a: v + xi * vStride, lda: channels, b: u + plane * channels * outputChannels,
                        ldb: rotated ? channels : outputChannels, c: m + xi * mStride, ldc: outputChannels)
                }
                Parallelism.forEachChunk(of: count, grain: 16) { range in
                    dl_winograd_output(
                        level, m + range.lowerBound * outputChannels, mStride, Int32(outputHeight), Int32(outputWidth),
                        Int32(outputChannels), Int32(tilesY), Int32(tilesX), first + range.lowerBound,
                        first + range.upperBound, bias, output)
                }
            }
        }
    }
}

/// The 2×2-output tiles of a Winograd pass over `batch` images of `outputHeight`×`outputWidth`,
/// and their chunks: as many tiles as keep each transformed buffer (16 planes of the wider
/// channel count) within `ConvGeometry.winogradChunkFloats`.
private struct WinogradTiling {
    let tilesY: Int, tilesX: Int, tiles: Int, chunk: Int

    init(batch: Int, outputHeight: Int, outputWidth: Int, widest: Int) {
        (tilesY, tilesX) = ((outputHeight + 1) / 2, (outputWidth + 1) / 2)
        tiles = batch * tilesY * tilesX
        chunk = Swift.max(1, Swift.min(tiles, ConvGeometry.winogradChunkFloats / (16 * widest)))
    }

    /// Calls `body(first, count)` for consecutive chunks of tiles.
    func forEachChunk(_ body: (_ first: Int, _ count: Int) -> Void) {
        var first = 0
        while first < tiles {
            body(first, Swift.min(chunk, tiles - first))
            first += chunk
        }
    }
}
