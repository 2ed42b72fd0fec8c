import ArgumentParser
import DeepLearning
import Foundation
import Imaging

/// `maps synthesize`: writes a procedural maps dataset in the real one's layout.
public struct Synthesize: ParsableCommand {
    public static let configuration = CommandConfiguration(
        abstract: "Write synthetic satellite|map pairs as 1200×600 JPEGs in train/ and val/.")

    @Option(name: .shortAndLong, help: "Dataset folder to create (train/ and val/ inside).")
    var output: String
    @Option(name: .shortAndLong, help: "Training pairs.")
    var count: Int = 200
    @Option(name: .customLong("val-count"), help: "Validation pairs.")
    var valCount: Int = 20
    @Option(help: "Random seed: the same seed gives the same dataset.")
    var seed: UInt64 = 1
    @Option(name: .customLong("tile-size"), help: "Side of each half in pixels (600 like the maps dataset).")
    var tileSize: Int = 600

    public init() {}

    public func validate() throws {
        guard count > 0, valCount >= 0 else {
            throw ValidationError("--count must be positive and --val-count not negative")
        }
        guard tileSize >= 16 else { throw ValidationError("--tile-size must be at least 16") }
    }

    public func run() throws {
        try synthesizeDataset(
            at: URL(fileURLWithPath: output), train: count, validation: valCount, seed: seed,
            tileSize: tileSize)
    }
}

/// Generates `train` + `validation` pairs under `root/train` and `root/val`.
func synthesizeDataset(at root: URL, train: Int, validation: Int, seed: UInt64, tileSize: Int) throws {
    let maps = SyntheticMaps(seed: seed, tileSize: tileSize)
    let start = Date()
    for (split, range) in [("train", 0..<train), ("val", train..<(train + validation))] where !range.isEmpty {
        let folder = root.appendingPathComponent(split)
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw MapsError("\(folder.path): cannot create directory (\(error.localizedDescription))")
        }
        for (n, index) in range.enumerated() {
            let url = folder.appendingPathComponent(String(format: "%04d.jpg", n + 1))
            try saveImage(maps.pairImage(index), to: url, quality: 95)
            if standardOutputIsTerminal {
                say("\rsynthesizing \(split): \(n + 1)/\(range.count)", terminator: n + 1 == range.count ? "\n" : "")
            }
        }
    }
    say(
        String(
            format: "wrote %d training and %d validation pairs to %@ in %.1fs", train, validation, root.path,
            Date().timeIntervalSince(start)))
}
