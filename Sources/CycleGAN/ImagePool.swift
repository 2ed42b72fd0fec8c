import DeepLearning

/// junyanz's image pool (Shrivastava et al. 2017): the discriminator sees generated images drawn
/// from a history of them, not only the newest — which damps the oscillation between G and D.
///
/// Until `capacity` images are stored, each query stores its images and returns them; then each
/// image of a query is, with probability ½, swapped for a stored one picked at random (which is
/// returned, the new image taking its place), else returned as it is. `capacity` 0 returns every
/// query unchanged. The pool's random stream is its own (`generator`), saved with it.
public struct ImagePool {
    /// Images kept at most (junyanz's `pool_size`, 50).
    public let capacity: Int
    /// The stored images, `[H, W, C]` each.
    public private(set) var images: [Tensor] = []
    /// The draws of the swaps.
    public var generator: SeededGenerator

    /// An empty pool of `capacity` (default 50) images drawing from `generator`.
    public init(capacity: Int = 50, generator: SeededGenerator) {
        precondition(capacity >= 0, "ImagePool: capacity \(capacity) must be ≥ 0")
        self.capacity = capacity
        self.generator = generator
    }

    /// A pool restored from a checkpoint: its stored images and stream.
    public init(capacity: Int, images: [Tensor], generator: SeededGenerator) {
        precondition(images.count <= capacity, "ImagePool: \(images.count) images for a capacity of \(capacity)")
        self.init(capacity: capacity, generator: generator)
        self.images = images
    }

    /// The images the discriminator sees for the generated `batch` (`[N, H, W, C]`, not recorded).
    public mutating func query(_ batch: Tensor) -> Tensor {
        guard capacity > 0 else { return batch.detached() }
        let count = batch.shape[0]
        var returned: [Tensor] = []
        for index in 0..<count {
            let image = batch.detached().slice(axis: 0, index..<(index + 1)).reshaped(
                to: Array(batch.shape.dropFirst()))
            if images.count < capacity {
                images.append(image)
                returned.append(image)
            } else if generator.nextUnitFloat() > 0.5 {
                let slot = Int.random(in: 0..<capacity, using: &generator)
                returned.append(images[slot])
                images[slot] = image
            } else {
                returned.append(image)
            }
        }
        return Tensor.stacked(returned)
    }
}
