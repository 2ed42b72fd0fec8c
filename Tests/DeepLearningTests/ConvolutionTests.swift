@testable import DeepLearning
import XCTest

/// One convolution configuration: square kernel, equal strides.
private struct Config: CustomStringConvertible {
    var batch = 1, height: Int, width: Int, inChannels: Int, outChannels: Int
    var kernelSize: Int, stride: Int, padding: Padding
    var description: String {
        "N\(batch) \(height)×\(width)×\(inChannels)→\(outChannels) k\(kernelSize) s\(stride) \(padding)"
    }
}

/// The configurations every check runs on: the pix2pix ones (4×4 s2 same, 4×4 s1 same), the
/// classic 3×3, pointwise, odd sizes with stride 2, a kernel larger than the stride, batch 2.
private let configs: [Config] = [
    Config(height: 6, width: 6, inChannels: 2, outChannels: 3, kernelSize: 4, stride: 2, padding: .same),
    Config(height: 5, width: 5, inChannels: 2, outChannels: 2, kernelSize: 4, stride: 1, padding: .same),
    Config(height: 5, width: 6, inChannels: 2, outChannels: 3, kernelSize: 3, stride: 1, padding: .valid),
    Config(height: 5, width: 4, inChannels: 3, outChannels: 2, kernelSize: 3, stride: 1, padding: .same),
    Config(height: 3, width: 4, inChannels: 3, outChannels: 4, kernelSize: 1, stride: 1, padding: .same),
    Config(height: 5, width: 7, inChannels: 2, outChannels: 2, kernelSize: 3, stride: 2, padding: .same),
    Config(height: 5, width: 7, inChannels: 1, outChannels: 2, kernelSize: 4, stride: 2, padding: .same),
    Config(height: 7, width: 5, inChannels: 2, outChannels: 2, kernelSize: 3, stride: 2, padding: .valid),
    Config(batch: 2, height: 4, width: 4, inChannels: 2, outChannels: 3, kernelSize: 4, stride: 2, padding: .same),
    // Single-row / single-column products (matrix-vector paths): one output pixel, one
    // output channel, one input channel with a 1×1 kernel.
    Config(height: 2, width: 2, inChannels: 3, outChannels: 1, kernelSize: 4, stride: 2, padding: .same),
    Config(height: 1, width: 1, inChannels: 3, outChannels: 2, kernelSize: 4, stride: 2, padding: .same),
    Config(height: 3, width: 3, inChannels: 4, outChannels: 1, kernelSize: 3, stride: 1, padding: .same),
    Config(height: 3, width: 2, inChannels: 1, outChannels: 3, kernelSize: 1, stride: 1, padding: .valid),
]

/// TensorFlow's padding, written out independently of the library: (output size, leading pad).
private func referenceOutputAndPad(_ size: Int, _ k: Int, _ s: Int, _ padding: Padding) -> (Int, Int) {
    switch padding {
    case .valid: return ((size - k) / s + 1, 0)
    case .same:
        let output = Int((Double(size) / Double(s)).rounded(.up))
        return (output, max((output - 1) * s + k - size, 0) / 2)
    case let .explicit(height, _): return ((size + 2 * height - k) / s + 1, height)
    }
}

/// Plain-loop cross-correlation: x [N, H, W, Cin], w [k, k, Cin, Cout].
private func naiveConv(_ x: Tensor, _ w: Tensor, _ b: Tensor?, stride s: Int, padding: Padding) -> Tensor {
    let (n, h, wd, cin) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (k, cout) = (w.shape[0], w.shape[3])
    let (ho, pt) = referenceOutputAndPad(h, k, s, padding), (wo, pl) = referenceOutputAndPad(wd, k, s, padding)
    let xs = x.scalars, ws = w.scalars, bs = b?.scalars
    var y = [Float](repeating: 0, count: n * ho * wo * cout)
    for b in 0..<n {
        for oy in 0..<ho {
            for ox in 0..<wo {
                for co in 0..<cout {
                    var sum = bs?[co] ?? 0
                    for ky in 0..<k {
                        for kx in 0..<k {
                            let iy = oy * s - pt + ky, ix = ox * s - pl + kx
                            guard iy >= 0, iy < h, ix >= 0, ix < wd else { continue }
                            for ci in 0..<cin {
                                sum +=
                                    xs[((b * h + iy) * wd + ix) * cin + ci] * ws[((ky * k + kx) * cin + ci) * cout + co]
                            }
                        }
                    }
                    y[((b * ho + oy) * wo + ox) * cout + co] = sum
                }
            }
        }
    }
    return Tensor(shape: [n, ho, wo, cout], scalars: y)
}

