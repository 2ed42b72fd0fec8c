import CKernels

// Convolutions with at most 4 output channels — a generator's RGB output layer, 64 → 3 at 256²
// with a 7×7 kernel — as direct loops (Sources/CKernels/thinconv.c) instead of patch-matrix
// GEMMs: with N ≤ 4 the GEMM runs at a tenth of sgemm's speed, and its patch matrix (k²·Cin
// floats per pixel, 820 MB for that layer) is written and read again for 3 dot products per
// row. The direct loops read each input pixel from cache k² times instead, vectorised along the
// channels. Stride 1, no padding (the ResNet's output layer is a valid convolution on a
// reflection-padded input), no dilation or groups; all three passes. Docs/Performance.md has
// the measurements.

extension ConvGeometry {
    /// Whether the passes take the direct thin-output loops: an ungrouped, undilated, stride-1,
    /// unpadded convolution with at most 4 output channels, input channels a multiple of two
    /// vectors of the calling thread's kernel level (32 on AVX-512, 16 on AVX2; level 0 never),
    /// patches of at least 256 floats, float32 products, the route not switched off.
    var usesThinOutputKernels: Bool {
        let settings = ThreadState.current.kernelSettings
        let level = settings.pointwiseLevel
        guard settings.thinOutputConvolutions, level >= 1, !settings.bfloat16Products else { return false }
        return groups == 1 && strideHeight == 1 && strideWidth == 1 && dilationHeight == 1 && dilationWidth == 1
            && padTop == 0 && padLeft == 0 && outputHeight == inputHeight - kernelHeight + 1
            && outputWidth == inputWidth - kernelWidth + 1 && outputHeight > 0 && outputWidth > 0
            && outputChannels <= 4 && inputChannels % (level >= 2 ? 32 : 16) == 0 && patchSize >= 256
    }

    private var taps: Int { kernelHeight * kernelWidth }

    /// y = conv(x, w) (+ bias), output lines split between threads.
    func thinOutputForward(
        input: UnsafePointer<Float>, kernel: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        output: UnsafeMutablePointer<Float>
    ) {
        let level = Int32(PointwiseKernels.level), c = inputChannels
        StoragePool.withScratchBuffer(taps * 4 * c) { packed in
            dl_thin_conv_pack(kernel, Int32(taps), Int32(c), Int32(outputChannels), packed)
            Parallelism.forEachChunk(of: batch * outputHeight, grain: 2) { lines in
                dl_thin_conv_forward(
                    level, input, Int32(inputHeight), Int32(inputWidth), Int32(c), Int32(kernelHeight),
                    Int32(kernelWidth), packed, Int32(outputChannels), bias, output, Int32(outputHeight),
                    Int32(outputWidth), lines.lowerBound, lines.upperBound)
            }
        }
    }

    /// ∂x (overwritten): the full correlation of ∂y, zero-padded to 4 channels and by k − 1 on
    /// every side, with the rotated kernel; input lines split between threads.
    func thinOutputInputGradient(
        outputGradient: UnsafePointer<Float>, kernel: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>
    ) {
        let level = Int32(PointwiseKernels.level), c = inputChannels, cout = outputChannels
        let paddedHeight = outputHeight + 2 * (kernelHeight - 1), paddedWidth = outputWidth + 2 * (kernelWidth - 1)
        let padded = batch * paddedHeight * paddedWidth * 4
        StoragePool.withScratchBuffer(taps * 4 * c + padded) { scratch in
            let packed = scratch, dyp = scratch + taps * 4 * c
            dl_thin_conv_pack(kernel, Int32(taps), Int32(c), Int32(cout), packed)
            dyp.update(repeating: 0, count: padded)
            for n in 0..<batch {
                for y in 0..<outputHeight {
                    let source = outputGradient + ((n * outputHeight + y) * outputWidth) * cout
                    let target =
                        dyp + ((n * paddedHeight + y + kernelHeight - 1) * paddedWidth + kernelWidth - 1) * 4
                    for x in 0..<outputWidth {
                        for o in 0..<cout { target[x * 4 + o] = source[x * cout + o] }
                    }
                }
            }
            Parallelism.forEachChunk(of: batch * inputHeight, grain: 2) { lines in
                dl_thin_conv_input_gradient(
                    level, dyp, Int32(paddedHeight), Int32(paddedWidth), Int32(kernelHeight), Int32(kernelWidth),
                    packed, Int32(c), inputGradient, Int32(inputHeight), Int32(inputWidth), lines.lowerBound,
                    lines.upperBound)
            }
        }
    }

    /// ∂w (overwritten): partial sums over fixed blocks of output lines (so the result does not
    /// depend on the thread count), added in order.
    func thinOutputKernelGradient(
        input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>, kernelGradient: UnsafeMutablePointer<Float>
    ) {
        let level = Int32(PointwiseKernels.level), c = inputChannels, cout = outputChannels
        let lines = batch * outputHeight, pixels = lines * outputWidth
        let linesPerPart = Swift.max(8, (lines + 63) / 64), parts = (lines + linesPerPart - 1) / linesPerPart
        let partSize = taps * 4 * c
        StoragePool.withScratchBuffer(pixels * 4 + parts * partSize) { scratch in
            let dy4 = scratch, partials = scratch + pixels * 4
            for pixel in 0..<pixels {
                for o in 0..<4 { dy4[pixel * 4 + o] = o < cout ? outputGradient[pixel * cout + o] : 0 }
            }
            partials.update(repeating: 0, count: parts * partSize)
            Parallelism.forEachChunk(of: parts, grain: 1) { range in
                for part in range {
                    dl_thin_conv_kernel_gradient(
                        level, input, Int32(inputHeight), Int32(inputWidth), Int32(c), Int32(kernelHeight),
                        Int32(kernelWidth), dy4, Int32(outputHeight), Int32(outputWidth), part * linesPerPart,
                        Swift.min(lines, (part + 1) * linesPerPart), partials + part * partSize)
                }
            }
            for part in 1..<Swift.max(parts, 1) {
                let source = partials + part * partSize
                for i in 0..<partSize { partials[i] += source[i] }
            }
            dl_thin_conv_unpack(partials, Int32(taps), Int32(c), Int32(cout), kernelGradient)
        }
    }
}
