// swift-format-ignore-file
// (This file mirrors code blocks of the docs line for line, as the test below checks: it keeps their layout.)
// The README's usage example, compiled (not run: it needs the maps dataset on disk).
// `testTheReadmeShowsThisCode` fails if README.md's ```swift block that trains pix2pix drifts from it.
import DeepLearning
import Foundation
import Imaging
import Pix2Pix
import XCTest

func readmeUsageExample() throws {

    RandomState.seed(42)                                   // reproducible weights and dropout
    let trainer = Pix2PixTrainer(generator: UNetGenerator(),          // unet_256, as the paper and the seed
                                 discriminator: PatchDiscriminator()) // 6-channel input, 16×16 patch logits
    let data = try PairedImageDataset(directory: URL(fileURLWithPath: "maps/train"))  // 1200×600 A|B JPEGs
    var shuffle = SeededGenerator(seed: 1)
    for epoch in 0..<200 {
        trainer.epoch = epoch
        var batches = data.batches(of: 1, shuffled: true, generator: &shuffle, jitter: Jitter())
        while let (satellite, map) = try batches.next() {              // [1, 256, 256, 3] in [-1, 1]
            let losses = try trainer.step(source: satellite, target: map)   // D real, D fake, G GAN, G L1
            if trainer.completedSteps % 100 == 0 { print(epoch, losses) }
        }
        try trainer.saveCheckpoint(to: URL(fileURLWithPath: "pix2pix.safetensors"))
    }
    let (satellite, _) = try data.pair(at: 0)                        // [256, 256, 3]
    let map = trainer.generator.translate(satellite, mode: .paper)   // dropout + batch statistics, as the paper
    _ = map
}

final class ReadmeExampleTests: XCTestCase {
    func testTheReadmeShowsThisCode() throws {
        let here = URL(fileURLWithPath: #filePath)
        let source = try String(contentsOf: here, encoding: .utf8)
        let readme = try String(contentsOf: here.deletingLastPathComponent().appendingPathComponent("../../README.md"), encoding: .utf8)
        let blocks = readme.components(separatedBy: "```swift\n").dropFirst().compactMap { $0.components(separatedBy: "```").first }
        let block = try XCTUnwrap(blocks.first { $0.contains("Pix2PixTrainer(") }, "no ```swift block in README.md trains pix2pix")
        let sourceLines = source.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        var position = 0
        for line in block.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) })
            where !line.isEmpty && !line.hasPrefix("//") && !line.hasPrefix("import ") {
            guard let found = sourceLines[position...].firstIndex(of: line) else {
                XCTFail("README.md line not in the compiled example: \(line)")
                return
            }
            position = found + 1
        }
    }
}
