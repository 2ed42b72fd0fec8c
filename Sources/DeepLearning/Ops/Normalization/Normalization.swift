import Foundation

// Batch and instance normalisation as one fused op each way. Both normalise a tensor viewed
// as [subBatches, rows, channels]: batch norm has one sub-batch (statistics over N·H·W rows per
// channel), instance norm one sub-batch per sample (statistics over H·W rows). The pullback is
// the closed form
//     ∂x = (γ/σ) · (∂y − mean(∂y) − x̂ · mean(∂y · x̂))
// with means over the rows of a sub-batch, and ∂γ = Σ ∂y·x̂, ∂β = Σ ∂y over everything.

/// Per-(sub-batch, channel) statistics of a [subBatches, rows, channels] buffer.
struct NormalizationStatistics {
    var mean: [Float]
    /// Biased (population) variance, as used for normalising.
    var variance: [Float]
    /// Rows per sub-batch they are over (all processes' with a cross-process reducer); 0 when given.
    var rows = 0
}

/// Sums small vectors elementwise over the processes of a data-parallel job, in place: what
/// synchronised batch normalisation needs (`BatchNorm.synchronized(over:_:)`). The `Distributed`
/// module's `ProcessGroup` is one. Every process must call it in the same order.
public protocol CrossProcessReducer: AnyObject {
    /// Replaces `values` by their elementwise sum over all processes.
    func sumOverProcesses(_ values: inout [Float])
}

/// Computes mean and biased variance per (sub-batch, channel) in two passes (mean, then
/// squared deviations), which is far more accurate in Float32 than E[x²] − E[x]².
///
/// With a `reducer` the statistics are over the rows of every process: Σx (and the row count),
/// then Σ(x − μ)² with the global μ, each summed by it — the statistics one process would
/// compute over everyone's rows, up to summation order.
func normalizationStatistics(
    _ x: UnsafePointer<Float>, subBatches: Int, rows: Int, channels: Int, reducer: CrossProcessReducer? = nil
) -> NormalizationStatistics {
    var sums = [Float](repeating: 0, count: subBatches * channels)
    for s in 0..<subBatches {
        let base = x + s * rows * channels
        let local = channelSums(rows: rows, channels: channels) { r, acc in
            let row = base + r * channels
            for c in 0..<channels { acc[c] += row[c] }
        }
        for c in 0..<channels { sums[s * channels + c] = local[c] }
    }
    var total = rows
    if let reducer {
        sums.append(Float(rows))
        reducer.sumOverProcesses(&sums)
        total = Int(sums.removeLast())
    }
    let mean = sums.map { $0 / Float(Swift.max(total, 1)) }
    var squares = [Float](repeating: 0, count: subBatches * channels)
    mean.withUnsafeBufferPointer { mu in
        for s in 0..<subBatches {
            let base = x + s * rows * channels, subBatchMean = mu.baseAddress! + s * channels
            let local = channelSums(rows: rows, channels: channels) { r, acc in
                let row = base + r * channels
                for c in 0..<channels {
                    let d = row[c] - subBatchMean[c]
                    acc[c] += d * d
                }
            }
            for c in 0..<channels { squares[s * channels + c] = local[c] }
        }
    }
    reducer?.sumOverProcesses(&squares)
    return NormalizationStatistics(mean: mean, variance: squares.map { $0 / Float(Swift.max(total, 1)) }, rows: total)
}

