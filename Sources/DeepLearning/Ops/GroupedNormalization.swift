import Foundation

// Layer and group normalisation: statistics per sample (and group) instead of per channel.
// Both normalise "units" of elements — a layer-norm unit is one row of the last axis, a
// group-norm unit is the H·W·(C/G) elements of one sample and one channel group — and scale
// and shift per channel. With M elements per unit, x̂ = (x − μ)·r, r = 1/√(σ² + ε):
//   forward    y = γ·x̂ + β
//   backward   ∂x = r·(∂x̂ − mean(∂x̂) − x̂·mean(∂x̂·x̂)),  ∂x̂ = γ·∂y
//              ∂γ = Σ ∂y·x̂,  ∂β = Σ ∂y  (over every unit)
// One pass computes the statistics, one normalises; the pullback does one pass for the two
// sums per unit and one for ∂x (∂γ, ∂β accumulated on the way, per block of units).

/// Where a unit's elements lie: `pixels` runs of `channels` contiguous floats, `pixelStride`
/// apart, starting at `offset(unit)`; its channels are `firstChannel(unit) ..<` that plus
/// `channels`.
private struct NormalizationUnits {
    let count: Int, pixels: Int, pixelStride: Int, channels: Int, totalChannels: Int
    let groups: Int  // per sample; 1 for layer norm

    func offset(_ unit: Int) -> Int {
        groups == 1 ? unit * pixels * pixelStride : (unit / groups) * pixels * pixelStride + (unit % groups) * channels
    }
    func firstChannel(_ unit: Int) -> Int { groups == 1 ? 0 : (unit % groups) * channels }
    var elements: Int { pixels * channels }
}

