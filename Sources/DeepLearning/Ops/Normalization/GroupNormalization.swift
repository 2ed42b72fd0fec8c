import CKernels

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
    let level = channels < Int(Int32.max) ? Int32(PointwiseKernels.level) : 0  // per thread: read here
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
                            channelSums(level, squares: false, sample, pixels, channels, mean: mu, into: sums)
                            for g in 0..<groups {
                                var total: Float = 0
                                for c in (g * perGroup)..<((g + 1) * perGroup) { total += sums[c] }
                                for c in (g * perGroup)..<((g + 1) * perGroup) { mu[c] = total / elements }
                            }
                            sums.update(repeating: 0, count: channels)
                            channelSums(level, squares: true, sample, pixels, channels, mean: mu, into: sums)
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
                                let o = n * pixels * channels
                                channelAffine(
                                    level, nil, x + o, y + o, pixels, channels, a.baseAddress!, nil, b.baseAddress!)
                            }
                        }
                    }
                }
            }
        }
    }
    let inputs = RecordedInputs(input: input, gamma: gamma, beta: beta)
    let inputValue = input.detached()
    return Tensor.recording(output, inputs: inputs.tensors) { gradient, needed in
        if GradientMode.isRecording {
            return inputs.recordedGradients(
                gradient, output: nil, needed: needed, view: [batch, pixels, groups, perGroup], axes: [1, 3],
                epsilon: epsilon,
                activation: IdentityFunction())
        }
        let inputGradient = Tensor(uninitializedShape: inputValue.shape)
        // Per sample: Σ ∂y and Σ ∂y·(x − μ) per channel, which give ∂γ, ∂β and the group sums.
        let partials = Tensor.zeros([batch * 2 * channels])
        withPointers(gradient, inputValue, inputGradient, partials) { dy, x, dx, partial in
            parallelChunks(batch, grain: 1) { samples in
                var alpha = [Float](repeating: 0, count: channels), slope = alpha, offset = alpha
                for n in samples {
                    let base = n * pixels * channels
                    let sumDy = partial + n * 2 * channels, sumDyX = sumDy + channels
                    mean.withUnsafeBufferPointer { mean in
                        channelGradientSums(
                            level, dy + base, x + base, pixels, channels, mean: mean.baseAddress! + n * channels,
                            sumDy, sumDyX)
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
                                channelAffine(
                                    level, dy + base, x + base, dx + base, pixels, channels,
                                    alpha.baseAddress!, slope.baseAddress!, offset.baseAddress!)
                            }
                        }
                    }
                    // ∂γ = r·Σ ∂y·(x − μ) per sample (∂β = Σ ∂y is already in place).
                    for c in 0..<channels { sumDyX[c] *= inverse[n * channels + c] }
                }
            }
        }
        // Per sample: Σ ∂y (∂β) first, then r·Σ ∂y·(x − μ) (∂γ).
        return normalizationGradients(
            inputGradient, partials: partials, blocks: batch, channels: channels, gammaOffset: channels,
            betaOffset: 0, inputs: inputs, needed: needed)
    }
}

// The loops of the channels-last group norm, over `pixels` rows of `channels` contiguous
// floats: on the C kernels at `level` > 0, otherwise on 16-lane Swift vectors.

/// Adds Σ x (or, with `squares`, Σ (x − mean)²) over the rows to `sums`, per channel.
private func channelSums(
    _ level: Int32, squares: Bool, _ x: UnsafePointer<Float>, _ pixels: Int, _ channels: Int,
    mean: UnsafePointer<Float>, into sums: UnsafeMutablePointer<Float>
) {
    if level > 0 { return dl_channel_sums(level, squares ? 1 : 0, x, pixels, Int32(channels), mean, sums) }
    for p in 0..<pixels {
        let row = x + p * channels
        var c = 0
        while c + 16 <= channels {
            let v = loadVector(row + c), d = v - loadVector(mean + c)
            storeVector(loadVector(sums + c) + (squares ? d * d : v), sums + c)
            c += 16
        }
        while c < channels {
            sums[c] += squares ? (row[c] - mean[c]) * (row[c] - mean[c]) : row[c]
            c += 1
        }
    }
}

/// out = x·a + offset per channel, or with `dy`, out = dy·a + x·slope + offset.
private func channelAffine(
    _ level: Int32, _ dy: UnsafePointer<Float>?, _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
    _ pixels: Int, _ channels: Int, _ a: UnsafePointer<Float>, _ slope: UnsafePointer<Float>?,
    _ offset: UnsafePointer<Float>
) {
    if level > 0 { return dl_channel_affine(level, dy, x, out, pixels, Int32(channels), a, slope, offset) }
    for p in 0..<pixels {
        let o = p * channels
        var c = 0
        if let dy, let slope {
            while c + 16 <= channels {
                let v = loadVector(dy + o + c) * loadVector(a + c) + loadVector(x + o + c) * loadVector(slope + c)
                storeVector(v + loadVector(offset + c), out + o + c)
                c += 16
            }
            while c < channels {
                out[o + c] = dy[o + c] * a[c] + x[o + c] * slope[c] + offset[c]
                c += 1
            }
        } else {
            while c + 16 <= channels {
                storeVector(loadVector(x + o + c) * loadVector(a + c) + loadVector(offset + c), out + o + c)
                c += 16
            }
            while c < channels {
                out[o + c] = x[o + c] * a[c] + offset[c]
                c += 1
            }
        }
    }
}

/// Adds Σ ∂y to `sumDy` and Σ ∂y·(x − mean) to `sumDyX` over the rows, per channel.
private func channelGradientSums(
    _ level: Int32, _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ pixels: Int, _ channels: Int,
    mean: UnsafePointer<Float>, _ sumDy: UnsafeMutablePointer<Float>, _ sumDyX: UnsafeMutablePointer<Float>
) {
    if level > 0 { return dl_channel_gradient_sums(level, dy, x, pixels, Int32(channels), mean, sumDy, sumDyX) }
    for p in 0..<pixels {
        let o = p * channels
        var c = 0
        while c + 16 <= channels {
            let g = loadVector(dy + o + c)
            storeVector(loadVector(sumDy + c) + g, sumDy + c)
            storeVector(loadVector(sumDyX + c) + g * (loadVector(x + o + c) - loadVector(mean + c)), sumDyX + c)
            c += 16
        }
        while c < channels {
            sumDy[c] += dy[o + c]
            sumDyX[c] += dy[o + c] * (x[o + c] - mean[c])
            c += 1
        }
    }
}
