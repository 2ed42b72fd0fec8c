import Foundation

// Batch and instance normalisation as one fused op each way. Both normalise a tensor viewed
// as [groups, rows, channels]: batch norm has one group (statistics over N·H·W rows per
// channel), instance norm one group per sample (statistics over H·W rows). The pullback is
// the closed form
//     ∂x = (γ/σ) · (∂y − mean(∂y) − x̂ · mean(∂y · x̂))
// with means over the rows of a group, and ∂γ = Σ ∂y·x̂, ∂β = Σ ∂y over everything.

/// Per-(group, channel) statistics of a [groups, rows, channels] buffer.
struct NormalizationStatistics {
    var mean: [Float]
    /// Biased (population) variance, as used for normalising.
    var variance: [Float]
}

/// Computes mean and biased variance per (group, channel) in two passes (mean, then
/// squared deviations), which is far more accurate in Float32 than E[x²] − E[x]².
func normalizationStatistics(_ x: UnsafePointer<Float>, groups: Int, rows: Int, channels: Int) -> NormalizationStatistics {
    var mean = [Float](repeating: 0, count: groups * channels)
    var variance = [Float](repeating: 0, count: groups * channels)
    for g in 0..<groups {
        let base = x + g * rows * channels
        let sums = channelSums(rows: rows, channels: channels) { r, acc in
            let row = base + r * channels
            for c in 0..<channels { acc[c] += row[c] }
        }
        for c in 0..<channels { mean[g * channels + c] = sums[c] / Float(Swift.max(rows, 1)) }
        let groupMean = Array(mean[(g * channels)..<((g + 1) * channels)])
        let squares = groupMean.withUnsafeBufferPointer { mu in
            channelSums(rows: rows, channels: channels) { r, acc in
                let row = base + r * channels
                for c in 0..<channels {
                    let d = row[c] - mu[c]
                    acc[c] += d * d
                }
            }
        }
        for c in 0..<channels { variance[g * channels + c] = squares[c] / Float(Swift.max(rows, 1)) }
    }
    return NormalizationStatistics(mean: mean, variance: variance)
}

/// Sums per-channel contributions of `rows` rows, splitting the rows over the cores, each
/// with its own accumulator (no sharing, no atomics); accumulators are Double-free but
/// blocked so each partial sum covers at most a few thousand rows.
@inline(__always)
func channelSums(rows: Int, channels: Int,
                 _ accumulate: (_ row: Int, _ accumulator: UnsafeMutablePointer<Float>) -> Void) -> [Float] {
    let block = 1024
    let blocks = (rows + block - 1) / block
    var partials = [Float](repeating: 0, count: Swift.max(blocks, 1) * channels)
    partials.withUnsafeMutableBufferPointer { buffer in
        let base = buffer.baseAddress!
        parallelChunks(blocks, grain: Swift.max(1, 16_384 / Swift.max(channels * block, 1))) { range in
            for b in range {
                let accumulator = base + b * channels
                for r in (b * block)..<Swift.min(rows, (b + 1) * block) { accumulate(r, accumulator) }
            }
        }
    }
    var total = [Float](repeating: 0, count: channels)
    for b in 0..<blocks { for c in 0..<channels { total[c] += partials[b * channels + c] } }
    return total
}

