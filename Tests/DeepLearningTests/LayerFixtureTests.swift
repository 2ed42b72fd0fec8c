import Foundation
import XCTest
@testable import DeepLearning

/// Every layer against outputs and gradients computed by tf_keras (torch for InstanceNorm).
/// Fixtures: Tests/DeepLearningTests/Fixtures/layers, made by Tools/fixtures/make_layer_fixtures.py.
/// Each case compares the forward output and the gradients of `sum(y * dy)` for a fixed `dy`
/// with respect to the input and every weight, at 1e-4 absolute (values are unit-scale).
final class LayerFixtureTests: XCTestCase {
    /// Loads `Fixtures/layers/<case>/<name>.npy`.
    private func fixture(_ testCase: String, _ name: String) throws -> Tensor {
        let url = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/layers/\(testCase)/\(name).npy")
        return try NPY.read(from: url)
    }

    /// Runs `forward` on the input(s) as parameters, backpropagates `sum(y * dy)` and returns
    /// y and the input gradients.
    private func run(_ inputs: [Tensor], dy: Tensor, _ forward: ([Tensor]) -> Tensor) -> (Tensor, [Tensor]) {
        let parameters = inputs.map { Parameter($0) }
        let y = forward(parameters.map(\.value))
        (y * dy).sum().backward()
        return (y.detached(), parameters.map { $0.gradient ?? .zeros($0.value.shape) })
    }

    private func checkConvolution(_ name: String, transposed: Bool) throws {
        let kernel = try fixture(name, "kernel"), bias = try fixture(name, "bias")
        let x = try fixture(name, "x"), dy = try fixture(name, "dy")
        let k = kernel.shape[0], stride = name.contains("_s2_") ? 2 : 1
        let padding: Padding = name.hasSuffix("same") ? .same : .valid
        let layer: Layer
        let kernelParameter: Parameter, biasParameter: Parameter
        if transposed {
            let conv = Conv2DTranspose(
                kernel.shape[3], kernel.shape[2], kernelSize: k, stride: stride, padding: padding)
            (kernelParameter, biasParameter, layer) = (conv.kernel, conv.bias!, conv)
        } else {
            let conv = Conv2D(kernel.shape[2], kernel.shape[3], kernelSize: k, stride: stride, padding: padding)
            (kernelParameter, biasParameter, layer) = (conv.kernel, conv.bias!, conv)
        }
        kernelParameter.value = kernel
        biasParameter.value = bias
        let (y, dx) = run([x], dy: dy) { layer($0[0]) }
        assertClose(y, try fixture(name, "y"), tolerance: 1e-4, "\(name) y")
        assertClose(dx[0], try fixture(name, "dx"), tolerance: 1e-4, "\(name) dx")
        assertClose(kernelParameter.gradient!, try fixture(name, "dkernel"), tolerance: 1e-4, "\(name) dkernel")
        assertClose(biasParameter.gradient!, try fixture(name, "dbias"), tolerance: 1e-4, "\(name) dbias")
    }

    func testConv2D4x4Stride2Same() throws { try checkConvolution("conv2d_4x4_s2_same", transposed: false) }
    func testConv2D3x3Stride1Valid() throws { try checkConvolution("conv2d_3x3_s1_valid", transposed: false) }
    /// The PatchGAN's stride-1 4×4 'same': TensorFlow pads 1 before and 2 after.
    func testConv2D4x4Stride1SameOddPadding() throws { try checkConvolution("conv2d_4x4_s1_same", transposed: false) }
    func testConv2DTranspose4x4Stride2Same() throws {
        try checkConvolution("conv2dtranspose_4x4_s2_same", transposed: true)
    }
    func testConv2DTranspose3x3Stride1Valid() throws {
        try checkConvolution("conv2dtranspose_3x3_s1_valid", transposed: true)
    }

    private func makeBatchNorm(_ name: String) throws -> BatchNorm {
        let norm = BatchNorm(3, momentum: 0.99, epsilon: 1e-3)
        norm.gamma.value = try fixture(name, "gamma")
        norm.beta.value = try fixture(name, "beta")
        norm.runningMean.value = try fixture(name, "moving_mean")
        norm.runningVariance.value = try fixture(name, "moving_variance")
        return norm
    }