/// y = γ·(x − μ)/√(σ² + ε) + β over a [subBatches, rows, channels] view, then `activation`, with
/// the given (or computed) statistics, and its pullback. Activations that the fused kernels
/// cannot express (leaky ReLU with a non-positive slope) are applied as a separate op.
///
/// - Parameters:
///   - shape: the full input shape (for the output and error messages).
///   - statistics: per (sub-batch, channel) mean and variance; when `nil` they are computed from
///     `input` (training) and the pullback includes their dependence on `input`.
///   - reducer: with computed statistics, sums them (and the pullback's sums for ∂x) over all
///     processes: synchronised batch normalisation. ∂γ and ∂β stay this process's own, for
///     the data-parallel gradient average to combine.
func normalize(
    _ input: Tensor, gamma: Tensor?, beta: Tensor?, subBatches: Int, epsilon: Float,
    statistics fixed: NormalizationStatistics? = nil, activation: Activation = .identity,
    reducer: CrossProcessReducer? = nil
)
    -> (output: Tensor, statistics: NormalizationStatistics)
{
    let op = NormalizeOp(
        input: input, gamma: gamma, beta: beta, subBatches: subBatches, epsilon: epsilon, statistics: fixed,
        reducer: reducer)
    if let result = activation.withKernel(op) { return result }
    let (output, statistics) = op(IdentityFunction())
    return (activation(output), statistics)
}

/// `normalize` with the arguments bound, run once the activation's kernel is known.
private struct NormalizeOp: ActivationKernelUser {
    let input: Tensor, gamma: Tensor?, beta: Tensor?, subBatches: Int, epsilon: Float
    let statistics: NormalizationStatistics?
    let reducer: CrossProcessReducer?

    func callAsFunction<A: ElementwiseFunction>(
        _ activation: A
    ) -> (output: Tensor, statistics: NormalizationStatistics) {
        normalize(
            input, gamma: gamma, beta: beta, subBatches: subBatches, epsilon: epsilon, statistics: statistics,
            activation,
            reducer: reducer)
    }
}

