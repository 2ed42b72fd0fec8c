import DeepLearning
import Foundation

extension PairedImageDataset {
    /// A dataset over an NPZ cache in the seed's `maps_256.npz` format: `arr_0` = A,
    /// `arr_1` = B, float32 pixels 0…255, both `[N, H, W, 3]`. Both arrays are read into
    /// memory (1096 maps pairs at 256² are 1.7 GB, as in the seed).
    ///
    /// - Throws: `ImagingError` naming the file if it cannot be read, lacks `arr_0` or
    ///   `arr_1`, the shapes differ or are not `[N, H, W, 3]`, or values leave 0…255 (e.g.
    ///   a cache already scaled to [-1, 1]).
    public convenience init(npz: URL, direction: Direction = .aToB) throws {
        let arrays: [String: Tensor]
        do {
            arrays = try NPZ.read(from: npz)
        } catch let error as SerializationError {
            // Its message already starts with the path; keep only the problem.
            let prefix = npz.path + ": "
            let problem =
                error.message.hasPrefix(prefix) ? String(error.message.dropFirst(prefix.count)) : error.message
            throw ImagingError(source: npz.path, problem)
        } catch {
            throw ImagingError(source: npz.path, "cannot read NPZ (\(error))")
        }
        guard let a = arrays["arr_0"], let b = arrays["arr_1"] else {
            let missing = ["arr_0", "arr_1"].filter { arrays[$0] == nil }
            throw ImagingError(
                source: npz.path,
                "missing array \(missing.joined(separator: " and ")); expected arr_0 (A) and arr_1 (B) as written by savez_compressed(path, src, tar)"
            )
        }
        for (name, array) in [("arr_0", a), ("arr_1", b)] {
            let (low, high, finite) = extremes(array)
            if !finite {
                throw ImagingError(source: npz.path, "\(name) contains NaN or infinite values; expected pixels 0…255")
            }
            if array.count > 0 && (low < 0 || high > 255) {
                throw ImagingError(source: npz.path, "\(name) holds values in [\(low), \(high)]; expected pixels 0…255")
            }
        }
        try self.init(a: a, b: b, direction: direction, source: npz.path)
    }

    /// The seed's preparation step: every image in `directory` (sorted), resized to
    /// `size × 2·size` with nearest like `load_img(target_size=(size, 2·size))`, split into
    /// A (left) and B (right), saved to `npz` exactly like `savez_compressed(path, src, tar)`:
    /// `arr_0` = A, `arr_1` = B, float32 0…255, `[N, size, size, 3]`.
    ///
    /// - Parameters:
    ///   - directory: A folder of side-by-side (2:1) JPEG or PNG images.
    ///   - npz: The NPZ file to write (atomically; nothing is written if any image is bad).
    ///   - size: Side of each half after resizing (256 in the seed).
    ///   - progress: Called on the calling thread with (done, total) after each
    ///     group of files (files are decoded in parallel).
    /// - Throws: `ImagingError` naming the first bad file or the directory; nothing is
    ///   written then.
    public static func prepareCache(
        from directory: URL, to npz: URL, size: Int = 256,
        progress: ((Int, Int) -> Void)? = nil
    ) throws {
        let dataset = try PairedImageDataset(directory: directory, imageSize: size)
        let n = dataset.count, each = size * size * 3
        var a = Tensor(shape: [n, size, size, 3], repeating: 0)
        var b = Tensor(shape: [n, size, size, 3], repeating: 0)
        let group = 4 * ProcessInfo.processInfo.activeProcessorCount
        try a.withUnsafeMutableBufferPointer { aBuffer in
            try b.withUnsafeMutableBufferPointer { bBuffer in
                let aBase = aBuffer.baseAddress!, bBase = bBuffer.baseAddress!
                for start in stride(from: 0, to: n, by: group) {
                    let end = min(start + group, n)
                    var failures = [Error?](repeating: nil, count: end - start)
                    failures.withUnsafeMutableBufferPointer { slots in
                        let slot = slots.baseAddress!
                        Parallelism.forEachChunk(of: end - start, grain: 1) { range in
                            for k in range {
                                do {
                                    let (left, right) = try dataset.pixels(at: start + k)
                                    left.withUnsafeBufferPointer {
                                        (aBase + (start + k) * each).update(from: $0.baseAddress!, count: each)
                                    }
                                    right.withUnsafeBufferPointer {
                                        (bBase + (start + k) * each).update(from: $0.baseAddress!, count: each)
                                    }
                                } catch {
                                    slot[k] = error
                                }
                            }
                        }
                    }
                    if let failure = failures.lazy.compactMap({ $0 }).first { throw failure }
                    progress?(end, n)
                }
            }
        }
        do {
            try NPZ.write([(name: "arr_0", tensor: a), (name: "arr_1", tensor: b)], to: npz, compressed: true)
        } catch {
            throw ImagingError(source: npz.path, "cannot write NPZ (\(error))")
        }
    }
}

/// The smallest and largest element, and whether every element is finite.
private func extremes(_ tensor: Tensor) -> (low: Float, high: Float, finite: Bool) {
    tensor.withUnsafeBufferPointer { buffer in
        var low = Float.infinity, high = -Float.infinity, finite = true
        for v in buffer {
            if v < low { low = v }
            if v > high { high = v }
            if !v.isFinite { finite = false }
        }
        return (low, high, finite)
    }
}
