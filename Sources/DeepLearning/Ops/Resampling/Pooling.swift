// 2-D max and average pooling of NHWC tensors with PyTorch's semantics (`F.max_pool2d`,
// `F.avg_pool2d`: symmetric padding, `ceil_mode`, `count_include_pad`; no dilation, no
// `divisor_override`), the global pools, and their pullbacks. The geometry is here; the loops,
// forward and backward side by side, are in PoolingKernels.swift.

/// Max pooling over the height and width of `[N, H, W, C]`, PyTorch's `F.max_pool2d` on NHWC.
///
/// The output is `[N, Ho, Wo, C]` with, per axis (input `L`, kernel `k`, stride `s`, padding `p`),
/// `Lo = ⌊(L + 2p − k) / s⌋ + 1`; with `ceilMode`, `Lo = ⌈(L + 2p − k) / s⌉ + 1`, minus one if
/// that last window would start at or after `L + p` (inside the right padding), as PyTorch does.
/// Window `o` covers input indices `o·s − p ..< o·s − p + k`; the padding is −∞, so only real
/// elements are ever chosen (every window holds at least one).
///
/// Gradient: each output's gradient goes to the argmax of its window, accumulated where
/// windows overlap (`stride < kernel`). Ties go to the first maximum in row-major window order;
/// a NaN in a window propagates to the output and takes the gradient (the last NaN), as in
/// PyTorch's CPU kernel.
///
/// - Parameters:
///   - x: `[N, H, W, C]`, any batch size (also 0).
///   - kernelSize: the window's (height, width).
///   - stride: the step (height, width); default `kernelSize` (PyTorch's default).
///   - padding: rows and columns added on each side (height, width); default none.
///   - ceilMode: round the output size up (PyTorch `ceil_mode=True`); default `false`.
/// - Precondition: `x` has rank 4; kernel and stride are positive; `0 ≤ padding ≤ kernel / 2`
///   (integer division, PyTorch's rule); the output has at least one row and column (the
///   window fits the padded input, or `ceilMode` still yields a window); `H·W < 2³¹`.
public func maxPool2D(
    _ x: Tensor, kernelSize: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0),
    ceilMode: Bool = false
) -> Tensor {
    let geometry = PoolingGeometry(
        "maxPool2D", x, kernelSize: kernelSize, stride: stride ?? kernelSize, padding: padding, ceilMode: ceilMode)
    return maxPool(x, geometry, outputShape: geometry.outputShape, op: "maxPool2D")
}

/// `maxPool2D` with a square `kernelSize`×`kernelSize` window, stride and padding.
public func maxPool2D(
    _ x: Tensor, kernelSize: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false
) -> Tensor {
    maxPool2D(
        x, kernelSize: (kernelSize, kernelSize), stride: stride.map { ($0, $0) }, padding: (padding, padding),
        ceilMode: ceilMode)
}

/// Average pooling over the height and width of `[N, H, W, C]`, PyTorch's `F.avg_pool2d` on NHWC.
///
/// Output size and windows are those of `maxPool2D`, with zero padding. Each output is the sum
/// of the real input elements in its window divided by, with `clip(a..<b)` the window's rows
/// (or columns) `o·s − p ..< o·s − p + k` intersected with a range:
///
/// - `countIncludePad: true` (PyTorch's default): the window's size clipped to the *padded*
///   input, `|clip(−p ..< L + p)|` rows × the same for columns. Padding counts, but the part of
///   a `ceilMode` window that hangs past the right padding does not.
/// - `countIncludePad: false`: the number of real input elements in the window,
///   `|clip(0 ..< L)|` rows × columns.
///
/// With `ceilMode`, a last window that would start in the right padding is dropped (see
/// `maxPool2D`), so every window holds at least one real element and no divisor is zero.
///
/// Gradient: each output's gradient divided by its divisor, added to every real element of its
/// window (accumulated where windows overlap).
///
/// - Parameters:
///   - x: `[N, H, W, C]`, any batch size (also 0).
///   - kernelSize: the window's (height, width).
///   - stride: the step (height, width); default `kernelSize`.
///   - padding: zero rows and columns added on each side (height, width); default none.
///   - ceilMode: round the output size up (PyTorch `ceil_mode=True`); default `false`.
///   - countIncludePad: whether padding counts in the divisor, as above; default `true`.
/// - Precondition: as for `maxPool2D`.
public func avgPool2D(
    _ x: Tensor, kernelSize: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0),
    ceilMode: Bool = false, countIncludePad: Bool = true
) -> Tensor {
    let geometry = PoolingGeometry(
        "avgPool2D", x, kernelSize: kernelSize, stride: stride ?? kernelSize, padding: padding, ceilMode: ceilMode)
    return averagePool(
        x, geometry, countIncludePad: countIncludePad, outputShape: geometry.outputShape, op: "avgPool2D")
}

