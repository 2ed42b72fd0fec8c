@testable import DeepLearning
import Foundation
import XCTest

/// Convolutions with PyTorch's options — explicit padding, non-square kernels and strides,
/// dilation, groups (depthwise), transposed with output padding — against PyTorch
/// (`Fixtures/general/convolution_options.npz`) and numerically.
final class ConvolutionOptionTests: XCTestCase {
    func testConvolutionOptionsMatchPyTorch() throws {
        let f = try generalFixtures("convolution_options")
        let cases: [(String, (Int, Int), (Int, Int), (Int, Int), Int)] = [
            ("rect", (2, 1), (1, 2), (1, 1), 1), ("dilated", (1, 1), (2, 2), (2, 2), 1),
            ("grouped", (1, 1), (1, 1), (1, 1), 2), ("depthwise", (2, 2), (1, 1), (1, 1), 4),
        ]
        for (name, stride, padding, dilation, groups) in cases {
            let w = f["\(name).w"]!
            let layer = Conv2D(
                w.shape[2] * groups, w.shape[3], kernelSize: (w.shape[0], w.shape[1]), stride: stride,
                padding: .explicit(height: padding.0, width: padding.1), dilation: dilation, groups: groups)
            layer.kernel.value = w
            layer.bias!.value = f["\(name).b"]!
            let x = Parameter(f["\(name).x"]!)
            let y = layer(x.value)
            (y * f["\(name).dy"]!).sum().backward()
            assertMatchesReference(y, f["\(name).y"], tolerance: 1e-5, "\(name) forward")
            assertMatchesReference(x.gradient!, f["\(name).dx"], tolerance: 1e-4, "\(name) input gradient")
            assertMatchesReference(layer.kernel.gradient!, f["\(name).dw"], tolerance: 1e-4, "\(name) kernel gradient")
            assertMatchesReference(layer.bias!.gradient!, f["\(name).db"], tolerance: 1e-4, "\(name) bias gradient")
        }
        let transposed: [(String, (Int, Int), (Int, Int), (Int, Int), (Int, Int))] = [
            ("t_outpad", (2, 2), (1, 1), (1, 1), (1, 1)), ("t_rect", (2, 1), (1, 1), (1, 2), (0, 0)),
        ]
        for (name, stride, padding, dilation, outputPadding) in transposed {
            let w = f["\(name).w"]!
            let layer = Conv2DTranspose(
                w.shape[3], w.shape[2], kernelSize: (w.shape[0], w.shape[1]), stride: stride,
                padding: .explicit(height: padding.0, width: padding.1), dilation: dilation,
                outputPadding: outputPadding)
            layer.kernel.value = w
            layer.bias!.value = f["\(name).b"]!
            let x = Parameter(f["\(name).x"]!)
            let y = layer(x.value)
            (y * f["\(name).dy"]!).sum().backward()
            assertMatchesReference(y, f["\(name).y"], tolerance: 1e-5, "\(name) forward")
            assertMatchesReference(x.gradient!, f["\(name).dx"], tolerance: 1e-4, "\(name) input gradient")
            assertMatchesReference(layer.kernel.gradient!, f["\(name).dw"], tolerance: 1e-4, "\(name) kernel gradient")
            assertMatchesReference(layer.bias!.gradient!, f["\(name).db"], tolerance: 1e-4, "\(name) bias gradient")
        }
    }

    func testGradientsOfConvolutionOptions() {
        let x = randomTensor([2, 5, 6, 4], seed: 31)
        checkGradients(
            of: {
                conv2D(
                    $0[0], kernel: $0[1], bias: $0[2], strides: (2, 1), padding: .explicit(height: 1, width: 2),
                    dilation: (1, 2), groups: 2)
            },
            at: [x, randomTensor([3, 2, 2, 6], seed: 32), randomTensor([6], seed: 33)])
        checkGradients(
            of: {
                conv2DTranspose(
                    $0[0], kernel: $0[1], strides: (2, 2), padding: .explicit(height: 1, width: 1),
                    outputPadding: (1, 0))
            },
            at: [randomTensor([1, 3, 3, 2], seed: 34), randomTensor([3, 3, 3, 2], seed: 35)])
    }

    func testDepthwiseConvolutionConvolvesEachChannelAlone() {
        // groups = channels: channel c of the output only sees channel c of the input.
        let x = randomTensor([1, 4, 4, 3], seed: 36), w = randomTensor([3, 3, 1, 3], seed: 37)
        let y = conv2D(x, kernel: w, strides: (1, 1), padding: .same, groups: 3)
        for c in 0..<3 {
            let alone = conv2D(
                x.slice(axis: 3, c..<(c + 1)), kernel: w.slice(axis: 3, c..<(c + 1)), strides: (1, 1), padding: .same)
            assertClose(y.slice(axis: 3, c..<(c + 1)), alone, tolerance: 1e-6)
        }
    }
}
