import DeepLearning
import Foundation

/// Which half of a pair is the generator's input.
public enum Direction: String, Sendable, CaseIterable {
    /// A (left half / `arr_0`) → B (right half / `arr_1`); for maps: satellite → map.
    case aToB = "AtoB"
    /// B → A; for maps: map → satellite.
    case bToA = "BtoA"
}

/// Aligned image pairs for pix2pix, from a directory of side-by-side images or an NPZ cache.
///
/// Directory layout (the pix2pix `maps` dataset): every `*.jpg`/`*.jpeg`/`*.png` file holds
/// A on the left half and B on the right (maps: 1200×600, satellite | map). Files are
/// taken in sorted name order (the seed used `listdir`, whose order is arbitrary).
/// Each image is resized whole to `imageSize × 2·imageSize` with `.nearest` — exactly the
/// seed's `load_img(path, target_size=(256, 512))`, whose PIL default is nearest — then
/// split into halves.
///
/// NPZ layout (the seed's `maps_256.npz`, written by `savez_compressed(src, tar)`):
/// `arr_0` = A and `arr_1` = B, float32 0…255, `[N, H, W, 3]` each.
public final class PairedImageDataset {
    private enum Storage {
        case directory(URL, files: [URL], imageSize: Int)
        case arrays(a: Tensor, b: Tensor)
    }

    private let storage: Storage
    /// Which half is the source.
    public let direction: Direction

    /// A dataset over the side-by-side images in `directory`; nothing is decoded yet.
    ///
    /// - Parameters:
    ///   - directory: A folder of side-by-side (2:1) JPEG or PNG images.
    ///   - imageSize: Side of each returned half (default 256).
    ///   - direction: `.aToB` returns (left, right) as (source, target).
    /// - Throws: `ImagingError` naming the directory if it is missing, unreadable or holds
    ///   no JPEG/PNG file.
    public init(directory: URL, imageSize: Int = 256, direction: Direction = .aToB) throws {
        precondition(imageSize > 0, "imageSize must be positive, got \(imageSize)")
        self.storage = .directory(directory, files: try listImages(in: directory), imageSize: imageSize)
        self.direction = direction
    }

    /// A dataset over arrays already in memory (what the NPZ initializer builds).
    ///
    /// - Parameters:
    ///   - a: `[N, H, W, 3]` pixels 0…255, the A side.
    ///   - b: The B side, same shape as `a`.
    ///   - direction: `.aToB` returns (A, B) as (source, target).
    ///   - source: A label for errors (e.g. the file path).
    /// - Throws: `ImagingError` if the shapes are not equal `[N, H, W, 3]`.
    public init(a: Tensor, b: Tensor, direction: Direction = .aToB, source: String = "<arrays>") throws {
        guard a.rank == 4, a.shape[3] == 3 else {
            throw ImagingError(source: source, "A images have shape \(describeShape(a.shape)), expected [N, H, W, 3]")
        }
        guard b.shape == a.shape else {
            throw ImagingError(
                source: source,
                "B images have shape \(describeShape(b.shape)) but A images have \(describeShape(a.shape))")
        }
        self.storage = .arrays(a: a, b: b)
        self.direction = direction
    }

    /// The number of pairs.
    public var count: Int {
        switch storage {
        case .directory(_, let files, _): return files.count
        case .arrays(let a, _): return a.shape[0]
        }
    }

    /// The image files, in the order `pair(at:)` indexes them (empty for array storage).
    public var files: [URL] {
        if case .directory(_, let files, _) = storage { return files }
        return []
    }

    /// Pair `index` in the generator's range.
    ///
    /// - Returns: `source` and `target`, each `[H, W, 3]` in [-1, 1], ordered by `direction`.
    /// - Throws: `ImagingError` naming the file if it cannot be decoded or is not 2:1.
    public func pair(at index: Int) throws -> (source: Tensor, target: Tensor) {
        let (a, b) = try pixels(at: index)
        let (source, target) = direction == .aToB ? (a, b) : (b, a)
        return (toUnitRange(source), toUnitRange(target))
    }

    /// Pair `index` as A and B pixels 0…255, `[H, W, 3]` each, ignoring `direction`.
    public func pixels(at index: Int) throws -> (a: Tensor, b: Tensor) {
        precondition(index >= 0 && index < count, "pair index \(index) out of range 0..<\(count)")
        switch storage {
        case .directory(_, let files, let size):
            let url = files[index]
            let image = try loadImage(at: url)
            let (h, w) = (image.shape[0], image.shape[1])
            guard w == 2 * h else {
                throw ImagingError(source: url.path, "image is \(w)×\(h), expected a 2:1 side-by-side pair")
            }
            let whole = resize(image, height: size, width: 2 * size, method: .nearest)
            return (
                crop(whole, top: 0, left: 0, height: size, width: size),
                crop(whole, top: 0, left: size, height: size, width: size)
            )
        case .arrays(let a, let b):
            return (
                a.slice(axis: 0, index..<index + 1).reshaped(to: Array(a.shape.dropFirst())),
                b.slice(axis: 0, index..<index + 1).reshaped(to: Array(b.shape.dropFirst()))
            )
        }
    }