/// `avgPool2D` with a square `kernelSize`×`kernelSize` window, stride and padding.
public func avgPool2D(
    _ x: Tensor, kernelSize: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false,
    countIncludePad: Bool = true
) -> Tensor {
    avgPool2D(
        x, kernelSize: (kernelSize, kernelSize), stride: stride.map { ($0, $0) }, padding: (padding, padding),
        ceilMode: ceilMode, countIncludePad: countIncludePad)
}

/// The mean over height and width: `[N, H, W, C]` → `[N, C]`, or `[N, 1, 1, C]` when
/// `keepingDimensions` (Keras `GlobalAveragePooling2D(keepdims:)`, PyTorch
/// `F.adaptive_avg_pool2d(x, 1)`). The gradient spreads each output's gradient evenly.
///
/// - Precondition: `x` is `[N, H, W, C]` with `H, W ≥ 1`.
public func globalAveragePool2D(_ x: Tensor, keepingDimensions: Bool = false) -> Tensor {
    let geometry = PoolingGeometry.global("globalAveragePool2D", x)
    return averagePool(
        x, geometry, countIncludePad: true, outputShape: geometry.globalShape(keepingDimensions: keepingDimensions),
        op: "globalAveragePool2D")
}

/// The maximum over height and width: `[N, H, W, C]` → `[N, C]`, or `[N, 1, 1, C]` when
/// `keepingDimensions` (Keras `GlobalMaxPooling2D(keepdims:)`, PyTorch
/// `F.adaptive_max_pool2d(x, 1)`). As in `maxPool2D` with an `H`×`W` window, the gradient goes
/// to the first maximum in row-major order (PyTorch's rule; TensorFlow's `reduce_max` would
/// share it among ties).
///
/// - Precondition: `x` is `[N, H, W, C]` with `H, W ≥ 1` and `H·W < 2³¹`.
public func globalMaxPool2D(_ x: Tensor, keepingDimensions: Bool = false) -> Tensor {
    let geometry = PoolingGeometry.global("globalMaxPool2D", x)
    return maxPool(
        x, geometry, outputShape: geometry.globalShape(keepingDimensions: keepingDimensions), op: "globalMaxPool2D")
}

/// Checks a pooling layer's or op's settings, independently of any input.
func checkPoolingSettings(_ op: String, kernelSize: (Int, Int), stride: (Int, Int), padding: (Int, Int)) {
    precondition(
        kernelSize.0 > 0 && kernelSize.1 > 0, "\(op): kernel size \(kernelSize) must be positive")
    precondition(stride.0 > 0 && stride.1 > 0, "\(op): stride \(stride) must be positive")
    precondition(
        padding.0 >= 0 && padding.1 >= 0 && padding.0 <= kernelSize.0 / 2 && padding.1 <= kernelSize.1 / 2,
        "\(op): padding \(padding) must be between 0 and half the kernel size \(kernelSize), i.e. at most "
            + "\((kernelSize.0 / 2, kernelSize.1 / 2)) (PyTorch's rule)")
}

/// The windows of pooling along one spatial axis, as PyTorch computes them
/// (`pooling_output_shape`, see `maxPool2D`).
struct PoolingAxis {
    let input: Int, kernel: Int, stride: Int, padding: Int
    /// The number of windows (output size); may be ≤ 0 for settings that do not fit.
    let output: Int

    init(input: Int, kernel: Int, stride: Int, padding: Int, ceilMode: Bool) {
        (self.input, self.kernel, self.stride, self.padding) = (input, kernel, stride, padding)
        let span = input + 2 * padding - kernel + (ceilMode ? stride - 1 : 0)
        // Floor division (PyTorch's `div_rtn`): `span` may be negative.
        var output = (span >= 0 ? span / stride : -((-span + stride - 1) / stride)) + 1
        if ceilMode && (output - 1) * stride >= input + padding { output -= 1 }
        self.output = output
    }

    /// The input indices of window `o` inside the input, `lower..<upper` (never empty).
    @inline(__always)
    func window(_ o: Int) -> (lower: Int, upper: Int) {
        let start = o * stride - padding
        return (Swift.max(start, 0), Swift.min(start + kernel, input))
    }

    /// The size of window `o` clipped to the padded input: `count_include_pad`'s divisor.
    @inline(__always)
    func paddedSize(_ o: Int) -> Int {
        let start = o * stride - padding
        return Swift.min(start + kernel, input + padding) - start
    }

    /// How many consecutive windows can share an input index: ⌈kernel / stride⌉.
    var overlap: Int { (kernel + stride - 1) / stride }
}

