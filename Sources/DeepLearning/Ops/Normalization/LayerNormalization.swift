import CKernels
import Foundation

// Layer and group normalisation: statistics per sample (and group) instead of per channel.
// Both normalise "units" of elements — a layer-norm unit is one row of the last axis, a
// group-norm unit is the H·W·(C/G) elements of one sample and one channel group — and scale
// and shift per channel. Layer norm runs row by row; group norm per sample, with per-channel
// sums over the pixels reduced to groups, so that its loops run along the contiguous channels
// even when a group has fewer channels than a vector has lanes. With M elements per unit, x̂ = (x − μ)·r, r = 1/√(σ² + ε):
//   forward    y = γ·x̂ + β
//   backward   ∂x = r·(∂x̂ − mean(∂x̂) − x̂·mean(∂x̂·x̂)),  ∂x̂ = γ·∂y
//              ∂γ = Σ ∂y·x̂,  ∂β = Σ ∂y  (over every unit)
// One pass computes the mean, one the variance, one normalises; the pullback does one pass for
// the two sums per unit and one for ∂x (∂γ, ∂β accumulated on the way, per block of units). Rows
// of channels are contiguous, so every loop runs on 16-lane vectors.

/// Layer norm of `rows` contiguous rows of `features` floats: on the C kernel at `level` > 0,
/// otherwise on the Swift loops below (the same formulas, summed in a different order).
private func normalizeRows(
    _ input: Tensor, gamma: Tensor?, beta: Tensor?, rows: Int, features: Int, epsilon: Float
) -> Tensor {
    let output = Tensor(uninitializedShape: input.shape)
    // γ and β as ones and zeros when absent, so the loops have no optionals.
    let scale = gamma?.detached() ?? Tensor.ones([features]), shift = beta?.detached() ?? Tensor.zeros([features])
    let mean = Tensor(uninitializedShape: [rows]), inverse = Tensor(uninitializedShape: [rows])
    let level = features < Int(Int32.max) ? Int32(PointwiseKernels.level) : 0  // per thread: read here
    let grain = Swift.max(1, 16_384 / Swift.max(features, 1))
    withPointers(input, output, scale, shift, mean, inverse) { x, y, g, b, means, inverses in
        parallelChunks(rows, grain: grain) { range in
            let (first, offset) = (range.lowerBound, range.lowerBound * features)
            if level > 0 {
                dl_layer_norm_rows(
                    level, x + offset, y + offset, range.count, Int32(features), g, b, epsilon, means + first,
                    inverses + first)
                return
            }
            for row in range {
                let o = row * features, m = Float(Swift.max(features, 1))
                let mu = rowSum(x + o, features) / m
                let r = 1 / (rowSquaredDeviations(x + o, features, mu) / m + epsilon).squareRoot()
                (means[row], inverses[row]) = (mu, r)
                rowAffine(x + o, y + o, features, g, b, mean: mu, inverse: r)
            }
        }
    }
    let inputs = RecordedInputs(input: input, gamma: gamma, beta: beta)
    let inputValue = input.detached()
    return Tensor.recording(output, inputs: inputs.tensors) { gradient, needed in
        if GradientMode.isRecording {
            return inputs.recordedGradients(
                gradient, output: nil, needed: needed, view: [rows, features], axes: [1], epsilon: epsilon,
                activation: IdentityFunction())
        }
        let inputGradient = Tensor(uninitializedShape: inputValue.shape)
        // ∂γ and ∂β partial sums per block of rows, added in block order (deterministic).
        let block = Swift.max(1, 4_096 / Swift.max(features, 1))
        let blocks = (rows + block - 1) / block
        let partials = Tensor.zeros([Swift.max(blocks, 1) * 2 * features])
        withPointers(gradient, inputValue, inputGradient, scale, mean, inverse, partials) {
            dy, x, dx, g, means, inverses, partial in
            parallelChunks(blocks, grain: 1) { blockRange in
                for blockIndex in blockRange {
                    let dGamma = partial + blockIndex * 2 * features, dBeta = dGamma + features
                    let first = blockIndex * block, last = Swift.min(rows, first + block)
                    if level > 0 {
                        let o = first * features
                        dl_layer_norm_gradient_rows(
                            level, dy + o, x + o, dx + o, last - first, Int32(features), g, means + first,
                            inverses + first, dGamma, dBeta)
                        continue
                    }
                    for row in first..<last {
                        let o = row * features, (mu, r) = (means[row], inverses[row])
                        var sums = (dxhat: Float(0), dxhatXhat: Float(0))
                        rowGradientSums(
                            dy + o, x + o, features, g, mean: mu, inverse: r, into: &sums, dGamma: dGamma,
                            dBeta: dBeta)
                        let m = Float(Swift.max(features, 1))
                        rowInputGradient(
                            dy + o, x + o, dx + o, features, g, mean: mu, inverse: r,
                            meanDxhat: sums.dxhat / m, meanDxhatXhat: sums.dxhatXhat / m)
                    }
                }
            }
        }
        return normalizationGradients(
            inputGradient, partials: partials, blocks: blocks, channels: features, gammaOffset: 0,
            betaOffset: features, inputs: inputs, needed: needed)
    }
}

