import DeepLearning
import XCTest

/// A direct, loop-by-loop convolution with TensorFlow's padding rule, as the reference.
private func naiveConv2D(_ x: Tensor, _ kernel: Tensor, stride s: Int, padding: Padding) -> Tensor {
    let (n, h, w, cin) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let k = kernel.shape[0], cout = kernel.shape[3]
    func along(_ size: Int) -> (Int, Int) {
        if padding == .valid { return ((size - k) / s + 1, 0) }
        let out = (size + s - 1) / s
        return (out, max((out - 1) * s + k - size, 0) / 2)
    }
    let (ho, pt) = along(h), (wo, pl) = along(w)
    var out = [Float](repeating: 0, count: n * ho * wo * cout)
    for b in 0..<n { for oy in 0..<ho { for ox in 0..<wo { for co in 0..<cout {
        var sum: Float = 0
        for ky in 0..<k { for kx in 0..<k {
            let iy = oy * s - pt + ky, ix = ox * s - pl + kx
            guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
            for ci in 0..<cin { sum += x[b, iy, ix, ci] * kernel[ky, kx, ci, co] }
        } }
        out[((b * ho + oy) * wo + ox) * cout + co] = sum
    } } } }
    return Tensor(shape: [n, ho, wo, cout], scalars: out)
}

/// The transposed convolution as a scatter loop (TensorFlow's conv2d_transpose).
private func naiveConv2DTranspose(_ x: Tensor, _ kernel: Tensor, stride s: Int, padding: Padding) -> Tensor {
    let (n, h, w, cin) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let k = kernel.shape[0], cout = kernel.shape[2]
    func along(_ size: Int) -> (Int, Int) {
        if padding == .valid { return (size * s + max(k - s, 0), 0) }
        return (size * s, max((size - 1) * s + k - size * s, 0) / 2)
    }
    let (ho, pt) = along(h), (wo, pl) = along(w)
    var out = [Float](repeating: 0, count: n * ho * wo * cout)
    for b in 0..<n { for iy in 0..<h { for ix in 0..<w { for ci in 0..<cin {
        let v = x[b, iy, ix, ci]
        for ky in 0..<k { for kx in 0..<k {
            let oy = iy * s - pt + ky, ox = ix * s - pl + kx
            guard oy >= 0, oy < ho, ox >= 0, ox < wo else { continue }
            for co in 0..<cout { out[((b * ho + oy) * wo + ox) * cout + co] += v * kernel[ky, kx, co, ci] }
        } }
    } } } }
    return Tensor(shape: [n, ho, wo, cout], scalars: out)
}

final class ConvolutionTests: XCTestCase {
    private let configurations: [(size: [Int], k: Int, s: Int, padding: Padding)] = [
        ([2, 8, 8, 3], 4, 2, .same), ([1, 7, 6, 4], 3, 1, .valid), ([1, 5, 7, 2], 3, 1, .same),
        ([2, 5, 7, 3], 4, 2, .same), ([1, 6, 6, 4], 4, 1, .same), ([1, 4, 5, 3], 1, 1, .same),
        ([1, 9, 9, 2], 3, 2, .valid), ([1, 6, 6, 2], 7, 1, .same),
    ]

    func testConvMatchesDirectLoops() {
        for (i, c) in configurations.enumerated() {
            let x = randomTensor(c.size, seed: UInt64(i))
            let kernel = randomTensor([c.k, c.k, c.size[3], 5], seed: UInt64(100 + i))
            assertClose(conv2D(x, kernel: kernel, stride: c.s, padding: c.padding),
                        naiveConv2D(x, kernel, stride: c.s, padding: c.padding), tolerance: 1e-5, "\(c)")
        }
    }

    func testConvTransposeMatchesDirectLoops() {
        for (i, c) in configurations.enumerated() {
            let x = randomTensor(c.size, seed: UInt64(i))
            let kernel = randomTensor([c.k, c.k, 5, c.size[3]], seed: UInt64(200 + i))
            assertClose(conv2DTranspose(x, kernel: kernel, stride: c.s, padding: c.padding),
                        naiveConv2DTranspose(x, kernel, stride: c.s, padding: c.padding), tolerance: 1e-5, "\(c)")
        }
    }