/// Plain-loop transposed convolution (scatter form): x [N, H, W, Cin], w [k, k, Cout, Cin].
private func naiveConvTranspose(_ x: Tensor, _ w: Tensor, _ b: Tensor?, stride s: Int, padding: Padding) -> Tensor {
    let (n, h, wd, cin) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (k, cout) = (w.shape[0], w.shape[2])
    let ho = padding == .same ? h * s : (h - 1) * s + max(k, s)
    let wo = padding == .same ? wd * s : (wd - 1) * s + max(k, s)
    let pt = padding == .same ? max(k - s, 0) / 2 : 0
    let xs = x.scalars, ws = w.scalars
    var y = [Float](repeating: 0, count: n * ho * wo * cout)
    for b in 0..<n {
        for i in 0..<h {
            for j in 0..<wd {
                for ky in 0..<k {
                    for kx in 0..<k {
                        let oy = i * s - pt + ky, ox = j * s - pt + kx
                        guard oy >= 0, oy < ho, ox >= 0, ox < wo else { continue }
                        for co in 0..<cout {
                            for ci in 0..<cin {
                                y[((b * ho + oy) * wo + ox) * cout + co] +=
                                    xs[((b * h + i) * wd + j) * cin + ci] * ws[((ky * k + kx) * cout + co) * cin + ci]
                            }
                        }
                    }
                }
            }
        }
    }
    if let b { for index in y.indices { y[index] += b.scalars[index % cout] } }
    return Tensor(shape: [n, ho, wo, cout], scalars: y)
}

final class ConvolutionTests: XCTestCase {
    func testConv2DMatchesNaiveLoops() {
        for (index, c) in configs.enumerated() {
            let x = randomTensor([c.batch, c.height, c.width, c.inChannels], seed: UInt64(index))
            let w = randomTensor([c.kernelSize, c.kernelSize, c.inChannels, c.outChannels], seed: UInt64(100 + index))
            let b = randomTensor([c.outChannels], seed: UInt64(200 + index))
            assertClose(
                conv2D(x, kernel: w, bias: b, stride: c.stride, padding: c.padding),
                naiveConv(x, w, b, stride: c.stride, padding: c.padding), tolerance: 1e-5, "\(c)")
        }
    }

    func testConv2DTransposeMatchesNaiveLoops() {
        var all = configs
        all.append(
            Config(height: 3, width: 2, inChannels: 2, outChannels: 2, kernelSize: 1, stride: 2, padding: .valid))
        all.append(Config(height: 3, width: 2, inChannels: 2, outChannels: 2, kernelSize: 2, stride: 3, padding: .same))
        for (index, c) in all.enumerated() {
            let x = randomTensor([c.batch, c.height, c.width, c.inChannels], seed: UInt64(index))
            let w = randomTensor([c.kernelSize, c.kernelSize, c.outChannels, c.inChannels], seed: UInt64(100 + index))
            let b = randomTensor([c.outChannels], seed: UInt64(200 + index))
            assertClose(
                conv2DTranspose(x, kernel: w, bias: b, stride: c.stride, padding: c.padding),
                naiveConvTranspose(x, w, b, stride: c.stride, padding: c.padding), tolerance: 1e-5, "\(c)")
        }
    }

