import CDeflate
import DeepLearning
import Foundation

/// The UCI handwritten digits (scikit-learn's `load_digits`): 8×8 images of pixel counts 0…16
/// with their digit, read from the gzip-compressed CSV that ships in this example (`Data/`).
public struct DigitsDataset {
    /// `[N, 8, 8, 1]`, pixels scaled to 0…1 (count / 16).
    public let images: Tensor
    /// The digit of each image, 0…9.
    public let labels: [Int]

    /// The number of images.
    public var count: Int { labels.count }

    /// The copy of `digits.csv.gz` bundled with the example.
    public static var bundledFile: URL {
        Bundle.module.resourceURL!.appendingPathComponent("digits.csv.gz")
    }

    /// Reads a `digits.csv.gz` (64 pixel values 0…16 and a label 0…9 per line).
    ///
    /// - Throws: `DigitsError` naming the file (and line) when it is missing, not gzip, or holds
    ///   a line that is not 65 integers in range.
    public init(contentsOf url: URL) throws {
        let text = try DigitsDataset.decompress(url)
        var pixels: [Float] = [], labels: [Int] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count == 65, let values = Optional(fields.compactMap { Int($0) }), values.count == 65 else {
                throw DigitsError("\(url.path): line \(index + 1) is not 65 comma-separated integers")
            }
            guard values[..<64].allSatisfy({ (0...16).contains($0) }) else {
                throw DigitsError("\(url.path): line \(index + 1) has a pixel outside 0…16")
            }
            guard (0...9).contains(values[64]) else {
                throw DigitsError("\(url.path): line \(index + 1) has label \(values[64]), not a digit 0…9")
            }
            pixels += values[..<64].map { Float($0) / 16 }
            labels.append(values[64])
        }
        guard !labels.isEmpty else { throw DigitsError("\(url.path): no images") }
        self.init(images: Tensor(shape: [labels.count, 8, 8, 1], scalars: pixels), labels: labels)
    }

    init(images: Tensor, labels: [Int]) {
        self.images = images
        self.labels = labels
    }

    /// The fixed held-out split: every fifth image (index 4, 9, 14, …; 359 images) is the test
    /// set, the other 1,438 the training set. Every digit is in both in about equal shares.
    public func split() -> (train: DigitsDataset, test: DigitsDataset) {
        let test = (0..<count).filter { $0 % 5 == 4 }, train = (0..<count).filter { $0 % 5 != 4 }
        return (subset(train), subset(test))
    }

    /// The images and labels at `indices`, in that order.
    public func subset(_ indices: [Int]) -> DigitsDataset {
        DigitsDataset(images: images.gathering(indices), labels: indices.map { labels[$0] })
    }

    /// A batch of samples (`DataLoader`'s collate): their images stacked, `[N, 8, 8, 1]`.
    public static func collate(_ samples: [(image: Tensor, label: Int)]) -> DigitsDataset {
        DigitsDataset(images: Tensor.stacked(samples.map(\.image)), labels: samples.map(\.label))
    }

    /// The whole file, decompressed with zlib's gzip reader.
    private static func decompress(_ url: URL) throws -> String {
        guard FileManager.default.fileExists(atPath: url.path) else { throw DigitsError("\(url.path): no such file") }
        guard let file = gzopen(url.path, "rb") else { throw DigitsError("\(url.path): cannot be opened") }
        defer { gzclose(file) }
        var data = Data(), buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let read = buffer.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
            guard read >= 0 else { throw DigitsError("\(url.path): not a valid gzip file") }
            if read == 0 { break }
            data.append(contentsOf: buffer[..<Int(read)])
            guard data.count < 64 << 20 else { throw DigitsError("\(url.path): larger than 64 MB uncompressed") }
        }
        return String(decoding: data, as: UTF8.self)
    }
}

/// A bad digits file or option: printed as one line by the `digits` command.
public struct DigitsError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension DigitsDataset: Dataset {
    /// Image `index`, `[8, 8, 1]`, and its digit (no random transforms).
    public func sample(at index: Int, random: inout SeededGenerator) -> (image: Tensor, label: Int) {
        (images.slice(axis: 0, index..<(index + 1)).reshaped(to: [8, 8, 1]), labels[index])
    }
}