/// The fused kernels behind `normalize(_:…activation:)`, specialised per activation.
private func normalize<A: ElementwiseFunction>(
    _ input: Tensor, gamma: Tensor?, beta: Tensor?, subBatches: Int, epsilon: Float,
    statistics fixed: NormalizationStatistics?, _ activation: A, reducer: CrossProcessReducer?
)
    -> (output: Tensor, statistics: NormalizationStatistics)
{
    let channels = input.shape[input.rank - 1]
    let rows = input.count / Swift.max(subBatches * channels, 1)
    let reducer = fixed == nil ? reducer : nil
    let statistics =
        fixed
        ?? input.withPointer {
            normalizationStatistics($0, subBatches: subBatches, rows: rows, channels: channels, reducer: reducer)
        }
    let inverseDeviation = statistics.variance.map { 1 / ($0 + epsilon).squareRoot() }
    // Per (sub-batch, channel): y = activation(x·scale + shift).
    var scale = [Float](repeating: 0, count: subBatches * channels), shift = scale
    let g = gamma?.scalars, b = beta?.scalars
    for i in 0..<(subBatches * channels) {
        let c = i % channels
        scale[i] = (g?[c] ?? 1) * inverseDeviation[i]
        shift[i] = (b?[c] ?? 0) - statistics.mean[i] * scale[i]
    }
    let output = Tensor(uninitializedShape: input.shape)
    withPointers(input, output) { x, y in
        rowAffine(activation, x, y, subBatches: subBatches, rows: rows, channels: channels, scale: scale, shift: shift)
    }
    let usesBatchStatistics = fixed == nil
    let inputValue = input.detached()
    // The pullback recovers the activation's derivative from its output.
    let savedOutput: Tensor? = A.self == IdentityFunction.self ? nil : output.detached()
    let inputs = RecordedInputs(input: input, gamma: gamma, beta: beta)
    func pullback(_ outputGradient: Tensor, _ needed: [Bool], recordedOutput: Tensor?) -> [Tensor?] {
        if GradientMode.isRecording {
            precondition(
                reducer == nil,
                "createGraph: synchronised batch norm (BatchNorm.synchronized) cannot be differentiated twice")
            let view = [subBatches, rows, channels]
            return inputs.recordedGradients(
                outputGradient, output: recordedOutput, needed: needed, view: view, axes: [1], epsilon: epsilon,
                statistics: usesBatchStatistics
                    ? nil
                    : (
                        Tensor(shape: [subBatches, 1, channels], scalars: statistics.mean),
                        Tensor(shape: [subBatches, 1, channels], scalars: inverseDeviation)
                    ),
                activation: activation)
        }
        // Without a saved output (identity) the derivative needs none: ∂y stands in for y.
        // Σ ∂z and Σ ∂z·x̂ per (sub-batch, channel), ∂z = ∂y·activation′: one pass over ∂y, y and x.
        let (sumDz, sumDzXhat) = withPointers(outputGradient, inputValue, savedOutput) { dy, x, y in
            gradientSums(
                activation, dy: dy, y: y ?? dy, x: x, mean: statistics.mean, inverseDeviation: inverseDeviation,
                subBatches: subBatches, rows: rows, channels: channels)
        }
        var inputGradient: Tensor?
        if needed[0] {
            // ∂x = a·∂z + bx·x + c per (sub-batch, channel), folded into one affine pass.
            var a = [Float](repeating: 0, count: subBatches * channels), bx = a, c0 = a
            var n = Float(Swift.max(rows, 1))
            // Synchronised: the means of ∂z and ∂z·x̂ are over every process's rows.
            var globalDz = sumDz, globalDzXhat = sumDzXhat
            if let reducer {
                var both = sumDz + sumDzXhat
                reducer.sumOverProcesses(&both)
                globalDz = Array(both[0..<(subBatches * channels)])
                globalDzXhat = Array(both[(subBatches * channels)...])
                n = Float(Swift.max(statistics.rows, 1))
            }
            for i in 0..<(subBatches * channels) {
                let gammaC = g?[i % channels] ?? 1
                a[i] = gammaC * inverseDeviation[i]
                if usesBatchStatistics {
                    let meanDz = globalDz[i] / n, meanDzXhat = globalDzXhat[i] / n
                    // x̂ = (x − μ)·inv  ⇒  −a·x̂·meanDzXhat = bx·x + const
                    bx[i] = -a[i] * meanDzXhat * inverseDeviation[i]
                    c0[i] = -a[i] * meanDz + a[i] * meanDzXhat * inverseDeviation[i] * statistics.mean[i]
                }
            }
            let result = Tensor(uninitializedShape: inputValue.shape)
            withPointers(outputGradient, inputValue, savedOutput, result) { dy, x, y, dx in
                rowAffineGradient(
                    activation, dy: dy, y: y ?? dy, x: x, dx,
                    subBatches: subBatches, rows: rows, channels: channels, a: a, b: bx, c: c0)
            }
            inputGradient = result
        }
        // ∂γ = Σ ∂z·x̂ and ∂β = Σ ∂z per channel, over the sub-batches.
        return inputs.gradients(needed) { role in
            guard role != .input else { return inputGradient }
            var sums = [Float](repeating: 0, count: channels)
            let perSubBatch = role == .gamma ? sumDzXhat : sumDz
            for i in 0..<(subBatches * channels) { sums[i % channels] += perSubBatch[i] }
            return Tensor(shape: [channels], scalars: sums)
        }
    }
    // The output is handed to the pullback only where an activation's derivative reads it: a
    // normalisation without one keeps no output alive.
    let detail = describeShape(input.shape)
    let recorded =
        savedOutput == nil
        ? Tensor.recording(output, inputs: inputs.tensors, op: "normalize", detail: detail) {
            pullback($0, $1, recordedOutput: nil)
        }
        : Tensor.recording(output, inputs: inputs.tensors, op: "normalize", detail: detail) {
            pullback($0, $1, recordedOutput: $2)
        }
    return (recorded, statistics)
}