    /// ⟨conv(x), y⟩ = ⟨x, convT(y)⟩ for the same [k, k, a, b] kernel, which is the definition the
    /// transposed convolution's sizes and padding must satisfy.
    func testConv2DTransposeIsTheAdjointOfConv2D() {
        for (index, c) in configs.enumerated() where c.padding == .same || (c.height - c.kernelSize) % c.stride == 0 {
            let x = randomTensor([c.batch, c.height, c.width, c.inChannels], seed: UInt64(index))
            let kernel = randomTensor(
                [c.kernelSize, c.kernelSize, c.inChannels, c.outChannels], seed: UInt64(50 + index))
            let convolved = conv2D(x, kernel: kernel, stride: c.stride, padding: c.padding)
            let y = randomTensor(convolved.shape, seed: UInt64(300 + index))
            let transposed = conv2DTranspose(y, kernel: kernel, stride: c.stride, padding: c.padding)
            guard transposed.shape == x.shape else {
                // Odd sizes with 'same': the transposed output is H·s, one larger than x; the
                // adjoint then holds on x's region since the rest is padding in conv's view.
                XCTAssertEqual(c.padding, .same, "\(c)")
                continue
            }
            let left = (convolved * y).sum().scalar, right = (x * transposed).sum().scalar
            XCTAssertEqual(left, right, accuracy: 1e-4 * max(1, abs(left)), "\(c)")
        }
    }

    func testSamePaddingPutsTheOddRowAtTheBottomLikeTensorFlow() {
        // 4×4 stride 1 'same' on 4×4 pads 1 above and 2 below: a ones-kernel over a ones-image
        // sees 3×3 ones at the top-left corner and 2×2 at the bottom-right.
        let y = conv2D(Tensor.ones([1, 4, 4, 1]), kernel: .ones([4, 4, 1, 1]), stride: 1, padding: .same)
        XCTAssertEqual(y.shape, [1, 4, 4, 1])
        XCTAssertEqual(y[0, 0, 0, 0], 9)
        XCTAssertEqual(y[0, 3, 3, 0], 4)
        // 4×4 stride 2 on 8 pads 1/1: corners see 3×3.
        let z = conv2D(Tensor.ones([1, 8, 8, 1]), kernel: .ones([4, 4, 1, 1]), stride: 2, padding: .same)
        XCTAssertEqual(z.shape, [1, 4, 4, 1])
        XCTAssertEqual(z[0, 0, 0, 0], 9)
        XCTAssertEqual(z[0, 3, 3, 0], 9)
        XCTAssertEqual(z[0, 1, 1, 0], 16)
    }

    func testOutputShapesFollowKeras() {
        let x = Tensor.zeros([1, 7, 5, 2])
        XCTAssertEqual(conv2D(x, kernel: .zeros([3, 3, 2, 4]), stride: 2, padding: .same).shape, [1, 4, 3, 4])
        XCTAssertEqual(conv2D(x, kernel: .zeros([3, 3, 2, 4]), stride: 2, padding: .valid).shape, [1, 3, 2, 4])
        XCTAssertEqual(
            conv2DTranspose(x, kernel: .zeros([4, 4, 3, 2]), stride: 2, padding: .same).shape, [1, 14, 10, 3])
        XCTAssertEqual(
            conv2DTranspose(x, kernel: .zeros([4, 4, 3, 2]), stride: 2, padding: .valid).shape, [1, 16, 12, 3])
        XCTAssertEqual(
            conv2DTranspose(Tensor.zeros([1, 1, 1, 8]), kernel: .zeros([4, 4, 2, 8]), stride: 2, padding: .same).shape,
            [1, 2, 2, 2])
    }

