import Foundation
import XCTest

/// A run folder written before the structure pass (commit f791aaf: typed options, moved ops,
/// InstanceNorm's new default) still resumes and translates: checkpoint names and file formats
/// did not change.
final class RunFromBeforeTheStructurePassTests: XCTestCase {
    /// Fixtures/run-before-structure-pass: options.json, checkpoint.safetensors,
    /// generator.safetensors and losses.csv of `maps synthesize --output data --count 4
    /// --val-count 2 --tile-size 32` then `maps train --data data --output run --image-size 32
    /// --depth 5 --ngf 2 --ndf 2 --disc-layers 2 --norm instance --steps 2 --seed 7
    /// --sample-every 100`, run by the `maps` of f791aaf (instance norm: its γ and β are in the
    /// checkpoint under the names the models still use).
    func testAnOldRunResumesAndTranslates() throws {
        try MapsBinary.requireBuilt()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("old-run-\(UUID())")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let fixture = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/run-before-structure-pass")
        try FileManager.default.copyItem(at: fixture, to: root.appendingPathComponent("run"))
        // The same data the run was trained on ("data" in its options.json, relative to here).
        var (status, output) = try MapsBinary.run(
            ["synthesize", "--output", "data", "--count", "4", "--val-count", "2", "--tile-size", "32"], in: root)
        XCTAssertEqual(status, 0, output)

        (status, output) = try MapsBinary.run(["train", "--output", "run", "--resume", "--steps", "3"], in: root)
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("resuming"), output)
        XCTAssertEqual(MapsBinary.lossLines(root.appendingPathComponent("run")).count, 3, output)

        (status, output) = try MapsBinary.run(
            ["translate", "--checkpoint", "run", "--input", "data/val", "--output", "translated"], in: root)
        XCTAssertEqual(status, 0, output)
        let translated = try FileManager.default.contentsOfDirectory(
            atPath: root.appendingPathComponent("translated").path)
        XCTAssertEqual(translated.count, 2, output)
    }
}