/// The sizes of a pooling op's input and its two axes, checked.
struct PoolingGeometry {
    let batch: Int, height: Int, width: Int, channels: Int
    let rows: PoolingAxis, columns: PoolingAxis

    init(
        _ op: String, _ x: Tensor, kernelSize: (Int, Int), stride: (Int, Int), padding: (Int, Int), ceilMode: Bool
    ) {
        precondition(x.rank == 4, "\(op): needs an [N, H, W, C] input, got \(describeShape(x.shape))")
        checkPoolingSettings(op, kernelSize: kernelSize, stride: stride, padding: padding)
        (batch, height, width, channels) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        rows = PoolingAxis(
            input: height, kernel: kernelSize.0, stride: stride.0, padding: padding.0, ceilMode: ceilMode)
        columns = PoolingAxis(
            input: width, kernel: kernelSize.1, stride: stride.1, padding: padding.1, ceilMode: ceilMode)
        precondition(
            rows.output >= 1 && columns.output >= 1,
            "\(op): a \(kernelSize) window with stride \(stride) and padding \(padding) does not fit the "
                + "\(height)×\(width) input of \(describeShape(x.shape)) (output would be "
                + "\(rows.output)×\(columns.output))")
    }

    /// One window covering the whole image.
    static func global(_ op: String, _ x: Tensor) -> PoolingGeometry {
        precondition(
            x.rank == 4 && x.shape[1] > 0 && x.shape[2] > 0,
            "\(op): needs an [N, H, W, C] input with H, W ≥ 1, got \(describeShape(x.shape))")
        return PoolingGeometry(
            op, x, kernelSize: (x.shape[1], x.shape[2]), stride: (x.shape[1], x.shape[2]), padding: (0, 0),
            ceilMode: false)
    }

    var inputShape: [Int] { [batch, height, width, channels] }
    var outputShape: [Int] { [batch, rows.output, columns.output, channels] }
    func globalShape(keepingDimensions: Bool) -> [Int] {
        keepingDimensions ? [batch, 1, 1, channels] : [batch, channels]
    }
}

/// Max pooling with its pullback; `outputShape` has the elements of `geometry.outputShape`.
private func maxPool(_ x: Tensor, _ geometry: PoolingGeometry, outputShape: [Int], op: StaticString) -> Tensor {
    precondition(
        geometry.height * geometry.width <= Int(Int32.max),
        "\(op): \(geometry.height)×\(geometry.width) positions exceed the 2³¹ − 1 that argmax indices hold")
    // The argmax positions are only kept when a gradient will be asked for.
    let needsIndices = GradientMode.isRecording && x.requiresGradient
    let (output, argmax) = geometry.maxForward(x, recordingArgmax: needsIndices)
    return Tensor.recording(output.withShape(outputShape), inputs: [x], op: op) { gradient, _ in
        [scatterToMaxima(gradient, geometry, argmax: argmax)]
    }
}

/// Max pooling's pullback: each output's gradient added at its argmax; recorded as a linear map
/// whose adjoint reads the argmax positions back (`gatherAtMaxima`).
private func scatterToMaxima(_ gradient: Tensor, _ geometry: PoolingGeometry, argmax: [Int32]) -> Tensor {
    let outputShape = gradient.shape
    return gradient.linearMap({ geometry.maxBackward($0, argmax: argmax) }) { upstream in
        gatherAtMaxima(upstream, geometry, argmax: argmax, outputShape: outputShape)
    }
}

/// The adjoint of `scatterToMaxima`: each output position reads its argmax in `upstream`.
private func gatherAtMaxima(
    _ upstream: Tensor, _ geometry: PoolingGeometry, argmax: [Int32], outputShape: [Int]
) -> Tensor {
    upstream.linearMap({ geometry.maxGather($0, argmax: argmax).withShape(outputShape) }) { gradient in
        scatterToMaxima(gradient, geometry, argmax: argmax)
    }
}

/// Average pooling with its pullback; `outputShape` has the elements of `geometry.outputShape`.
private func averagePool(
    _ x: Tensor, _ geometry: PoolingGeometry, countIncludePad: Bool, outputShape: [Int], op: StaticString
) -> Tensor {
    let output = geometry.averageForward(x, countIncludePad: countIncludePad)
    return Tensor.recording(output.withShape(outputShape), inputs: [x], op: op) { gradient, _ in
        // Linear: the pullback's own pullback is this op again.
        [
            gradient.linearMap({ geometry.averageBackward($0, countIncludePad: countIncludePad) }) {
                averagePool($0, geometry, countIncludePad: countIncludePad, outputShape: outputShape, op: op)
            }
        ]
    }
}