    func testChunkedPatchMatricesGiveTheSameResults() {
        let c = Config(
            batch: 2, height: 7, width: 6, inChannels: 3, outChannels: 4, kernelSize: 4, stride: 2, padding: .same)
        let x = randomTensor([c.batch, c.height, c.width, c.inChannels], seed: 7)
        let w = randomTensor([4, 4, 3, 4], seed: 8)
        let saved = ConvGeometry.scratchBudget
        defer { ConvGeometry.scratchBudget = saved }
        for budget in [1, 100, 200, 1 << 22] {
            ConvGeometry.scratchBudget = budget
            let parameters = [Parameter(x), Parameter(w)]
            let y = conv2D(parameters[0].value, kernel: parameters[1].value, stride: 2, padding: .same)
            assertClose(y, naiveConv(x, w, nil, stride: 2, padding: .same), tolerance: 1e-5, "budget \(budget)")
            (y * y).sum().backward()
            ConvGeometry.scratchBudget = saved
            let reference = [Parameter(x), Parameter(w)]
            let yReference = conv2D(reference[0].value, kernel: reference[1].value, stride: 2, padding: .same)
            (yReference * yReference).sum().backward()
            assertClose(
                parameters[0].gradient!, reference[0].gradient!, tolerance: 1e-5, "input gradient, budget \(budget)")
            assertClose(
                parameters[1].gradient!, reference[1].gradient!, tolerance: 1e-5, "kernel gradient, budget \(budget)")
            let t = conv2DTranspose(x, kernel: w.permuted([0, 1, 3, 2]), stride: 2, padding: .same)
            ConvGeometry.scratchBudget = budget
            assertClose(
                conv2DTranspose(x, kernel: w.permuted([0, 1, 3, 2]), stride: 2, padding: .same), t,
                tolerance: 1e-5, "transposed, budget \(budget)")
        }
    }

    func testConv2DGradients() {
        for (index, c) in configs.enumerated() {
            let x = randomTensor([c.batch, c.height, c.width, c.inChannels], seed: UInt64(index))
            let w = randomTensor([c.kernelSize, c.kernelSize, c.inChannels, c.outChannels], seed: UInt64(100 + index))
            let b = randomTensor([c.outChannels], seed: UInt64(200 + index))
            checkGradients(
                of: { conv2D($0[0], kernel: $0[1], bias: $0[2], stride: c.stride, padding: c.padding) }, at: [x, w, b])
        }
    }

    func testConv2DTransposeGradients() {
        for (index, c) in configs.enumerated() {
            let x = randomTensor([c.batch, c.height, c.width, c.inChannels], seed: UInt64(index))
            let w = randomTensor([c.kernelSize, c.kernelSize, c.outChannels, c.inChannels], seed: UInt64(100 + index))
            let b = randomTensor([c.outChannels], seed: UInt64(200 + index))
            checkGradients(
                of: { conv2DTranspose($0[0], kernel: $0[1], bias: $0[2], stride: c.stride, padding: c.padding) },
                at: [x, w, b])
        }
    }

    func testGradientsWithoutBiasAndForKernelOnly() {
        let x = randomTensor([1, 5, 5, 2], seed: 1), w = randomTensor([3, 3, 2, 2], seed: 2)
        checkGradients(of: { conv2D($0[0], kernel: $0[1], stride: 2, padding: .same) }, at: [x, w])
        checkGradients(of: { conv2DTranspose($0[0], kernel: $0[1], stride: 2, padding: .same) }, at: [x, w])
        // Only the kernel needs a gradient (a first layer): the input's is skipped.
        let kernel = Parameter(w)
        conv2D(x, kernel: kernel.value, stride: 1, padding: .same).sum().backward()
        XCTAssertEqual(kernel.gradient?.shape, [3, 3, 2, 2])
    }

    func testOnePixelLayersUseTheOuterProductPathCorrectly() {
        // The U-Net bottleneck (2×2 → 1×1) and first decoder block (1×1 → 2×2): the kernel
        // gradient has one row of patches (k = 1), written directly instead of through sgemm.
        let x = randomTensor([1, 2, 2, 3], seed: 21), w = randomTensor([4, 4, 3, 5], seed: 22),
            b = randomTensor([5], seed: 23)
        checkGradients(of: { conv2D($0[0], kernel: $0[1], bias: $0[2], stride: 2, padding: .same) }, at: [x, w, b])
        let z = randomTensor([1, 1, 1, 5], seed: 24)
        checkGradients(
            of: { conv2DTranspose($0[0], kernel: $0[1], bias: $0[2], stride: 2, padding: .same) },
            at: [z, randomTensor([4, 4, 3, 5], seed: 25), randomTensor([3], seed: 26)])
    }

