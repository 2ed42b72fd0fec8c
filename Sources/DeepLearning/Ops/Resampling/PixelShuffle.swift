// Depth-to-space and space-to-depth (PyTorch's `pixel_shuffle` and `pixel_unshuffle`) on NHWC
// tensors. Each is a permutation of the elements, so each one's pullback is the other.

/// Depth-to-space, PyTorch's `F.pixel_shuffle(x, r)` translated to NHWC:
/// `[N, H, W, C·r²]` → `[N, H·r, W·r, C]`.
///
/// Input channel `c·r² + i·r + j` of pixel (h, w) becomes channel `c` of output pixel
/// `(h·r + i, w·r + j)` — PyTorch's channel order (the NCHW `pixel_shuffle` of the same data
/// permuted to NCHW and back), not TensorFlow's `depth_to_space`, which reads channel
/// `(i·r + j)·C + c`. The gradient is `pixelUnshuffle` of the output gradient.
///
/// - Precondition: `x` has rank 4, `upscaleFactor ≥ 1`, and the channels are divisible by `r²`.
public func pixelShuffle(_ x: Tensor, upscaleFactor r: Int) -> Tensor {
    precondition(x.rank == 4, "pixelShuffle: needs an [N, H, W, C·r²] input, got \(describeShape(x.shape))")
    precondition(r >= 1, "pixelShuffle: upscale factor \(r) must be positive")
    precondition(
        x.shape[3] % (r * r) == 0,
        "pixelShuffle: \(x.shape[3]) channels of \(describeShape(x.shape)) are not divisible by r² = \(r * r)")
    let output = shuffled(x, r, toSpace: true)
    return Tensor.recording(output, inputs: [x]) { gradient, _ in [pixelUnshuffle(gradient, downscaleFactor: r)] }
}

/// Space-to-depth, PyTorch's `F.pixel_unshuffle(x, r)` translated to NHWC, the inverse of
/// `pixelShuffle`: `[N, H·r, W·r, C]` → `[N, H, W, C·r²]`, output channel `c·r² + i·r + j` of
/// pixel (h, w) being channel `c` of input pixel `(h·r + i, w·r + j)`. The gradient is
/// `pixelShuffle` of the output gradient.
///
/// - Precondition: `x` has rank 4, `downscaleFactor ≥ 1`, and height and width are divisible by it.
public func pixelUnshuffle(_ x: Tensor, downscaleFactor r: Int) -> Tensor {
    precondition(x.rank == 4, "pixelUnshuffle: needs an [N, H·r, W·r, C] input, got \(describeShape(x.shape))")
    precondition(r >= 1, "pixelUnshuffle: downscale factor \(r) must be positive")
    precondition(
        x.shape[1] % r == 0 && x.shape[2] % r == 0,
        "pixelUnshuffle: height and width of \(describeShape(x.shape)) are not divisible by \(r)")
    let output = shuffled(x, r, toSpace: false)
    return Tensor.recording(output, inputs: [x]) { gradient, _ in [pixelShuffle(gradient, upscaleFactor: r)] }
}

/// The permutation of both ops, without recording: depth-to-space when `toSpace`, else its inverse.
///
/// Both walk the space-side tensor `[N, H·r, W·r, C]` one row per task; pixel (y, x) of it
/// pairs with channels `c·r² + (y % r)·r + (x % r)` (stride r²) of depth-side pixel (y / r, x / r).
private func shuffled(_ x: Tensor, _ r: Int, toSpace: Bool) -> Tensor {
    let n = x.shape[0]
    let (depthH, depthW, spaceC) =
        toSpace ? (x.shape[1], x.shape[2], x.shape[3] / (r * r)) : (x.shape[1] / r, x.shape[2] / r, x.shape[3])
    let (spaceH, spaceW, depthC) = (depthH * r, depthW * r, spaceC * r * r)
    let result = Tensor(
        uninitializedShape: toSpace ? [n, spaceH, spaceW, spaceC] : [n, depthH, depthW, depthC])
    let square = r * r
    withPointers(x, result) { source, target in
        let (space, depth) = toSpace ? (target, source) : (source, target)
        parallelChunks(n * spaceH, grain: Swift.max(1, 16_384 / Swift.max(spaceW * spaceC, 1))) { range in
            for row in range {
                let (image, y) = (row / spaceH, row % spaceH)
                let spaceRow = space + row * spaceW * spaceC
                let depthRow = depth + (image * depthH + y / r) * depthW * depthC + (y % r) * r
                for x in 0..<spaceW {
                    let s = spaceRow + x * spaceC, d = depthRow + (x / r) * depthC + x % r
                    if toSpace {
                        for c in 0..<spaceC { s[c] = d[c * square] }
                    } else {
                        for c in 0..<spaceC { d[c * square] = s[c] }
                    }
                }
            }
        }
    }
    return result
}
