// Benchmark access to the three passes of a (transposed) convolution without the tape, so
// `kernel-benchmark` can time each GEMM pass on its own. Behind an SPI: not part of the API.

/// One of the three passes of a convolution's training step.
@_spi(Benchmarks) public enum ConvolutionPass: String, CaseIterable, Sendable {
    /// y from x.
    case forward
    /// ∂x from ∂y.
    case inputGradient
    /// ∂kernel from x and ∂y.
    case kernelGradient
}

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
        set { ConvGeometry.scratchBudget = max(1, newValue) }
    }

    /// FLOPs of each pass: 2·N·Ho·Wo·k²·Cin·Cout of the underlying convolution.
    public var flops: Double { geometry.flops }

    /// - Parameters:
    ///   - input: `[N, H, W, Cin]`.
    ///   - kernel: `[k, k, Cin, Cout]`, or `[k, k, Cout, Cin]` when `transposed`.
    public init(input: Tensor, kernel: Tensor, stride: Int, padding: Padding, transposed: Bool) {
        let reference = transposed ? conv2DTranspose(input.detached(), kernel: kernel.detached(), stride: stride, padding: padding)
                                   : conv2D(input.detached(), kernel: kernel.detached(), stride: stride, padding: padding)
        let (small, large) = transposed ? (input.shape, reference.shape) : (reference.shape, input.shape)
        geometry = ConvGeometry(batch: large[0], inputHeight: large[1], inputWidth: large[2], inputChannels: large[3],
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
        withExtendedLifetime(self) {
            let g = geometry, rows = g.rows, patch = g.patchSize, cout = g.outputChannels
            let p = patches.storage.pointer, w = kernel.storage.pointer
            // The [rows, Cout] side of the underlying convolution: its output (our input if transposed).
            let small = transposed ? input.storage.pointer : output.storage.pointer
            switch pass {
            case .forward where !transposed, .inputGradient where transposed:
                sgemm(transposeA: false, transposeB: false, m: rows, n: cout, k: patch, a: p, lda: patch, b: w, ldb: cout, c: small, ldc: cout)
            case .forward, .inputGradient:
                sgemm(transposeA: false, transposeB: true, m: rows, n: patch, k: cout, a: small, lda: cout, b: w, ldb: cout, c: p, ldc: patch)
            case .kernelGradient:
                sgemm(transposeA: true, transposeB: false, m: patch, n: cout, k: rows, a: p, lda: patch, b: small, ldb: cout,
                      c: kernelGradient.storage.pointer, ldc: cout)
            }
        }
    }

    /// Runs `pass` once, writing into the preallocated result.
    public func run(_ pass: ConvolutionPass) {
        withExtendedLifetime(self) {
            let g = geometry
            let (x, w, y) = (input.storage.pointer, kernel.storage.pointer, output.storage.pointer)
            let (dx, dw, dy) = (inputGradient.storage.pointer, kernelGradient.storage.pointer, outputGradient.storage.pointer)
            switch (pass, transposed) {
            case (.forward, false): convolutionForward(input: x, kernel: w, bias: nil, output: y, geometry: g)
            case (.inputGradient, false): convolutionInputGradient(outputGradient: dy, kernel: w, inputGradient: dx, geometry: g)
            case (.kernelGradient, false): convolutionKernelGradient(input: x, outputGradient: dy, kernelGradient: dw, geometry: g)
            case (.forward, true): transposedForward(input: x, kernel: w, output: y, geometry: g)
            case (.inputGradient, true): convolutionForward(input: dy, kernel: w, bias: nil, output: dx, geometry: g)
            case (.kernelGradient, true): convolutionKernelGradient(input: dy, outputGradient: x, kernelGradient: dw, geometry: g)
            }
        }
    }
}