    /// Training mode: batch statistics with the biased variance; the moving variance is
    /// updated with the unbiased one (what tf_keras does, recorded in config.json).
    func testBatchNormTraining() throws {
        let name = "batchnorm_train"
        let norm = try makeBatchNorm(name)
        norm.setTraining(true)
        let (y, dx) = run([try fixture(name, "x")], dy: try fixture(name, "dy")) { norm($0[0]) }
        assertClose(y, try fixture(name, "y"), tolerance: 1e-4, "y")
        assertClose(dx[0], try fixture(name, "dx"), tolerance: 1e-4, "dx")
        assertClose(norm.gamma.gradient!, try fixture(name, "dgamma"), tolerance: 1e-4, "dgamma")
        assertClose(norm.beta.gradient!, try fixture(name, "dbeta"), tolerance: 1e-4, "dbeta")
        assertClose(norm.runningMean.value, try fixture(name, "new_moving_mean"), tolerance: 1e-6, "moving mean")
        assertClose(
            norm.runningVariance.value, try fixture(name, "new_moving_variance"), tolerance: 1e-6,
            "moving variance")
    }

    func testBatchNormInference() throws {
        let name = "batchnorm_inference"
        let norm = try makeBatchNorm(name)
        norm.setTraining(false)
        let (y, dx) = run([try fixture(name, "x")], dy: try fixture(name, "dy")) { norm($0[0]) }
        assertClose(y, try fixture(name, "y"), tolerance: 1e-4, "y")
        assertClose(dx[0], try fixture(name, "dx"), tolerance: 1e-4, "dx")
        assertClose(norm.gamma.gradient!, try fixture(name, "dgamma"), tolerance: 1e-4, "dgamma")
        assertClose(norm.beta.gradient!, try fixture(name, "dbeta"), tolerance: 1e-4, "dbeta")
        XCTAssertEqual(norm.runningMean.value.scalars, try fixture(name, "moving_mean").scalars)
        XCTAssertEqual(norm.runningVariance.value.scalars, try fixture(name, "moving_variance").scalars)
    }

    /// PyTorch's InstanceNorm2d(affine: true, eps: 1e-5), fixture transposed to NHWC.
    func testInstanceNorm() throws {
        let name = "instance_norm"
        let norm = InstanceNorm(3, epsilon: 1e-5, affine: true)
        norm.gamma!.value = try fixture(name, "gamma")
        norm.beta!.value = try fixture(name, "beta")
        let (y, dx) = run([try fixture(name, "x")], dy: try fixture(name, "dy")) { norm($0[0]) }
        assertClose(y, try fixture(name, "y"), tolerance: 1e-4, "y")
        assertClose(dx[0], try fixture(name, "dx"), tolerance: 1e-4, "dx")
        assertClose(norm.gamma!.gradient!, try fixture(name, "dgamma"), tolerance: 1e-4, "dgamma")
        assertClose(norm.beta!.gradient!, try fixture(name, "dbeta"), tolerance: 1e-4, "dbeta")
    }

    func testLeakyReLU() throws {
        let name = "leaky_relu"
        let layer = LeakyReLU(slope: 0.2)
        let (y, dx) = run([try fixture(name, "x")], dy: try fixture(name, "dy")) { layer($0[0]) }
        assertClose(y, try fixture(name, "y"), tolerance: 1e-6, "y")
        assertClose(dx[0], try fixture(name, "dx"), tolerance: 1e-6, "dx")
    }

    func testConcatenate() throws {
        let name = "concatenate"
        let layer = Concatenate(axis: -1)
        let inputs = [try fixture(name, "x0"), try fixture(name, "x1")]
        let (y, dx) = run(inputs, dy: try fixture(name, "dy")) { layer($0) }
        XCTAssertEqual(y.scalars, try fixture(name, "y").scalars)
        XCTAssertEqual(y.shape, [2, 3, 3, 5])
        XCTAssertEqual(dx[0].scalars, try fixture(name, "dx0").scalars)
        XCTAssertEqual(dx[1].scalars, try fixture(name, "dx1").scalars)
    }
}