    func testMaximumMagnitudeScan() {
        var values = [Float](repeating: 0, count: 70_003)
        for i in values.indices {
            let sign: Float = i % 2 == 0 ? 1 : -1
            values[i] = sign * Float(i % 1000) * 1e-3
        }
        values[70_001] = -3.5
        XCTAssertEqual(values.withUnsafeBufferPointer { maximumMagnitude($0.baseAddress!, count: $0.count) }, 3.5)
        values[17] = -7
        XCTAssertEqual(values.withUnsafeBufferPointer { maximumMagnitude($0.baseAddress!, count: $0.count) }, 7)
        for bad: Float in [.nan, .infinity, -.infinity] {
            for position in [3, 40_000, 70_002] {
                var copy = values
                copy[position] = bad
                XCTAssertNil(
                    copy.withUnsafeBufferPointer { maximumMagnitude($0.baseAddress!, count: $0.count) },
                    "\(bad) at \(position)")
            }
        }
        XCTAssertEqual([Float(-0.0)].withUnsafeBufferPointer { maximumMagnitude($0.baseAddress!, count: 1) }, 0)
    }

    /// A kernel much larger than its activations (the U-Net's bottom): the kernel gradient is
    /// proved finite from the activations; anything the bound cannot cover is scanned.
    func testKernelGradientFinitenessIsProvedOrScanned() {
        let kernel = Parameter(randomTensor([4, 4, 64, 64], seed: 50))
        func backward(input: Tensor, seed: Float) -> Tensor? {
            kernel.zeroGradient()
            conv2D(input, kernel: kernel.value, stride: 2, padding: .same).backward(
                seed: Tensor(shape: [1, 1, 1, 64], repeating: seed))
            return kernel.gradient
        }
        let x = randomTensor([1, 2, 2, 64], seed: 51)
        XCTAssertEqual(backward(input: x, seed: 1)?.storage.knownFinite, true)
        XCTAssertTrue(kernel.gradientIsFinite)
        // Too large for the bound: scanned, and really infinite.
        XCTAssertEqual(backward(input: x * 1e30, seed: 1e30)?.storage.knownFinite, false)
        XCTAssertFalse(kernel.gradientIsFinite)
        // Large but finite (|g| ≈ 1e37): beyond the bound's margin, so scanned — and finite.
        XCTAssertEqual(backward(input: x * 1e18, seed: 1e19)?.storage.knownFinite, false)
        XCTAssertTrue(kernel.gradientIsFinite)
        XCTAssertTrue(kernel.gradient!.isFinite)
        // NaN in the activations: no proof, the scan sees the NaN.
        var poisoned = x.scalars
        poisoned[5] = .nan
        _ = backward(input: Tensor(shape: x.shape, scalars: poisoned), seed: 1)
        XCTAssertFalse(kernel.gradientIsFinite)
        // In-place changes forget the proof.
        var proved = backward(input: x, seed: 1)!
        XCTAssertTrue(proved.storage.knownFinite)
        proved.withUnsafeMutableBufferPointer { $0[0] = .nan }
        XCTAssertFalse(proved.storage.knownFinite)
        var summed = backward(input: x, seed: 1)!
        summed.addInPlace(summed)
        XCTAssertFalse(summed.storage.knownFinite)
    }

    func testLayersHaveKerasShapedParametersAndApply() {
        RandomState.seed(3)
        let conv = Conv2D(3, 8, kernelSize: 4, stride: 2, padding: .same)
        XCTAssertEqual(conv.namedParameters.map(\.name), ["kernel", "bias"])
        XCTAssertEqual(conv.kernel.shape, [4, 4, 3, 8])
        XCTAssertEqual(conv(Tensor.zeros([1, 8, 8, 3])).shape, [1, 4, 4, 8])
        let up = Conv2DTranspose(8, 3, kernelSize: 4, stride: 2, padding: .same, useBias: false)
        XCTAssertEqual(up.namedParameters.map(\.name), ["kernel"])
        XCTAssertEqual(up.kernel.shape, [4, 4, 3, 8])
        XCTAssertEqual(up(Tensor.zeros([1, 4, 4, 8])).shape, [1, 8, 8, 3])
        RandomState.seed(3)
        XCTAssertEqual(Conv2D(3, 8, kernelSize: 4, stride: 2).kernel.value.scalars, conv.kernel.value.scalars)
    }

