import CKernels

// Stride-1 3×3 convolutions by Winograd's minimal filtering F(2×2, 3×3) (Lavin & Gray 2016):
// every 2×2 block of outputs ("tile") is Aᵀ·[U ⊙ V]·A with U = G·g·Gᵀ the kernel's transform and
// V = Bᵀ·d·B its 4×4 input window's; summed over input channels, the 16 elementwise products
// become 16 matrix products M[ξ] = V[ξ]·U[ξ] ([tiles, Cin] by [Cin, Cout]) — 2.25× fewer
// multiplications than the patch-matrix GEMM. The transforms are C loops along the contiguous
// channel axis (Sources/CKernels/winograd.c); the products go through `product` like every other.
//
// The forward pass and the input gradient take this route (the input gradient of a stride-1
// 3×3 convolution is one too: ∂y padded by 2 − pad, the kernel rotated 180° with its channel
// axes swapped); the kernel gradient stays a patch-matrix GEMM. Docs/Performance.md has the
// measurements, including the rounding (within a few float32 ulps of the GEMM's sums).

extension ConvGeometry {
    /// Whether the forward and input-gradient passes take the Winograd route: an ungrouped,
    /// undilated, stride-1 3×3 convolution with padding ≤ 2, at least 16 channels on each side
    /// (thinner products are memory-bound, and the transforms would cost more than they save),
    /// float32 products and the route not switched off (`KernelSettings.winograd`).
    var usesWinograd: Bool {
        let settings = ThreadState.current.kernelSettings
        return settings.winograd && !settings.bfloat16Products && kernelHeight == 3 && kernelWidth == 3
            && strideHeight == 1 && strideWidth == 1 && dilationHeight == 1 && dilationWidth == 1 && groups == 1
            && inputChannels >= 16 && outputChannels >= 16 && (0...2).contains(padTop) && (0...2).contains(padLeft)
            && outputHeight > 0 && outputWidth > 0
    }

    /// y = conv(x, w) (+ bias) by Winograd.
    func winogradForward(
        input: UnsafePointer<Float>, kernel: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        output: UnsafeMutablePointer<Float>
    ) {
        StoragePool.withScratchBuffer(16 * inputChannels * outputChannels) { transformed in
            dl_winograd_kernel(kernel, Int32(inputChannels), Int32(outputChannels), 0, transformed)
            Self.winograd(
                input: input, batch: batch, height: inputHeight, width: inputWidth, channels: inputChannels,
                padTop: padTop, padLeft: padLeft, transformedKernel: transformed, outputChannels: outputChannels,
                outputHeight: outputHeight, outputWidth: outputWidth, bias: bias, output: output)
        }
    }

    /// ∂x from ∂y by Winograd: the correlation of ∂y, padded by 2 − pad, with the rotated kernel.
    func winogradInputGradient(
        outputGradient: UnsafePointer<Float>, kernel: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>
    ) {
        StoragePool.withScratchBuffer(16 * inputChannels * outputChannels) { transformed in
            dl_winograd_kernel(kernel, Int32(inputChannels), Int32(outputChannels), 1, transformed)
            Self.winograd(
                input: outputGradient, batch: batch, height: outputHeight, width: outputWidth,
                channels: outputChannels, padTop: 2 - padTop, padLeft: 2 - padLeft, transformedKernel: transformed,
                outputChannels: inputChannels, outputHeight: inputHeight, outputWidth: inputWidth, bias: nil,
                output: inputGradient)
        }
    }

    /// Floats of each of the two transformed-tile buffers of one chunk: 4 MB, so a chunk's
    /// transforms stay in the last-level cache between the passes over them.
    static let winogradChunkFloats = 1 << 20

    /// The stride-1 3×3 correlation of `input` ([N, H, W, C], zero-padded by `padTop`/`padLeft`
    /// above and left and as far as needed below and right) with the kernel transformed to
    /// `[16, C, Cout]`, into `output` ([N, outputHeight, outputWidth, Cout], overwritten).
    private static func winograd(
        input: UnsafePointer<Float>, batch: Int, height: Int, width: Int, channels: Int, padTop: Int, padLeft: Int,
        transformedKernel u: UnsafePointer<Float>, outputChannels: Int, outputHeight: Int, outputWidth: Int,
        bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>
    ) {
        let tilesY = (outputHeight + 1) / 2, tilesX = (outputWidth + 1) / 2
        let tiles = batch * tilesY * tilesX
        let widest = Swift.max(channels, outputChannels)
        let chunk = Swift.max(1, Swift.min(tiles, winogradChunkFloats / (16 * widest)))
        StoragePool.withScratchBuffer(16 * chunk * (channels + outputChannels)) { scratch in
            let v = scratch, m = scratch + 16 * chunk * channels
            var first = 0
            while first < tiles {
                let count = Swift.min(chunk, tiles - first)
                let (vStride, mStride) = (count * channels, count * outputChannels)
                Parallelism.forEachChunk(of: count, grain: 16) { range in
                    dl_winograd_input(
                        input, Int32(height), Int32(width), Int32(channels), Int32(padTop), Int32(padLeft),
                        Int32(tilesY), Int32(tilesX), first + range.lowerBound, first + range.upperBound,
                        v + range.lowerBound * channels, vStride)
                }
                for xi in 0..<16 {
                    product(
                        transposeA: false, transposeB: false, m: count, n: outputChannels, k: channels,
                        a: v + xi * vStride, lda: channels, b: u + xi * channels * outputChannels, ldb: outputChannels,
                        c: m + xi * mStride, ldc: outputChannels)
                }
                Parallelism.forEachChunk(of: count, grain: 16) { range in
                    dl_winograd_output(
                        m + range.lowerBound * outputChannels, mStride, Int32(outputHeight), Int32(outputWidth),
                        Int32(outputChannels), Int32(tilesY), Int32(tilesX), first + range.lowerBound,
                        first + range.upperBound, bias, output)
                }
                first += count
            }
        }
    }
}
