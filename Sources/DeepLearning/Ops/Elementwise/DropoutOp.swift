// Inverted dropout: kept elements are scaled by 1/(1 − rate) so the expectation is unchanged.

/// Zeroes each element with probability `rate` and scales the rest by 1/(1 − rate).
///
/// The mask is drawn from `generator`, so a seeded run is reproducible; the pullback
/// multiplies by the same mask.
public func dropout(_ input: Tensor, rate: Float, generator: inout SeededGenerator) -> Tensor {
    precondition(rate >= 0 && rate < 1, "dropout: rate \(rate) must be in [0, 1)")
    if rate == 0 { return input }
    let scale = 1 / (1 - rate)
    let mask = Tensor(uninitializedShape: input.shape)
    let m = mask.storage.pointer
    for i in 0..<mask.count { m[i] = generator.nextUnitFloat() < rate ? 0 : scale }
    let output = Tensor.zipElements(input, mask) { $0 * $1 }
    return Tensor.recording(output, inputs: [input]) { gradient, _ in
        [gradient * mask]
    }
}