/// A normalisation pullback's results — ∂input, then ∂γ and ∂β where the op has them — with ∂γ
/// and ∂β summed, in block order, from per-block partials of `2·channels` floats each (∂γ at
/// `gammaOffset`, ∂β at `betaOffset` within a block). Shared by layer and group norm.
func normalizationGradients(
    _ inputGradient: Tensor, partials: Tensor, blocks: Int, channels: Int, gammaOffset: Int, betaOffset: Int,
    inputs: RecordedInputs<NormalizationInput>, needed: [Bool]
) -> [Tensor?] {
    var dGamma = [Float](repeating: 0, count: channels), dBeta = dGamma
    withPointers(partials) { partials in
        for block in 0..<blocks {
            for c in 0..<channels {
                dGamma[c] += partials[block * 2 * channels + gammaOffset + c]
                dBeta[c] += partials[block * 2 * channels + betaOffset + c]
            }
        }
    }
    return inputs.gradients(needed) { role in
        switch role {
        case .input: inputGradient
        case .gamma: Tensor(shape: [channels], scalars: dGamma)
        case .beta: Tensor(shape: [channels], scalars: dBeta)
        }
    }
}

// The per-row loops of `normalizeUnits`, over `count` contiguous floats on 16-lane vectors.

@inline(__always)
private func rowSum(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
    var lanes = SIMD16<Float>(repeating: 0), tail: Float = 0, c = 0
    while c + 16 <= count {
        lanes += loadVector(x + c)
        c += 16
    }
    while c < count {
        tail += x[c]
        c += 1
    }
    return lanes.sum() + tail
}

@inline(__always)
private func rowSquaredDeviations(_ x: UnsafePointer<Float>, _ count: Int, _ mean: Float) -> Float {
    var lanes = SIMD16<Float>(repeating: 0), tail: Float = 0, c = 0
    while c + 16 <= count {
        let d = loadVector(x + c) - mean
        lanes += d * d
        c += 16
    }
    while c < count {
        tail += (x[c] - mean) * (x[c] - mean)
        c += 1
    }
    return lanes.sum() + tail
}

/// y = (x − μ)·r·γ + β.
@inline(__always)
private func rowAffine(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int, _ g: UnsafePointer<Float>,
    _ b: UnsafePointer<Float>, mean: Float, inverse: Float
) {
    var c = 0
    while c + 16 <= count {
        storeVector((loadVector(x + c) - mean) * inverse * loadVector(g + c) + loadVector(b + c), y + c)
        c += 16
    }
    while c < count {
        y[c] = (x[c] - mean) * inverse * g[c] + b[c]
        c += 1
    }
}

/// Adds Σ γ·∂y and Σ γ·∂y·x̂ of the row to `sums`, and ∂y·x̂, ∂y to the row's ∂γ, ∂β.
@inline(__always)
private func rowGradientSums(
    _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ count: Int, _ g: UnsafePointer<Float>, mean: Float,
    inverse: Float, into sums: inout (dxhat: Float, dxhatXhat: Float), dGamma: UnsafeMutablePointer<Float>,
    dBeta: UnsafeMutablePointer<Float>
) {
    var sumLanes = SIMD16<Float>(repeating: 0), productLanes = sumLanes, c = 0
    while c + 16 <= count {
        let gradient = loadVector(dy + c), xhat = (loadVector(x + c) - mean) * inverse
        let dxhat = gradient * loadVector(g + c)
        sumLanes += dxhat
        productLanes += dxhat * xhat
        storeVector(loadVector(dGamma + c) + gradient * xhat, dGamma + c)
        storeVector(loadVector(dBeta + c) + gradient, dBeta + c)
        c += 16
    }
    var (sum, product) = (sumLanes.sum(), productLanes.sum())
    while c < count {
        let xhat = (x[c] - mean) * inverse, dxhat = dy[c] * g[c]
        sum += dxhat
        product += dxhat * xhat
        dGamma[c] += dy[c] * xhat
        dBeta[c] += dy[c]
        c += 1
    }
    sums.dxhat += sum
    sums.dxhatXhat += product
}

/// ∂x = r·(γ·∂y − mean(γ·∂y) − x̂·mean(γ·∂y·x̂)).
@inline(__always)
private func rowInputGradient(
    _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ count: Int,
    _ g: UnsafePointer<Float>, mean: Float, inverse: Float, meanDxhat: Float, meanDxhatXhat: Float
) {
    var c = 0
    while c + 16 <= count {
        let xhat = (loadVector(x + c) - mean) * inverse
        let dxhat = loadVector(dy + c) * loadVector(g + c)
        storeVector(inverse * (dxhat - meanDxhat - xhat * meanDxhatXhat), dx + c)
        c += 16
    }
    while c < count {
        let xhat = (x[c] - mean) * inverse
        dx[c] = inverse * (dy[c] * g[c] - meanDxhat - xhat * meanDxhatXhat)
        c += 1
    }
}

/// Layer normalisation over the last axis (PyTorch's `F.layer_norm(x, [C], γ, β, eps)`):
/// each row is normalised by its own mean and biased variance, then scaled and shifted per
/// feature.
///
/// - Parameters:
///   - input: `[…, C]`, any rank ≥ 1.
///   - gamma: `[C]` scale, or `nil` for 1.
///   - beta: `[C]` offset, or `nil` for 0.
///   - epsilon: added to the variance; PyTorch's default 1e-5.
/// - Returns: the same shape. Differentiable w.r.t. all three.
public func layerNormalized(_ input: Tensor, gamma: Tensor?, beta: Tensor?, epsilon: Float = 1e-5) -> Tensor {
    precondition(input.rank >= 1, "layerNormalized: needs a feature axis; got \(describeShape(input.shape))")
    let channels = input.shape[input.rank - 1]
    for (name, tensor) in [("gamma", gamma), ("beta", beta)] {
        if let tensor {
            precondition(
                tensor.shape == [channels],
                "layerNormalized: \(name) \(describeShape(tensor.shape)) must be [\(channels)] for input \(describeShape(input.shape))"
            )
        }
    }
    return normalizeRows(
        input, gamma: gamma, beta: beta, rows: input.count / Swift.max(channels, 1), features: channels,
        epsilon: epsilon)
}
