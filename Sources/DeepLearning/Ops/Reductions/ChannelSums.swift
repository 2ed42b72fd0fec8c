// Per-channel sums over the rows of a channels-last buffer, blocked and split over the cores:
// the bias gradient of convolutions and linear layers, and the statistics of normalisation.

/// Σ over all leading axes of a tensor whose last axis has `channels` elements: the bias gradient.
/// Uses the blocked, parallel per-channel reduction that normalisation uses.
func channelSums(_ gradient: Tensor, channels: Int) -> Tensor {
    let rows = channels == 0 ? 0 : gradient.count / channels
    let sums = gradient.withPointer { source in
        channelSums(rows: rows, channels: channels) { row, accumulator in
            let values = source + row * channels
            for c in 0..<channels { accumulator[c] += values[c] }
        }
    }
    return Tensor(shape: [channels], scalars: sums)
}

/// Sums per-channel contributions of `rows` rows, splitting the rows over the cores, each
/// with its own accumulator (no sharing, no atomics); accumulators are Double-free but
/// blocked so each partial sum covers at most a few thousand rows.
@inline(__always)
func channelSums(
    rows: Int, channels: Int,
    _ accumulate: (_ row: Int, _ accumulator: UnsafeMutablePointer<Float>) -> Void
) -> [Float] {
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