/// y = γ·(x − μ)/√(σ² + ε) + β over a [groups, rows, channels] view, with the given (or
/// computed) statistics, and its pullback.
///
/// - Parameters:
///   - shape: the full input shape (for the output and error messages).
///   - statistics: per (group, channel) mean and variance; when `nil` they are computed from
///     `input` (training) and the pullback includes their dependence on `input`.
func normalize(_ input: Tensor, gamma: Tensor?, beta: Tensor?, groups: Int, epsilon: Float,
               statistics fixed: NormalizationStatistics? = nil) -> (output: Tensor, statistics: NormalizationStatistics) {
    let channels = input.shape[input.rank - 1]
    let rows = input.count / Swift.max(groups * channels, 1)
    let statistics = fixed ?? normalizationStatistics(input.storage.pointer, groups: groups, rows: rows, channels: channels)
    let inverseDeviation = statistics.variance.map { 1 / ($0 + epsilon).squareRoot() }
    // Per (group, channel): y = x·scale + shift.
    var scale = [Float](repeating: 0, count: groups * channels), shift = scale
    let g = gamma?.scalars, b = beta?.scalars
    for i in 0..<(groups * channels) {
        let c = i % channels
        scale[i] = (g?[c] ?? 1) * inverseDeviation[i]
        shift[i] = (b?[c] ?? 0) - statistics.mean[i] * scale[i]
    }
    let output = Tensor(uninitializedShape: input.shape)
    applyAffine(input.storage.pointer, output.storage.pointer, groups: groups, rows: rows, channels: channels,
                scale: scale, shift: shift)
    let usesBatchStatistics = fixed == nil
    let inputValue = input.detached()
    var inputs = [input]
    if let gamma { inputs.append(gamma) }
    if let beta { inputs.append(beta) }
    let hasGamma = gamma != nil, hasBeta = beta != nil
    let recorded = Tensor.recording(output, inputs: inputs) { outputGradient, needed in
        let dy = outputGradient.storage.pointer, x = inputValue.storage.pointer
        // Σ ∂y and Σ ∂y·x̂ per (group, channel): the only reductions the pullback needs.
        var sumDy = [Float](repeating: 0, count: groups * channels), sumDyXhat = sumDy
        for group in 0..<groups {
            let offset = group * rows * channels
            let mu = Array(statistics.mean[(group * channels)..<((group + 1) * channels)])
            let inv = Array(inverseDeviation[(group * channels)..<((group + 1) * channels)])
            let sums = channelSums(rows: rows, channels: channels) { r, acc in
                let d = dy + offset + r * channels
                for c in 0..<channels { acc[c] += d[c] }
            }
            let products = mu.withUnsafeBufferPointer { mu in
                inv.withUnsafeBufferPointer { inv in
                    channelSums(rows: rows, channels: channels) { r, acc in
                        let d = dy + offset + r * channels, xr = x + offset + r * channels
                        for c in 0..<channels { acc[c] += d[c] * (xr[c] - mu[c]) * inv[c] }
                    }
                }
            }
            for c in 0..<channels {
                sumDy[group * channels + c] = sums[c]
                sumDyXhat[group * channels + c] = products[c]
            }
        }
        var gradients: [Tensor?] = []
        if needed[0] {
            // ∂x = a·∂y + b·x + c per (group, channel), folded into one affine pass.
            var a = [Float](repeating: 0, count: groups * channels), bx = a, c0 = a
            let n = Float(Swift.max(rows, 1))
            for i in 0..<(groups * channels) {
                let gammaC = g?[i % channels] ?? 1
                a[i] = gammaC * inverseDeviation[i]
                if usesBatchStatistics {
                    let meanDy = sumDy[i] / n, meanDyXhat = sumDyXhat[i] / n
                    // x̂ = (x − μ)·inv  ⇒  −a·x̂·meanDyXhat = bx·x + const
                    bx[i] = -a[i] * meanDyXhat * inverseDeviation[i]
                    c0[i] = -a[i] * meanDy + a[i] * meanDyXhat * inverseDeviation[i] * statistics.mean[i]
                }
            }
            let inputGradient = Tensor(uninitializedShape: inputValue.shape)
            let out = inputGradient.storage.pointer
            a.withUnsafeBufferPointer { a in bx.withUnsafeBufferPointer { bx in c0.withUnsafeBufferPointer { c0 in
                parallelChunks(groups * rows, grain: Swift.max(1, 32_768 / Swift.max(channels, 1))) { range in
                    for r in range {
                        let k = (r / rows) * channels, o = r * channels
                        for c in 0..<channels {
                            out[o + c] = a[k + c] * dy[o + c] + bx[k + c] * x[o + c] + c0[k + c]
                        }
                    }
                }
            } } }
            gradients.append(inputGradient)
        } else {
            gradients.append(nil)
        }
        var index = 1
        if hasGamma {
            if needed[index] {
                var dGamma = [Float](repeating: 0, count: channels)
                for i in 0..<(groups * channels) { dGamma[i % channels] += sumDyXhat[i] }
                gradients.append(Tensor(shape: [channels], scalars: dGamma))
            } else { gradients.append(nil) }
            index += 1
        }
        if hasBeta {
            if needed[index] {
                var dBeta = [Float](repeating: 0, count: channels)
                for i in 0..<(groups * channels) { dBeta[i % channels] += sumDy[i] }
                gradients.append(Tensor(shape: [channels], scalars: dBeta))
            } else { gradients.append(nil) }
        }
        return gradients
    }
    return (recorded, statistics)
}