    func testLayerDefaultsArePyTorchsAndKerass() {
        // No padding unless asked, as Keras's Conv2D/Conv2DTranspose ('valid') and PyTorch's
        // nn.Conv2d/nn.ConvTranspose2d (padding=0) default to.
        XCTAssertEqual(Conv2D(3, 8, kernelSize: 3)(Tensor.zeros([1, 8, 8, 3])).shape, [1, 6, 6, 8])
        XCTAssertEqual(Conv2D(3, 8, kernelSize: 4, stride: 2)(Tensor.zeros([1, 8, 8, 3])).shape, [1, 3, 3, 8])
        XCTAssertEqual(
            Conv2DTranspose(8, 3, kernelSize: 4, stride: 2)(Tensor.zeros([1, 4, 4, 8])).shape, [1, 10, 10, 3])
        XCTAssertEqual(conv2D(Tensor.zeros([1, 8, 8, 3]), kernel: Tensor.zeros([3, 3, 3, 2])).shape, [1, 6, 6, 2])
        // PyTorch's nn.InstanceNorm2d: ε = 1e-5, no affine parameters.
        let instance = InstanceNorm(4)
        XCTAssertNil(instance.gamma)
        XCTAssertEqual(instance.epsilon, 1e-5)
        // Keras's BatchNormalization: momentum 0.99, ε = 1e-3.
        XCTAssertEqual(BatchNorm(4).momentum, 0.99)
        XCTAssertEqual(BatchNorm(4).epsilon, 1e-3)
        // PyTorch's pooling: the stride is the kernel size.
        XCTAssertEqual(MaxPool2D(kernelSize: 2)(Tensor.zeros([1, 8, 8, 1])).shape, [1, 4, 4, 1])
    }

    /// OpenBLAS 0.3.21 does not know recent Xeons and falls back to SSE3 kernels (10× slower);
    /// the library must switch to the AVX kernels the CPU has.
    func testOpenBLASUsesTheVectorKernelsTheCPUSupports() throws {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        try XCTSkipUnless(cpuinfo.contains(" avx2"), "needs a CPU with AVX2")
        _ = matmul(Tensor.ones([2, 2]), Tensor.ones([2, 2]))
        // The library sets OPENBLAS_CORETYPE itself when it corrects the choice; skip only if
        // the user forced some other family.
        let forced = getenv("OPENBLAS_CORETYPE").map { String(cString: $0) }
        try XCTSkipIf(
            forced != nil && !["skylakex", "haswell"].contains(forced!.lowercased()), "OPENBLAS_CORETYPE=\(forced!)")
        XCTAssertFalse(
            ["prescott", "core2", "nehalem", "unknown"].contains(OpenBLASSetup.coreName.lowercased()),
            OpenBLASSetup.coreName)
    }

    /// OpenBLAS's workers must not spin for 2^28 cycles after each call (they would hold a core
    /// the library's own passes need), unless the user asked for it.
    func testOpenBLASWorkersSpinOnlyBriefly() {
        _ = matmul(Tensor.ones([64, 64]), Tensor.ones([64, 64]))
        if let forced = ProcessInfo.processInfo.environment["OPENBLAS_THREAD_TIMEOUT"], let value = Int(forced),
            value >= 4
        {
            XCTAssertEqual(OpenBLASSetup.activeThreadTimeout, Swift.min(value, 30))
        } else {
            XCTAssertEqual(OpenBLASSetup.activeThreadTimeout, OpenBLASSetup.threadTimeout)
        }
        // BLAS still works (and is threaded) after the workers were restarted.
        let a = randomTensor([300, 200], seed: 30), b = randomTensor([200, 100], seed: 31)
        let product = matmul(a, b)
        let (pa, pb) = (a.scalars, b.scalars)
        var expected = [Float](repeating: 0, count: 300 * 100)
        for i in 0..<300 {
            for k in 0..<200 { for j in 0..<100 { expected[i * 100 + j] += pa[i * 200 + k] * pb[k * 100 + j] } }
        }
        assertClose(product, Tensor(shape: [300, 100], scalars: expected), tolerance: 1e-3)
    }
}
