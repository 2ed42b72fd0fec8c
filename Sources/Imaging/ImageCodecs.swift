import CImageCodecs
import DeepLearning
import Foundation
import Synchronization

/// An image file or buffer that cannot be read, decoded, encoded or used as asked.
///
/// The description names the file (or the caller's `source` label) and the problem, e.g.
/// `maps/train/12.jpg: not a JPEG or PNG (starts with 47 49 46 38)`.
public struct ImagingError: Error, CustomStringConvertible, Equatable {
    /// The file path or label of the offending input.
    public let source: String
    /// What is wrong with it.
    public let problem: String

    /// An error about `source` (usually a file path).
    public init(source: String, _ problem: String) {
        self.source = source
        self.problem = problem
    }

    public var description: String { "\(source): \(problem)" }
}

/// The encoded image formats the library reads and writes.
public enum ImageFormat: Sendable, Equatable {
    case jpeg, png

    /// The format whose signature starts `data`, or nil. Detection is by magic bytes
    /// (JPEG `FF D8 FF`, PNG `89 50 4E 47 0D 0A 1A 0A`), never by file extension: a PNG
    /// saved as `.jpg` still decodes.
    public init?(detecting data: Data) {
        let jpeg: [UInt8] = [0xFF, 0xD8, 0xFF]
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        if data.starts(with: jpeg) {
            self = .jpeg
        } else if data.starts(with: png) {
            self = .png
        } else {
            return nil
        }
    }

    /// The format implied by a file extension (`jpg`, `jpeg`, `png`, any case), or nil.
    /// Used only to choose the output format when saving.
    public init?(fileExtension: String) {
        switch fileExtension.lowercased() {
        case "jpg", "jpeg": self = .jpeg
        case "png": self = .png
        default: return nil
        }
    }
}

/// Limits that protect decoding from hostile or broken files.
public enum ImageLimits {
    /// The largest pixel count (width × height) `decodeImage` accepts; default 64 Mi
    /// pixels (768 MiB as Float RGB). Checked against the header before anything is
    /// allocated, so a 100000×100000 "decompression bomb" fails fast. A process-wide setting,
    /// safe to change from any thread; it decides only which files are refused.
    public static var maxPixels: Int {
        get { maxPixelsStorage.load(ordering: .relaxed) }
        set { maxPixelsStorage.store(newValue, ordering: .relaxed) }
    }

    private static let maxPixelsStorage = Atomic<Int>(64 << 20)
}

/// Reads and decodes the JPEG or PNG file at `url`.
///
/// - Returns: `[height, width, 3]` Float RGB in 0…255 (Keras `img_to_array` convention).
///   Grayscale, palette and alpha inputs are converted to RGB (alpha dropped, not
///   composited); 16-bit PNG samples are scaled to 8 bits.
/// - Throws: `ImagingError` naming the path if the file is missing, empty, not a
///   JPEG/PNG, corrupt, truncated, or larger than `maxPixels`.
public func loadImage(at url: URL, maxPixels: Int = ImageLimits.maxPixels) throws -> Tensor {
    let data: Data
    do {
        data = try Data(contentsOf: url)
    } catch {
        throw ImagingError(source: url.path, "cannot read file (\(error.localizedDescription))")
    }
    return try decodeImage(data, source: url.path, maxPixels: maxPixels)
}

/// Decodes JPEG or PNG bytes (format detected from the magic bytes).
///
/// - Parameters:
///   - data: The encoded file contents.
///   - source: A label for error messages, usually the file path.
///   - maxPixels: Refuse images whose header declares more pixels than this.
/// - Returns: `[height, width, 3]` Float RGB in 0…255.
/// - Throws: `ImagingError(source:…)` describing the problem; corrupt data never traps.
public func decodeImage(_ data: Data, source: String, maxPixels: Int = ImageLimits.maxPixels) throws -> Tensor {
    if data.isEmpty {
        throw ImagingError(source: source, "file is empty")
    }
    guard let format = ImageFormat(detecting: data) else {
        let head = data.prefix(4).map { String(format: "%02X", $0) }.joined(separator: " ")
        throw ImagingError(source: source, "not a JPEG or PNG (starts with \(head))")
    }
    var pixels: UnsafeMutablePointer<UInt8>?
    var width: Int32 = 0, height: Int32 = 0
    var message = [CChar](repeating: 0, count: Int(CIC_MESSAGE_CAPACITY))
    let status = data.withUnsafeBytes { raw -> Int32 in
        let bytes = raw.bindMemory(to: UInt8.self).baseAddress!
        let limit = UInt64(max(maxPixels, 0))
        switch format {
        case .jpeg:
            return cic_decode_jpeg(bytes, raw.count, limit, &pixels, &width, &height, &message)
        case .png:
            return cic_decode_png(bytes, raw.count, limit, &pixels, &width, &height, &message)
        }
    }
    guard status == Int32(CIC_OK), let pixels else {
        let name = format == .jpeg ? "JPEG" : "PNG"
        let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        throw ImagingError(source: source, "invalid \(name): \(text)")
    }
    defer { cic_free(pixels) }
    let h = Int(height), w = Int(width)
    var image = Tensor(shape: [h, w, 3], repeating: 0)
    image.withUnsafeMutableBufferPointer { out in
        let destination = out.baseAddress!
        Parallelism.forEachChunk(of: out.count, grain: 1 << 18) { range in
            for i in range { destination[i] = Float(pixels[i]) }
        }
    }
    return image
}