private func normalizeUnits(
    _ input: Tensor, gamma: Tensor?, beta: Tensor?, units: NormalizationUnits, epsilon: Float
) -> Tensor {
    let output = Tensor(uninitializedShape: input.shape)
    var mean = [Float](repeating: 0, count: units.count), inverse = mean
    withPointers(input, gamma, beta, output) { x, g, b, y in
        mean.withUnsafeMutableBufferPointer { meanBuffer in
            inverse.withUnsafeMutableBufferPointer { inverseBuffer in
                let means = meanBuffer.baseAddress!, inverses = inverseBuffer.baseAddress!
                parallelChunks(units.count, grain: Swift.max(1, 16_384 / Swift.max(units.elements, 1))) { range in
                    for unit in range {
                        let base = units.offset(unit), c0 = units.firstChannel(unit)
                        var sum = 0.0
                        for p in 0..<units.pixels {
                            let row = x + base + p * units.pixelStride
                            for c in 0..<units.channels { sum += Double(row[c]) }
                        }
                        let mu = Float(sum / Double(Swift.max(units.elements, 1)))
                        var squares = 0.0
                        for p in 0..<units.pixels {
                            let row = x + base + p * units.pixelStride
                            for c in 0..<units.channels {
                                let d = Double(row[c] - mu)
                                squares += d * d
                            }
                        }
                        let r = 1 / (Float(squares / Double(Swift.max(units.elements, 1))) + epsilon).squareRoot()
                        (means[unit], inverses[unit]) = (mu, r)
                        for p in 0..<units.pixels {
                            let source = x + base + p * units.pixelStride, target = y + base + p * units.pixelStride
                            for c in 0..<units.channels {
                                let scale = g.map { $0[c0 + c] } ?? 1, shift = b.map { $0[c0 + c] } ?? 0
                                target[c] = (source[c] - mu) * r * scale + shift
                            }
                        }
                    }
                }
            }
        }
    }
    var inputs = [input]
    if let gamma { inputs.append(gamma) }
    if let beta { inputs.append(beta) }
    let (inputValue, gammaValue) = (input.detached(), gamma?.detached())
    let (hasGamma, hasBeta) = (gamma != nil, beta != nil)
    return Tensor.recording(output, inputs: inputs) { gradient, needed in
        let inputGradient = Tensor(uninitializedShape: inputValue.shape)
        // ∂γ and ∂β partial sums per block of units, added in block order (deterministic).
        let block = Swift.max(1, 4_096 / Swift.max(units.elements, 1))
        let blocks = (units.count + block - 1) / block
        var partials = [Float](repeating: 0, count: Swift.max(blocks, 1) * 2 * units.totalChannels)
        withPointers(gradient, inputValue, gammaValue, inputGradient) { dy, x, g, dx in
            partials.withUnsafeMutableBufferPointer { partialBuffer in
                let partial = partialBuffer.baseAddress!
                parallelChunks(blocks, grain: 1) { blockRange in
                    for blockIndex in blockRange {
                        let dGamma = partial + blockIndex * 2 * units.totalChannels
                        let dBeta = dGamma + units.totalChannels
                        for unit in (blockIndex * block)..<Swift.min(units.count, (blockIndex + 1) * block) {
                            let base = units.offset(unit), c0 = units.firstChannel(unit)
                            let mu = mean[unit], r = inverse[unit]
                            var sumDxhat: Float = 0, sumDxhatXhat: Float = 0
                            for p in 0..<units.pixels {
                                let o = base + p * units.pixelStride
                                for c in 0..<units.channels {
                                    let xhat = (x[o + c] - mu) * r, dxhat = dy[o + c] * (g.map { $0[c0 + c] } ?? 1)
                                    sumDxhat += dxhat
                                    sumDxhatXhat += dxhat * xhat
                                    dGamma[c0 + c] += dy[o + c] * xhat
                                    dBeta[c0 + c] += dy[o + c]
                                }
                            }
                            let m = Float(Swift.max(units.elements, 1))
                            let (meanDxhat, meanDxhatXhat) = (sumDxhat / m, sumDxhatXhat / m)
                            for p in 0..<units.pixels {
                                let o = base + p * units.pixelStride
                                for c in 0..<units.channels {
                                    let xhat = (x[o + c] - mu) * r, dxhat = dy[o + c] * (g.map { $0[c0 + c] } ?? 1)
                                    dx[o + c] = r * (dxhat - meanDxhat - xhat * meanDxhatXhat)
                                }
                            }
                        }
                    }
                }
            }
        }
        var dGamma = [Float](repeating: 0, count: units.totalChannels), dBeta = dGamma
        for blockIndex in 0..<blocks {
            for c in 0..<units.totalChannels {
                dGamma[c] += partials[blockIndex * 2 * units.totalChannels + c]
                dBeta[c] += partials[blockIndex * 2 * units.totalChannels + units.totalChannels + c]
            }
        }
        var gradients: [Tensor?] = [needed[0] ? inputGradient : nil]
        var index = 1
        if hasGamma {
            gradients.append(needed[index] ? Tensor(shape: [units.totalChannels], scalars: dGamma) : nil)
            index += 1
        }
        if hasBeta { gradients.append(needed[index] ? Tensor(shape: [units.totalChannels], scalars: dBeta) : nil) }
        return gradients
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
    let units = NormalizationUnits(
        count: input.count / Swift.max(channels, 1), pixels: 1, pixelStride: channels, channels: channels,
        totalChannels: channels, groups: 1)
    return normalizeUnits(input, gamma: gamma, beta: beta, units: units, epsilon: epsilon)
}

/// Group normalisation (Wu & He; PyTorch's `F.group_norm(x, G, γ, β, eps)` in NHWC): the
/// channels are split into `groups` consecutive groups, and each sample's group is normalised
/// over its spatial positions and channels together, then scaled and shifted per channel.
/// One group is layer norm over H, W and C; C groups is instance norm.
///
/// - Parameters:
///   - input: `[N, …, C]` (e.g. `[N, H, W, C]`), C divisible by `groups`.
///   - groups: the number of channel groups.
///   - gamma: `[C]` scale, or `nil` for 1.
///   - beta: `[C]` offset, or `nil` for 0.
///   - epsilon: added to the variance; PyTorch's default 1e-5.
public func groupNormalized(
    _ input: Tensor, groups: Int, gamma: Tensor?, beta: Tensor?, epsilon: Float = 1e-5
) -> Tensor {
    precondition(input.rank >= 2, "groupNormalized: needs [N, …, C]; got \(describeShape(input.shape))")
    let channels = input.shape[input.rank - 1]
    precondition(
        groups > 0 && channels % groups == 0,
        "groupNormalized: \(groups) groups do not divide the \(channels) channels of \(describeShape(input.shape))")
    for (name, tensor) in [("gamma", gamma), ("beta", beta)] {
        if let tensor {
            precondition(
                tensor.shape == [channels],
                "groupNormalized: \(name) \(describeShape(tensor.shape)) must be [\(channels)] for input \(describeShape(input.shape))"
            )
        }
    }
    let batch = input.shape[0], pixels = input.count / Swift.max(batch * channels, 1)
    let units = NormalizationUnits(
        count: batch * groups, pixels: pixels, pixelStride: channels, channels: channels / groups,
        totalChannels: channels, groups: groups)
    return normalizeUnits(input, gamma: gamma, beta: beta, units: units, epsilon: epsilon)
}