/// out = activation(x·scale + shift) with per-(sub-batch, channel) coefficients.
private func rowAffine<A: ElementwiseFunction>(
    _ activation: A, _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
    subBatches: Int, rows: Int, channels: Int, scale: [Float], shift: [Float]
) {
    scale.withUnsafeBufferPointer { a in
        shift.withUnsafeBufferPointer { c in
            let a = a.baseAddress!, c = c.baseAddress!
            parallelChunks(subBatches * rows, grain: Swift.max(1, 32_768 / Swift.max(channels, 1))) { range in
                for r in range {
                    let k = (r / rows) * channels, o = r * channels
                    var j = 0
                    while j + 16 <= channels {
                        let v = loadVector(x + o + j) * loadVector(a + k + j) + loadVector(c + k + j)
                        storeVector(activation(v), out + o + j)
                        j += 16
                    }
                    while j < channels {
                        out[o + j] = activation(x[o + j] * a[k + j] + c[k + j])
                        j += 1
                    }
                }
            }
        }
    }
}

/// ∂x = a·∂z + b·x + c with ∂z = activation′(y)·∂y and per-(sub-batch, channel) coefficients
/// (b and c are zero with fixed statistics).
private func rowAffineGradient<A: ElementwiseFunction>(
    _ activation: A, dy: UnsafePointer<Float>, y: UnsafePointer<Float>,
    x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
    subBatches: Int, rows: Int, channels: Int, a: [Float], b: [Float], c: [Float]
) {
    a.withUnsafeBufferPointer { a in
        b.withUnsafeBufferPointer { b in
            c.withUnsafeBufferPointer { c in
                let a = a.baseAddress!, b = b.baseAddress!, c = c.baseAddress!
                parallelChunks(subBatches * rows, grain: Swift.max(1, 32_768 / Swift.max(channels, 1))) { range in
                    for r in range {
                        let k = (r / rows) * channels, o = r * channels
                        var j = 0
                        while j + 16 <= channels {
                            let dz = activation.derivative(loadVector(dy + o + j), at: loadVector(y + o + j))
                            let v =
                                loadVector(a + k + j) * dz + loadVector(b + k + j) * loadVector(x + o + j)
                                + loadVector(c + k + j)
                            storeVector(v, out + o + j)
                            j += 16
                        }
                        while j < channels {
                            let dz = activation.derivative(dy[o + j], at: y[o + j])
                            out[o + j] = a[k + j] * dz + b[k + j] * x[o + j] + c[k + j]
                            j += 1
                        }
                    }
                }
            }
        }
    }
}

/// Σ ∂z and Σ ∂z·(x − μ)·inv per (sub-batch, channel), with ∂z = activation′(y)·∂y: both sums in
/// one blocked, parallel pass (each block of rows has its own partial sums).
private func gradientSums<A: ElementwiseFunction>(
    _ activation: A, dy: UnsafePointer<Float>, y: UnsafePointer<Float>,
    x: UnsafePointer<Float>, mean: [Float], inverseDeviation: [Float],
    subBatches: Int, rows: Int, channels: Int
) -> (sumDz: [Float], sumDzXhat: [Float]) {
    let block = 1024
    let blocksPerSubBatch = Swift.max((rows + block - 1) / block, 1)
    let blocks = subBatches * blocksPerSubBatch
    // Per block: channels partial Σ∂z, then channels partial Σ∂z·(x − μ).
    var partials = [Float](repeating: 0, count: blocks * 2 * channels)
    partials.withUnsafeMutableBufferPointer { buffer in
        mean.withUnsafeBufferPointer { mean in
            let base = buffer.baseAddress!, mean = mean.baseAddress!
            parallelChunks(blocks, grain: Swift.max(1, 16_384 / Swift.max(channels * block, 1))) { range in
                for blockIndex in range {
                    let subBatch = blockIndex / blocksPerSubBatch, first = (blockIndex % blocksPerSubBatch) * block
                    let sumDz = base + blockIndex * 2 * channels, sumDzX = sumDz + channels
                    let mu = mean + subBatch * channels
                    for r in first..<Swift.min(rows, first + block) {
                        let o = (subBatch * rows + r) * channels
                        var j = 0
                        while j + 16 <= channels {
                            let dz = activation.derivative(loadVector(dy + o + j), at: loadVector(y + o + j))
                            storeVector(loadVector(sumDz + j) + dz, sumDz + j)
                            storeVector(
                                loadVector(sumDzX + j) + dz * (loadVector(x + o + j) - loadVector(mu + j)), sumDzX + j)
                            j += 16
                        }
                        while j < channels {
                            let dz = activation.derivative(dy[o + j], at: y[o + j])
                            sumDz[j] += dz
                            sumDzX[j] += dz * (x[o + j] - mu[j])
                            j += 1
                        }
                    }
                }
            }
        }
    }
    var sumDz = [Float](repeating: 0, count: subBatches * channels), sumDzXhat = sumDz
    for blockIndex in 0..<blocks {
        let subBatch = blockIndex / blocksPerSubBatch
        for c in 0..<channels {
            sumDz[subBatch * channels + c] += partials[blockIndex * 2 * channels + c]
            sumDzXhat[subBatch * channels + c] += partials[(blockIndex * 2 + 1) * channels + c]
        }
    }
    for i in 0..<(subBatches * channels) { sumDzXhat[i] *= inverseDeviation[i] }
    return (sumDz, sumDzXhat)
}

