import DeepLearning

/// pix2pix's random jitter: upscale, take a random crop, maybe mirror — with the SAME
/// crop window and flip for the source and the target so they stay aligned.
///
/// With the defaults a 256×256 pair is resized to 286×286 (nearest, as in the pix2pix
/// reference code), cropped back to 256×256 at a random offset and flipped left-right with
/// probability ½.
public struct Jitter: Sendable {
    /// Side of the square the pair is first resized to.
    public var resizeTo: Int
    /// Side of the random square crop taken from the resized pair; ≤ `resizeTo`.
    public var cropTo: Int
    /// Whether to flip left-right with probability ½.
    public var mirror: Bool
    /// How the first resize interpolates.
    public var method: ResizeMethod

    /// - Parameters:
    ///   - resizeTo: Resize side (default 286).
    ///   - cropTo: Crop side (default 256).
    ///   - mirror: Random left-right flip (default true).
    ///   - method: Resize interpolation (default `.nearest`).
    public init(resizeTo: Int = 286, cropTo: Int = 256, mirror: Bool = true, method: ResizeMethod = .nearest) {
        precondition(cropTo > 0 && cropTo <= resizeTo, "Jitter crop \(cropTo) must be in 1...\(resizeTo)")
        self.resizeTo = resizeTo
        self.cropTo = cropTo
        self.mirror = mirror
        self.method = method
    }

    /// Jitters one aligned pair.
    ///
    /// - Parameters:
    ///   - source: `[H, W, C]`.
    ///   - target: `[H', W', C']`; resized to the same square, so sizes may differ.
    ///   - generator: Draws, in order, the crop row, the crop column and (if `mirror`) the
    ///     flip, so a seed fixes the result.
    /// - Returns: Both images `[cropTo, cropTo, C]`.
    public func apply(source: Tensor, target: Tensor, generator: inout SeededGenerator) -> (Tensor, Tensor) {
        let maxOffset = resizeTo - cropTo
        let top = Int.random(in: 0...maxOffset, using: &generator)
        let left = Int.random(in: 0...maxOffset, using: &generator)
        let flip = mirror && Bool.random(using: &generator)
        func transform(_ image: Tensor) -> Tensor {
            let resized = resize(image, height: resizeTo, width: resizeTo, method: method)
            let cropped = crop(resized, top: top, left: left, height: cropTo, width: cropTo)
            return flip ? mirrored(cropped) : cropped
        }
        return (transform(source), transform(target))
    }

    /// Jitters one image on its own (an unaligned dataset's A or B): the same draws as
    /// `apply(source:target:generator:)`.
    ///
    /// - Returns: `[cropTo, cropTo, C]`.
    public func apply(_ image: Tensor, generator: inout SeededGenerator) -> Tensor {
        apply(source: image, target: Tensor(shape: [1, 1, image.shape[2]], repeating: 0), generator: &generator).0
    }
}
