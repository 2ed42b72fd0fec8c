import ArgumentParser
import DeepLearning
import Foundation
import Imaging

/// `maps cyclegan`: CycleGAN (Zhu et al. 2017) on unpaired satellite and map tiles.
public struct CycleGANCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "cyclegan",
        abstract:
            "CycleGAN (Zhu et al.) on unpaired satellite and map tiles: split, train, translate, evaluate, export.",
        discussion: """
            With no subcommand, runs the demo: synthesizes a small maps dataset, splits it into an \
            unpaired one (satellite tiles and map tiles of different places), trains a small \
            CycleGAN, evaluates both directions on aligned test pairs and writes an HTML report. \
            Data in junyanz's layout: trainA/ and trainB/ (unpaired), testA/ and testB/ (paired by \
            file name, for the metrics). Runs keep their options in RUN_DIR/cyclegan.json. \
            Docs/CycleGAN.md describes the model and the recipe.
            """,
        subcommands: [
            CycleGANDemo.self, Split.self, CycleGANTrain.self, CycleGANTranslate.self, CycleGANEvaluate.self,
            CycleGANExport.self,
        ],
        defaultSubcommand: CycleGANDemo.self
    )

    public init() {}
}

/// `maps cyclegan split`: a paired maps dataset as an unpaired one.
public struct Split: ParsableCommand {
    public static let configuration = CommandConfiguration(
        abstract: "Split a paired maps dataset into junyanz's unaligned layout, so no training pair is ever seen.",
        discussion: """
            The first half of train/'s pairs gives its satellite halves to trainA/, the second half \
            its map halves to trainB/: the two domains show different places. val/ gives both halves \
            of every pair to testA/ and testB/ under the same name, for the metrics. Tiles are written \
            as PNG at --image-size.
            """)

    @Option(name: .shortAndLong, help: "Paired dataset folder (train/ and val/ of side-by-side JPEGs).")
    var data: String
    @Option(name: .shortAndLong, help: "Folder to create (trainA/, trainB/, testA/, testB/ inside).")
    var output: String
    @Option(name: .customLong("image-size"), help: "Side of the written tiles.")
    var imageSize = 256

    public init() {}

    public func validate() throws {
        guard imageSize >= 16 else { throw ValidationError("--image-size must be at least 16, not \(imageSize)") }
    }

    public func run() throws {
        try splitUnpaired(from: URL(fileURLWithPath: data), to: URL(fileURLWithPath: output), imageSize: imageSize)
    }
}

/// Writes the unaligned split of the paired dataset at `source` (see `Split`).
func splitUnpaired(from source: URL, to root: URL, imageSize: Int) throws {
    let train = source.appendingPathComponent("train"), validation = source.appendingPathComponent("val")
    guard FileManager.default.fileExists(atPath: train.path) else {
        throw MapsError("\(source.path): no train/ folder of side-by-side pairs to split")
    }
    let pairs = try PairedImageDataset(directory: train, imageSize: imageSize)
    guard pairs.count >= 2 else {
        throw MapsError("\(train.path): \(pairs.count) pair; splitting needs at least 2 (one per domain)")
    }
    let test =
        FileManager.default.fileExists(atPath: validation.path)
        ? try PairedImageDataset(directory: validation, imageSize: imageSize) : nil
    let half = pairs.count / 2
    var written = 0
    func write(_ image: Tensor, _ folder: String, _ file: URL) throws {
        let directory = root.appendingPathComponent(folder)
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw MapsError("\(directory.path): cannot create directory (\(error.localizedDescription))")
        }
        try saveImage(
            image, to: directory.appendingPathComponent(file.deletingPathExtension().lastPathComponent + ".png"))
        written += 1
    }
    for index in 0..<pairs.count {
        let (a, b) = try pairs.pixels(at: index)
        if index < half {
            try write(a, "trainA", pairs.files[index])
        } else {
            try write(b, "trainB", pairs.files[index])
        }
    }
    for index in 0..<(test?.count ?? 0) {
        let (a, b) = try test!.pixels(at: index)
        try write(a, "testA", test!.files[index])
        try write(b, "testB", test!.files[index])
    }
    say(
        "wrote \(half) satellite tiles to trainA/, \(pairs.count - half) map tiles of other places to trainB/ and \(test?.count ?? 0) aligned test pairs to testA/, testB/ (\(imageSize)×\(imageSize) PNG) in \(root.path)"
    )
}
