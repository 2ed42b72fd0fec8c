// The index arithmetic of one 2-D convolution: output sizes, padding split, patch sizes, and
// the chunking of output lines that bounds the patch matrix in memory (see Im2col.swift).

/// The index arithmetic of one 2-D convolution (kernel, strides, dilation and channel groups
/// per axis; TensorFlow's or explicit padding). Transposed convolutions use the geometry of
/// the convolution they are the adjoint of: its "input" is their output.
struct ConvGeometry {
    let batch: Int
    let inputHeight: Int, inputWidth: Int, inputChannels: Int
    let outputHeight: Int, outputWidth: Int, outputChannels: Int
    let kernelHeight: Int, kernelWidth: Int
    let strideHeight: Int, strideWidth: Int
    let dilationHeight: Int, dilationWidth: Int
    /// Channel groups: input and output channels split into `groups` blocks convolved apart.
    let groups: Int
    /// Zero rows above / columns left of the input; the bottom/right get the rest.
    let padTop: Int, padLeft: Int

    /// Floats of patch matrix per chunk on the calling thread: big enough for efficient GEMMs
    /// (hundreds of rows even for K = 4·4·512), small enough to keep peak memory flat. Per
    /// thread so tests and benchmarks can force chunking without touching other threads; the
    /// chunking changes the order of the kernel gradient's sums, and so its rounding.
    static var scratchBudget: Int {
        get { ThreadState.current.kernelSettings.scratchBudget }
        set { ThreadState.current.kernelSettings.scratchBudget = Swift.max(1, newValue) }
    }

    init(
        batch: Int, inputHeight: Int, inputWidth: Int, inputChannels: Int, outputChannels: Int,
        kernelSize: (Int, Int), stride: (Int, Int), padding: Padding, dilation: (Int, Int) = (1, 1), groups: Int = 1
    ) {
        self.batch = batch
        self.inputHeight = inputHeight
        self.inputWidth = inputWidth
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        (kernelHeight, kernelWidth) = kernelSize
        (strideHeight, strideWidth) = stride
        (dilationHeight, dilationWidth) = dilation
        self.groups = groups
        func axis(_ size: Int, _ k: Int, _ s: Int, _ d: Int, _ explicit: Int?) -> (output: Int, before: Int) {
            let extent = d * (k - 1) + 1
            switch padding {
            case .valid:
                return (size >= extent ? (size - extent) / s + 1 : 0, 0)
            case .same:
                // TensorFlow: the total padding is split with the odd row at the bottom/right.
                let output = (size + s - 1) / s
                return (output, Swift.max((output - 1) * s + extent - size, 0) / 2)
            case .explicit:
                let padded = size + 2 * explicit!
                return (padded >= extent ? (padded - extent) / s + 1 : 0, explicit!)
            }
        }
        var explicitHeight: Int?, explicitWidth: Int?
        if case let .explicit(height, width) = padding { (explicitHeight, explicitWidth) = (height, width) }
        (outputHeight, padTop) = axis(inputHeight, kernelHeight, strideHeight, dilationHeight, explicitHeight)
        (outputWidth, padLeft) = axis(inputWidth, kernelWidth, strideWidth, dilationWidth, explicitWidth)
    }

    /// The square-kernel, equal-stride geometry of the pix2pix layers.
    init(
        batch: Int, inputHeight: Int, inputWidth: Int, inputChannels: Int, outputChannels: Int,
        kernelSize: Int, stride: Int, padding: Padding
    ) {
        self.init(
            batch: batch, inputHeight: inputHeight, inputWidth: inputWidth, inputChannels: inputChannels,
            outputChannels: outputChannels, kernelSize: (kernelSize, kernelSize), stride: (stride, stride),
            padding: padding)
    }

    /// Input channels of one group.
    var groupInputChannels: Int { inputChannels / groups }
    /// Output channels of one group.
    var groupOutputChannels: Int { outputChannels / groups }
    /// Columns of one group's patch matrix: kh·kw·Cin/groups.
    var patchSize: Int { kernelHeight * kernelWidth * groupInputChannels }
    /// Rows of the patch matrix: N·Ho·Wo.
    var rows: Int { batch * outputHeight * outputWidth }
    /// 2·N·Ho·Wo·kh·kw·(Cin/groups)·Cout, the FLOPs of one GEMM pass.
    var flops: Double { 2 * Double(rows) * Double(patchSize) * Double(outputChannels) }

    /// A 1×1 stride-1 unpadded ungrouped convolution is a plain matrix product on the input itself.
    var isPointwise: Bool {
        kernelHeight == 1 && kernelWidth == 1 && strideHeight == 1 && strideWidth == 1 && padTop == 0
            && padLeft == 0 && groups == 1
    }

    /// Output image lines (n, oy) per chunk so that one chunk's patch matrix fits the budget.
    var linesPerChunk: Int {
        Swift.max(
            1, Swift.min(batch * outputHeight, ConvGeometry.scratchBudget / Swift.max(1, outputWidth * patchSize)))
    }

    /// Calls `body(firstLine, lineCount)` for consecutive chunks of output lines.
    func forEachChunk(_ body: (_ firstLine: Int, _ lineCount: Int) -> Void) {
        let lines = batch * outputHeight, step = linesPerChunk
        var first = 0
        while first < lines {
            body(first, Swift.min(step, lines - first))
            first += step
        }
    }
}