/// Batch normalisation with batch statistics over all axes but the last (channels).
///
/// - Parameters:
///   - input: `[N, H, W, C]` (or any rank, channels last).
///   - gamma: `[C]` scale, or `nil` for 1.
///   - beta: `[C]` offset, or `nil` for 0.
///   - epsilon: added to the variance (Keras's 1e-3).
///   - activation: applied to the normalised values in the same pass (default none); equal to
///     `activation(output)` but without a separate op.
/// - Returns: the normalised (and activated) tensor and the batch mean and biased variance `[C]`.
public func batchNormalized(
    _ input: Tensor, gamma: Tensor?, beta: Tensor?, epsilon: Float = 1e-3,
    activation: Activation = .identity
) -> (output: Tensor, mean: Tensor, variance: Tensor) {
    let channels = input.shape.last ?? 1
    let (output, statistics) = normalize(
        input, gamma: gamma, beta: beta, subBatches: 1, epsilon: epsilon, activation: activation)
    return (
        output, Tensor(shape: [channels], scalars: statistics.mean),
        Tensor(shape: [channels], scalars: statistics.variance)
    )
}

/// Batch normalisation with given (running) statistics: `activation(γ·(x − mean)/√(variance + ε) + β)`.
public func batchNormalized(
    _ input: Tensor, mean: Tensor, variance: Tensor, gamma: Tensor?, beta: Tensor?,
    epsilon: Float = 1e-3, activation: Activation = .identity
) -> Tensor {
    let channels = input.shape.last ?? 1
    precondition(
        mean.shape == [channels] && variance.shape == [channels],
        "batchNormalized: statistics \(describeShape(mean.shape)), \(describeShape(variance.shape)) for \(channels) channels"
    )
    let statistics = NormalizationStatistics(mean: mean.scalars, variance: variance.scalars)
    return normalize(
        input, gamma: gamma, beta: beta, subBatches: 1, epsilon: epsilon, statistics: statistics, activation: activation
    ).output
}

/// Instance normalisation: statistics per sample and channel over the spatial axes.
///
/// - Parameters:
///   - input: `[N, H, W, C]`.
///   - gamma: `[C]` scale, or `nil` for 1.
///   - beta: `[C]` offset, or `nil` for 0.
///   - epsilon: added to the variance (PyTorch's 1e-5).
///   - activation: applied in the same pass (default none).
public func instanceNormalized(
    _ input: Tensor, gamma: Tensor?, beta: Tensor?, epsilon: Float = 1e-5,
    activation: Activation = .identity
) -> Tensor {
    precondition(input.rank >= 2, "instanceNormalized: needs [N, …, C], got \(describeShape(input.shape))")
    return normalize(
        input, gamma: gamma, beta: beta, subBatches: input.shape[0], epsilon: epsilon, activation: activation
    )
    .output
}
