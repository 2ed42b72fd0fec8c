import DeepLearning
import Foundation

/// Two folders of images with no pairing between them (junyanz's `unaligned` dataset, CycleGAN's
/// `trainA`/`trainB`), as a `Dataset` for `DataLoader`.
///
/// Sample i is image i mod |A| of A with, by default, a B image drawn at random (from the
/// sample's generator) — or image i mod |B| with `serialBatches` (junyanz's `--serial_batches`);
/// an epoch has max(|A|, |B|) samples. Each image is decoded to RGB (gray ones too, as junyanz's
/// `convert('RGB')`), resized to `jitter.resizeTo`² and cropped at random to `jitter.cropTo`² and
/// maybe mirrored — A and B each with their own draws, since they are not aligned — or, without
/// jitter, resized to `imageSize`² (bicubic, as junyanz's `resize` preprocessing).
///
/// ```swift
/// let data = try UnalignedImageDataset(a: root.appendingPathComponent("trainA"),
///                                      b: root.appendingPathComponent("trainB"), jitter: Jitter())
/// ```
public struct UnalignedImageDataset: Dataset {
    /// The A images, in name order.
    public let filesA: [URL]
    /// The B images, in name order.
    public let filesB: [URL]
    /// Random crop and mirror after resizing to `jitter.resizeTo`; nil resizes to `imageSize`.
    public let jitter: Jitter?
    /// Side of the images without jitter (default 256).
    public let imageSize: Int
    /// B image i mod |B| instead of a random one.
    public let serialBatches: Bool

    /// A dataset over the images of folders `a` and `b`; nothing is decoded yet.
    ///
    /// - Throws: `ImagingError` naming a folder that is missing, unreadable or holds no JPEG/PNG.
    public init(a: URL, b: URL, jitter: Jitter? = nil, imageSize: Int = 256, serialBatches: Bool = false) throws {
        precondition(imageSize > 0, "UnalignedImageDataset: imageSize \(imageSize) must be positive")
        filesA = try listImages(in: a)
        filesB = try listImages(in: b)
        self.jitter = jitter
        self.imageSize = imageSize
        self.serialBatches = serialBatches
    }

    /// max(|A|, |B|).
    public var count: Int { Swift.max(filesA.count, filesB.count) }

    /// Sample `index`: an A image and a B image, `[S, S, 3]` each in [-1, 1].
    ///
    /// - Throws: `ImagingError` naming the file when it cannot be decoded or is not RGB.
    public func sample(at index: Int, random: inout SeededGenerator) throws -> (a: Tensor, b: Tensor) {
        let bIndex = serialBatches ? index % filesB.count : Int.random(in: 0..<filesB.count, using: &random)
        let a = try load(filesA[index % filesA.count], random: &random)
        let b = try load(filesB[bIndex], random: &random)
        return (a, b)
    }

    private func load(_ url: URL, random: inout SeededGenerator) throws -> Tensor {
        let image = try loadImage(at: url)
        guard image.rank == 3, image.shape[2] == 3 else {
            throw ImagingError(
                source: url.path,
                "has \(image.rank == 3 ? image.shape[2] : 0) channels; both folders must hold RGB images")
        }
        guard let jitter else {
            return toUnitRange(resize(image, height: imageSize, width: imageSize, method: .bicubic))
        }
        return toUnitRange(jitter.apply(image, generator: &random))
    }

    /// A batch: the A images and the B images stacked, `[N, S, S, 3]` each.
    public static func collate(_ samples: [(a: Tensor, b: Tensor)]) -> (a: Tensor, b: Tensor) {
        (Tensor.stacked(samples.map(\.a)), Tensor.stacked(samples.map(\.b)))
    }
}
