// Group normalisation (Wu & He), NHWC: per sample and group of channels, statistics over the
// positions and the group's channels; see LayerNormalization.swift for the formulas. Computed
// per sample with the channels as the vector axis.

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
    return groupNormalizedChannelsLast(input, groups: groups, gamma: gamma, beta: beta, epsilon: epsilon)
}

/// Group normalisation computed per sample with the channels as the vector axis: per-channel
/// sums over the pixels (contiguous rows of C), reduced to groups, then per-channel affine
/// coefficients — so the loops stay vectorised however few channels a group has.
private func groupNormalizedChannelsLast(
    _ input: Tensor, groups: Int, gamma: Tensor?, beta: Tensor?, epsilon: Float
) -> Tensor {
    let channels = input.shape[input.rank - 1], batch = input.shape[0]
    let pixels = input.count / Swift.max(batch * channels, 1), perGroup = channels / groups
    let elements = Float(Swift.max(pixels * perGroup, 1))
    let scale = gamma?.scalars ?? [Float](repeating: 1, count: channels)
    let shift = beta?.scalars ?? [Float](repeating: 0, count: channels)
    // Per sample and channel: the group's mean and 1/σ, broadcast to its channels.
    var mean = [Float](repeating: 0, count: batch * channels), inverse = mean
    let output = Tensor(uninitializedShape: input.shape)
    withPointers(input, output) { x, y in
        mean.withUnsafeMutableBufferPointer { meanBuffer in
            inverse.withUnsafeMutableBufferPointer { inverseBuffer in
                let (means, inverses) = (meanBuffer.baseAddress!, inverseBuffer.baseAddress!)
                parallelChunks(batch, grain: 1) { samples in
                    var sums = [Float](repeating: 0, count: channels), a = sums, b = sums
                    for n in samples {
                        let sample = x + n * pixels * channels, mu = means + n * channels, r = inverses + n * channels
                        sums.withUnsafeMutableBufferPointer { sums in
                            let sums = sums.baseAddress!
                            sums.update(repeating: 0, count: channels)
                            for p in 0..<pixels { addRow(sample + p * channels, into: sums, channels) }
                            for g in 0..<groups {
                                var total: Float = 0
                                for c in (g * perGroup)..<((g + 1) * perGroup) { total += sums[c] }
                                for c in (g * perGroup)..<((g + 1) * perGroup) { mu[c] = total / elements }
                            }
                            sums.update(repeating: 0, count: channels)
                            for p in 0..<pixels {
                                addSquaredDeviations(sample + p * channels, mu, into: sums, channels)
                            }
                            for g in 0..<groups {
                                var total: Float = 0
                                for c in (g * perGroup)..<((g + 1) * perGroup) { total += sums[c] }
                                let inverseDeviation = 1 / (total / elements + epsilon).squareRoot()
                                for c in (g * perGroup)..<((g + 1) * perGroup) { r[c] = inverseDeviation }
                            }
                        }
                        for c in 0..<channels {
                            a[c] = r[c] * scale[c]
                            b[c] = shift[c] - mu[c] * a[c]
                        }
                        a.withUnsafeBufferPointer { a in
                            b.withUnsafeBufferPointer { b in
                                for p in 0..<pixels {
                                    let o = n * pixels * channels + p * channels
                                    scaleRow(x + o, y + o, a.baseAddress!, b.baseAddress!, channels)
                                }
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
    let inputValue = input.detached()
    let (hasGamma, hasBeta) = (gamma != nil, beta != nil)
    return Tensor.recording(output, inputs: inputs) { gradient, needed in
        let inputGradient = Tensor(uninitializedShape: inputValue.shape)
        // Per sample: Σ ∂y and Σ ∂y·(x − μ) per channel, which give ∂γ, ∂β and the group sums.
        var partials = [Float](repeating: 0, count: batch * 2 * channels)
        withPointers(gradient, inputValue, inputGradient) { dy, x, dx in
            partials.withUnsafeMutableBufferPointer { partialBuffer in
                let partial = partialBuffer.baseAddress!
                parallelChunks(batch, grain: 1) { samples in
                    var alpha = [Float](repeating: 0, count: channels), slope = alpha, offset = alpha
                    for n in samples {
                        let base = n * pixels * channels
                        let sumDy = partial + n * 2 * channels, sumDyX = sumDy + channels
                        for p in 0..<pixels {
                            addGradientRow(
                                dy + base + p * channels, x + base + p * channels, mean, n * channels,
                                sumDy, sumDyX, channels)
                        }
                        for g in 0..<groups {
                            var s1: Float = 0, s2: Float = 0
                            let r = inverse[n * channels + g * perGroup]
                            for c in (g * perGroup)..<((g + 1) * perGroup) {
                                s1 += scale[c] * sumDy[c]
                                s2 += scale[c] * r * sumDyX[c]
                            }
                            let (m1, m2) = (s1 / elements, s2 / elements)
                            for c in (g * perGroup)..<((g + 1) * perGroup) {
                                let mu = mean[n * channels + c]
                                // ∂x = r·(γ∂y − m1 − x̂·m2), x̂ = (x − μ)·r
                                alpha[c] = r * scale[c]
                                slope[c] = -r * r * m2
                                offset[c] = r * r * m2 * mu - r * m1
                            }
                        }
                        alpha.withUnsafeBufferPointer { alpha in
                            slope.withUnsafeBufferPointer { slope in
                                offset.withUnsafeBufferPointer { offset in
                                    for p in 0..<pixels {
                                        let o = base + p * channels
                                        gradientRow(
                                            dy + o, x + o, dx + o, alpha.baseAddress!, slope.baseAddress!,
                                            offset.baseAddress!, channels)
                                    }
                                }
                            }
                        }
                        // ∂γ = r·Σ ∂y·(x − μ) per sample (∂β = Σ ∂y is already in place).
                        for c in 0..<channels { sumDyX[c] *= inverse[n * channels + c] }
                    }
                }
            }
        }
        // Per sample: Σ ∂y (∂β) first, then r·Σ ∂y·(x − μ) (∂γ).
        return normalizationGradients(
            inputGradient, partials: partials, blocks: batch, channels: channels, gammaOffset: channels,
            betaOffset: 0, hasGamma: hasGamma, hasBeta: hasBeta, needed: needed)
    }
}

// Row loops of the channels-last group norm, over `count` contiguous channels on 16 lanes.

@inline(__always)
private func addRow(_ x: UnsafePointer<Float>, into sums: UnsafeMutablePointer<Float>, _ count: Int) {
    var c = 0
    while c + 16 <= count {
        storeVector(loadVector(sums + c) + loadVector(x + c), sums + c)
        c += 16
    }
    while c < count {
        sums[c] += x[c]
        c += 1
    }
}

@inline(__always)
private func addSquaredDeviations(
    _ x: UnsafePointer<Float>, _ mean: UnsafePointer<Float>, into sums: UnsafeMutablePointer<Float>, _ count: Int
) {
    var c = 0
    while c + 16 <= count {
        let d = loadVector(x + c) - loadVector(mean + c)
        storeVector(loadVector(sums + c) + d * d, sums + c)
        c += 16
    }
    while c < count {
        sums[c] += (x[c] - mean[c]) * (x[c] - mean[c])
        c += 1
    }
}

@inline(__always)
private func scaleRow(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>,
    _ b: UnsafePointer<Float>, _ count: Int
) {
    var c = 0
    while c + 16 <= count {
        storeVector(loadVector(x + c) * loadVector(a + c) + loadVector(b + c), y + c)
        c += 16
    }
    while c < count {
        y[c] = x[c] * a[c] + b[c]
        c += 1
    }
}

@inline(__always)
private func addGradientRow(
    _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ mean: [Float], _ meanOffset: Int,
    _ sumDy: UnsafeMutablePointer<Float>, _ sumDyX: UnsafeMutablePointer<Float>, _ count: Int
) {
    mean.withUnsafeBufferPointer { mean in
        let mu = mean.baseAddress! + meanOffset
        var c = 0
        while c + 16 <= count {
            let g = loadVector(dy + c)
            storeVector(loadVector(sumDy + c) + g, sumDy + c)
            storeVector(loadVector(sumDyX + c) + g * (loadVector(x + c) - loadVector(mu + c)), sumDyX + c)
            c += 16
        }
        while c < count {
            sumDy[c] += dy[c]
            sumDyX[c] += dy[c] * (x[c] - mu[c])
            c += 1
        }
    }
}

@inline(__always)
private func gradientRow(
    _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
    _ alpha: UnsafePointer<Float>, _ slope: UnsafePointer<Float>, _ offset: UnsafePointer<Float>, _ count: Int
) {
    var c = 0
    while c + 16 <= count {
        let v = loadVector(dy + c) * loadVector(alpha + c) + loadVector(x + c) * loadVector(slope + c)
        storeVector(v + loadVector(offset + c), dx + c)
        c += 16
    }
    while c < count {
        dx[c] = dy[c] * alpha[c] + x[c] * slope[c] + offset[c]
        c += 1
    }
}