/// Encodes `[height, width, 3]` (RGB) or `[height, width, 1]` (gray) pixels.
///
/// Values are clamped to 0…255 and rounded to the nearest integer (NaN becomes 0).
/// - Parameters:
///   - image: `[height, width, 3]` or `[height, width, 1]`, values 0…255.
///   - format: `.jpeg` (baseline, 4:2:0 chroma) or `.png` (lossless).
///   - quality: JPEG quality 1…100; ignored for PNG.
/// - Throws: `ImagingError(source: "<encoder>")` for an unsupported shape or codec failure.
public func encodeImage(_ image: Tensor, format: ImageFormat, quality: Int = 95) throws -> Data {
    try encodeImage(image, format: format, quality: quality, source: "<encoder>")
}

/// Encodes `image` and writes it to `url` atomically (temporary file + rename), so a
/// crash never leaves a half-written image. The format comes from the extension
/// (`.jpg`/`.jpeg` or `.png`); see `encodeImage` for shapes and value handling.
///
/// - Throws: `ImagingError` naming the path for an unknown extension or a bad shape;
///   `SerializationError` naming the path and the cause when the file cannot be written.
public func saveImage(_ image: Tensor, to url: URL, quality: Int = 95) throws {
    guard let format = ImageFormat(fileExtension: url.pathExtension) else {
        throw ImagingError(source: url.path, "unknown image extension '\(url.pathExtension)' (use .jpg, .jpeg or .png)")
    }
    let data = try encodeImage(image, format: format, quality: quality, source: url.path)
    // Atomically (temporary file, fsync, rename), like every file the package writes; a failed
    // write names the file and its cause ("File too large") and leaves any old file as it was.
    try writeAtomically(data, to: url)
}

func encodeImage(_ image: Tensor, format: ImageFormat, quality: Int, source: String) throws -> Data {
    guard image.rank == 3, image.shape[2] == 1 || image.shape[2] == 3, image.shape[0] > 0, image.shape[1] > 0 else {
        throw ImagingError(
            source: source,
            "cannot encode a tensor of shape \(describeShape(image.shape)) as an image; expected [H, W, 3] or [H, W, 1]"
        )
    }
    let (h, w, c) = (image.shape[0], image.shape[1], image.shape[2])
    var bytes = [UInt8](repeating: 0, count: image.count)
    image.withUnsafeBufferPointer { input in
        bytes.withUnsafeMutableBufferPointer { output in
            let source = input.baseAddress!, destination = output.baseAddress!
            Parallelism.forEachChunk(of: output.count, grain: 1 << 18) { range in
                for i in range {
                    let v = source[i]
                    // `!(v > 0)` also catches NaN.
                    destination[i] = !(v > 0) ? 0 : v >= 255 ? 255 : UInt8(v.rounded())
                }
            }
        }
    }
    var output: UnsafeMutablePointer<UInt8>?
    var size = 0
    var message = [CChar](repeating: 0, count: Int(CIC_MESSAGE_CAPACITY))
    let status: Int32
    switch format {
    case .jpeg:
        status = cic_encode_jpeg(
            bytes, Int32(w), Int32(h), Int32(c), Int32(min(max(quality, 1), 100)), &output, &size, &message)
    case .png:
        status = cic_encode_png(bytes, Int32(w), Int32(h), Int32(c), &output, &size, &message)
    }
    guard status == Int32(CIC_OK), let output else {
        let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        throw ImagingError(source: source, "cannot encode: \(text)")
    }
    defer { cic_free(output) }
    return Data(bytes: output, count: size)
}