    /// Lazy mini-batches over one epoch.
    ///
    /// - Parameters:
    ///   - size: Pairs per batch; the last batch is smaller when `count` is not a multiple.
    ///   - shuffled: Visit pairs in a random order drawn from `generator`.
    ///   - generator: Advanced here (the permutation, then one seed for the jitter), so the
    ///     epoch is reproducible from the generator's state.
    ///   - jitter: Applied per pair (same crop and flip for source and target).
    ///   - shard: For data-parallel training: only this process's share of the epoch's order
    ///     (`DistributedSampler.shard(of:)`), with a jitter stream of its own per rank (rank 0's
    ///     is the one a lone process uses). nil (default): every pair.
    /// - Returns: A throwing iterator: `while let batch = try batches.next() { … }`, each
    ///   batch `(source, target)` of `[B, H, W, 3]` in [-1, 1]. It is not a `Sequence`
    ///   because a bad file is a user error that must surface as `ImagingError`, not a trap.
    public func batches(
        of size: Int, shuffled: Bool, generator: inout SeededGenerator,
        jitter: Jitter? = nil, shard: DistributedSampler? = nil
    ) -> PairedBatches {
        precondition(size > 0, "batch size must be positive, got \(size)")
        var (order, jitterSeed) = epochOrder(shuffled: shuffled, generator: &generator, shard: shard)
        if let shard { jitterSeed ^= UInt64(shard.rank) &* 0xD1B5_4A32_D192_ED03 }
        return PairedBatches(
            dataset: self, order: order, batchSize: size, jitter: jitter, generator: SeededGenerator(seed: jitterSeed))
    }

    /// An epoch's order of the pairs, drawn from `generator` as `batches(of:…)` draws it — the
    /// permutation (when `shuffled`), then one value, the epoch's jitter seed — and cut to this
    /// process's share with a `shard`. For a loader (`PairedSamples`) that keeps a run's stream
    /// where `batches` would leave it.
    public func epochOrder(
        shuffled: Bool, generator: inout SeededGenerator, shard: DistributedSampler? = nil
    ) -> (order: [Int], jitterSeed: UInt64) {
        var order = Array(0..<count)
        if shuffled { order.shuffle(using: &generator) }
        let jitterSeed = generator.next()
        return (shard?.shard(of: order) ?? order, jitterSeed)
    }
}

/// One epoch of `PairedImageDataset` mini-batches, loaded on demand (a batch's files are
/// decoded in parallel when `next()` is called).
public struct PairedBatches {
    let dataset: PairedImageDataset
    let order: [Int]
    let batchSize: Int
    let jitter: Jitter?
    var generator: SeededGenerator
    var position = 0

    /// The number of batches in the epoch.
    public var count: Int { (order.count + batchSize - 1) / batchSize }

    /// The next batch `(source, target)`, each `[B, H, W, 3]` in [-1, 1], or nil at the end.
    ///
    /// - Throws: `ImagingError` naming the first bad file of the batch; the iterator then
    ///   moves past that batch.
    public mutating func next() throws -> (source: Tensor, target: Tensor)? {
        guard position < order.count else { return nil }
        let indices = Array(order[position..<min(position + batchSize, order.count)])
        position += indices.count
        let dataset = self.dataset
        // Decoding dominates: load the batch's pairs on all cores, then jitter in order so
        // the random draws do not depend on thread timing.
        var results = [Result<(source: Tensor, target: Tensor), Error>?](repeating: nil, count: indices.count)
        results.withUnsafeMutableBufferPointer { slots in
            let base = slots.baseAddress!
            Parallelism.forEachChunk(of: indices.count, grain: 1) { range in
                for i in range { base[i] = Result { try dataset.pair(at: indices[i]) } }
            }
        }
        var sources: [Tensor] = [], targets: [Tensor] = []
        for result in results {
            var (source, target) = try result!.get()
            if let jitter { (source, target) = jitter.apply(source: source, target: target, generator: &generator) }
            sources.append(source)
            targets.append(target)
        }
        return (Tensor.stacked(sources), Tensor.stacked(targets))
    }
}

/// The JPEG/PNG files directly in `directory`, sorted by name.
func listImages(in directory: URL) throws -> [URL] {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue
    else {
        throw ImagingError(source: directory.path, "no such directory")
    }
    let names: [String]
    do {
        names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
    } catch {
        throw ImagingError(source: directory.path, "cannot list directory (\(error.localizedDescription))")
    }
    let images =
        names
        .filter { !$0.hasPrefix(".") && ImageFormat(fileExtension: ($0 as NSString).pathExtension) != nil }
        .sorted()
        .map { directory.appendingPathComponent($0) }
    guard !images.isEmpty else {
        throw ImagingError(source: directory.path, "directory holds no .jpg, .jpeg or .png images")
    }
    return images
}
