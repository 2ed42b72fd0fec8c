// Benchmark access to the three passes of a (transposed) convolution without the graph, so
// `kernel-benchmark` can time each GEMM pass on its own. Behind an SPI: not part of the API.

/// Preallocated operands for timing the passes of `conv2D` (or `conv2DTranspose` when
/// `transposed`) with the given input and kernel shapes, no bias.
@_spi(Benchmarks) public final class ConvolutionPassRunner {
    private let geometry: ConvGeometry
    private let transposed: Bool
    private let input: Tensor, kernel: Tensor, output: Tensor
    private let inputGradient: Tensor, kernelGradient: Tensor, outputGradient: Tensor

    /// Floats of patch matrix processed per chunk, for every convolution in the process.
    public static var scratchBudget: Int {
        get { ConvGeometry.scratchBudget }
        set { ConvGeometry.scratchBudget = newValue }
    }

    /// FLOPs of each pass: 2·N·Ho·Wo·k²·Cin·Cout of the underlying convolution.
    public var flops: Double { geometry.flops }

    /// - Parameters:
    ///   - input: `[N, H, W, Cin]`.
    ///   - kernel: `[k, k, Cin, Cout]`, or `[k, k, Cout, Cin]` when `transposed`.
    public init(input: Tensor, kernel: Tensor, stride: Int, padding: Padding, transposed: Bool) {
        let reference =
            transposed
            ? conv2DTranspose(input.detached(), kernel: kernel.detached(), stride: stride, padding: padding)
            : conv2D(input.detached(), kernel: kernel.detached(), stride: stride, padding: padding)
        let (small, large) = transposed ? (input.shape, reference.shape) : (reference.shape, input.shape)
        geometry = ConvGeometry(
            batch: large[0], inputHeight: large[1], inputWidth: large[2], inputChannels: large[3],
            outputChannels: small[3], kernelSize: kernel.shape[0], stride: stride, padding: padding)
        self.transposed = transposed
        self.input = input.detached()
        self.kernel = kernel.detached()
        output = Tensor(shape: reference.shape, repeating: 0)
        outputGradient = Tensor(shape: reference.shape, repeating: 0.5)
        inputGradient = Tensor(shape: input.shape, repeating: 0)
        kernelGradient = Tensor(shape: kernel.shape, repeating: 0)
    }

    /// The whole patch matrix [N·Ho·Wo, k²·Cin], allocated on first use by `runMatrixProductOnly`.
    private lazy var patches = Tensor(shape: [geometry.rows, geometry.patchSize], repeating: 0.25)

    /// Runs only the sgemm call of `pass` on a ready patch matrix (no im2col/col2im): the
    /// ceiling the full pass is measured against.
    public func runMatrixProductOnly(_ pass: ConvolutionPass) {
        let g = geometry, rows = g.rows, patch = g.patchSize, cout = g.outputChannels
        // The [rows, Cout] side of the underlying convolution: its output (our input if transposed).
        withPointers(patches, kernel, transposed ? input : output, kernelGradient) { p, w, small, dw in
            switch pass {
            case .forward where !transposed, .inputGradient where transposed:
                sgemm(
                    transposeA: false, transposeB: false, m: rows, n: cout, k: patch, a: p, lda: patch, b: w, ldb: cout,
                    c: small, ldc: cout)
            case .forward, .inputGradient:
                sgemm(
                    transposeA: false, transposeB: true, m: rows, n: patch, k: cout, a: small, lda: cout, b: w,
                    ldb: cout,
                    c: p, ldc: patch)
            case .kernelGradient:
                sgemm(
                    transposeA: true, transposeB: false, m: patch, n: cout, k: rows, a: p, lda: patch, b: small,
                    ldb: cout,
                    c: dw, ldc: cout)
            }
        }
    }

    /// Runs `pass` once, writing into the preallocated result.
    public func run(_ pass: ConvolutionPass) {
        withPointers(input, kernel, output, inputGradient, kernelGradient, outputGradient) { x, w, y, dx, dw, dy in
            switch pass {
            case .forward: geometry.forward(transposed: transposed, input: x, kernel: w, bias: nil, output: y)
            case .inputGradient:
                geometry.inputGradient(transposed: transposed, outputGradient: dy, kernel: w, inputGradient: dx)
            case .kernelGradient:
                geometry.kernelGradient(transposed: transposed, input: x, outputGradient: dy, kernelGradient: dw)
            }
        }
    }
}