/// out = x·scale + shift with per-(group, channel) coefficients.
private func applyAffine(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, groups: Int, rows: Int,
                         channels: Int, scale: [Float], shift: [Float]) {
    scale.withUnsafeBufferPointer { scale in
        shift.withUnsafeBufferPointer { shift in
            parallelChunks(groups * rows, grain: Swift.max(1, 32_768 / Swift.max(channels, 1))) { range in
                for r in range {
                    let k = (r / rows) * channels, o = r * channels
                    for c in 0..<channels { out[o + c] = x[o + c] * scale[k + c] + shift[k + c] }
                }
            }
        }
    }
}

/// Batch normalisation with batch statistics over all axes but the last (channels).
///
/// - Parameters:
///   - input: `[N, H, W, C]` (or any rank, channels last).
///   - gamma: `[C]` scale, or `nil` for 1.
///   - beta: `[C]` offset, or `nil` for 0.
///   - epsilon: added to the variance (Keras's 1e-3).
/// - Returns: the normalised tensor and the batch mean and biased variance `[C]`.
public func batchNormalized(_ input: Tensor, gamma: Tensor?, beta: Tensor?, epsilon: Float = 1e-3)
    -> (output: Tensor, mean: Tensor, variance: Tensor) {
    let channels = input.shape.last ?? 1
    let (output, statistics) = normalize(input, gamma: gamma, beta: beta, groups: 1, epsilon: epsilon)
    return (output, Tensor(shape: [channels], scalars: statistics.mean), Tensor(shape: [channels], scalars: statistics.variance))
}

/// Batch normalisation with given (running) statistics: `γ·(x − mean)/√(variance + ε) + β`.
public func batchNormalized(_ input: Tensor, mean: Tensor, variance: Tensor, gamma: Tensor?, beta: Tensor?,
                            epsilon: Float = 1e-3) -> Tensor {
    let channels = input.shape.last ?? 1
    precondition(mean.shape == [channels] && variance.shape == [channels],
                 "batchNormalized: statistics \(describeShape(mean.shape)), \(describeShape(variance.shape)) for \(channels) channels")
    let statistics = NormalizationStatistics(mean: mean.scalars, variance: variance.scalars)
    return normalize(input, gamma: gamma, beta: beta, groups: 1, epsilon: epsilon, statistics: statistics).output
}

/// Instance normalisation: statistics per sample and channel over the spatial axes.
///
/// - Parameters:
///   - input: `[N, H, W, C]`.
///   - gamma: `[C]` scale, or `nil` for 1.
///   - beta: `[C]` offset, or `nil` for 0.
///   - epsilon: added to the variance (PyTorch's 1e-5).
public func instanceNormalized(_ input: Tensor, gamma: Tensor?, beta: Tensor?, epsilon: Float = 1e-5) -> Tensor {
    precondition(input.rank >= 2, "instanceNormalized: needs [N, …, C], got \(describeShape(input.shape))")
    return normalize(input, gamma: gamma, beta: beta, groups: input.shape[0], epsilon: epsilon).output
}
