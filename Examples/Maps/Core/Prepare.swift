import ArgumentParser
import Foundation
import Imaging

/// `maps prepare`: the seed's first step — a folder of side-by-side JPEGs into one NPZ.
public struct Prepare: ParsableCommand {
    public static let configuration = CommandConfiguration(
        abstract: "Resize and split a folder of A|B images into an NPZ cache (arr_0 = A, arr_1 = B, float32 0–255).",
        discussion: "Exactly the seed's maps_256.npz: numpy.load(FILE)['arr_0'] has shape (N, size, size, 3).")

    @Option(name: .shortAndLong, help: "Folder of side-by-side images (e.g. maps/train).")
    var input: String
    @Option(name: .shortAndLong, help: "NPZ file to write.")
    var output: String
    @Option(help: "Side of each half after resizing.")
    var size: Int = 256

    public init() {}

    public func run() throws {
        let start = Date()
        try PairedImageDataset.prepareCache(
            from: URL(fileURLWithPath: input), to: URL(fileURLWithPath: output), size: size
        ) { done, total in
            if standardOutputIsTerminal { say("\rprepared \(done)/\(total)", terminator: done == total ? "\n" : "") }
        }
        say(String(format: "wrote %@ in %.1fs", output, Date().timeIntervalSince(start)))
    }
}