    func testOutputSizesFollowKeras() {
        let x = Tensor.zeros([1, 256, 256, 3])
        XCTAssertEqual(conv2D(x, kernel: .zeros([4, 4, 3, 2]), stride: 2, padding: .same).shape, [1, 128, 128, 2])
        XCTAssertEqual(conv2D(x, kernel: .zeros([3, 3, 3, 2]), stride: 1, padding: .valid).shape, [1, 254, 254, 2])
        let y = Tensor.zeros([1, 4, 5, 3])
        XCTAssertEqual(conv2DTranspose(y, kernel: .zeros([4, 4, 2, 3]), stride: 2, padding: .same).shape, [1, 8, 10, 2])
        XCTAssertEqual(conv2DTranspose(y, kernel: .zeros([3, 3, 2, 3]), stride: 1, padding: .valid).shape, [1, 6, 7, 2])
    }

    func testTransposedConvolutionIsTheAdjointOfConvolution() {
        // ⟨conv(x, K), y⟩ = ⟨x, convT(y, K)⟩ with the kernel read as [k, k, Cx, Cy] by both.
        let x = randomTensor([2, 8, 6, 3], seed: 31), kernel = randomTensor([4, 4, 3, 5], seed: 32)
        let y = randomTensor([2, 4, 3, 5], seed: 33)
        let left = (conv2D(x, kernel: kernel, stride: 2, padding: .same) * y).sum().scalar
        let right = (x * conv2DTranspose(y, kernel: kernel, stride: 2, padding: .same)).sum().scalar
        XCTAssertEqual(left, right, accuracy: 1e-3)
    }

    func testConvGradients() {
        for (i, c) in configurations.prefix(6).enumerated() {
            let size = [1] + c.size.dropFirst()
            checkGradients(of: { conv2D($0[0], kernel: $0[1], bias: $0[2], stride: c.s, padding: c.padding) },
                           at: [randomTensor(size, seed: UInt64(i)), randomTensor([c.k, c.k, c.size[3], 2], seed: 50),
                                randomTensor([2], seed: 51)])
        }
        checkGradients(of: { conv2D($0[0], kernel: $0[1], stride: 2, padding: .same) },
                       at: [randomTensor([2, 5, 5, 2], seed: 52), randomTensor([4, 4, 2, 2], seed: 53)])
    }

    func testConvTransposeGradients() {
        for (i, c) in configurations.prefix(6).enumerated() {
            let size = [1, min(c.size[1], 4), min(c.size[2], 5), c.size[3]]
            checkGradients(of: { conv2DTranspose($0[0], kernel: $0[1], bias: $0[2], stride: c.s, padding: c.padding) },
                           at: [randomTensor(size, seed: UInt64(i)), randomTensor([c.k, c.k, 2, c.size[3]], seed: 60),
                                randomTensor([2], seed: 61)])
        }
    }

    func testConvLayersHaveKerasLayouts() {
        let conv = Conv2D(3, 8, kernelSize: 4, stride: 2)
        XCTAssertEqual(conv.kernel.shape, [4, 4, 3, 8])
        XCTAssertEqual(conv.bias?.shape, [8])
        XCTAssertEqual(conv(Tensor.zeros([1, 16, 16, 3])).shape, [1, 8, 8, 8])
        let deconv = Conv2DTranspose(8, 3, kernelSize: 4, stride: 2, useBias: false)
        XCTAssertEqual(deconv.kernel.shape, [4, 4, 3, 8])
        XCTAssertNil(deconv.bias)
        XCTAssertEqual(deconv(Tensor.zeros([1, 8, 8, 8])).shape, [1, 16, 16, 3])
        XCTAssertEqual(conv.namedParameters.map(\.name), ["kernel", "bias"])
    }
}
