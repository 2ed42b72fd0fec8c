import DeepLearning
import Foundation
import XCTest

/// A write that fails (here: past a file-size limit, as on a full disk) stops training with one
/// line naming the file; the previous checkpoint stays intact, and `--resume` continues exactly
/// once writing works again.
final class WriteFailureTests: XCTestCase {
    /// A fresh folder with a synthesized dataset in `data/`, or a skip where `maps` cannot run
    /// under a file-size limit: ThreadSanitizer's runtime faults while setting up its shadow
    /// memory there (even for `maps --help`), so these tests run in the normal and ASan builds.
    private func makeRoot() throws -> URL {
        try MapsBinary.requireBuilt()
        try XCTSkipIf(dlsym(nil, "__tsan_init") != nil, "a ThreadSanitizer build cannot run under ulimit -f")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("maps-write-\(UUID())")
        try MapsBinary.run([
            "synthesize", "--output", root.appendingPathComponent("data").path, "--count", "4", "--val-count", "1",
            "--tile-size", "64",
        ])
        return root
    }

    func testAFailedCheckpointWriteStopsTrainingKeepsThePreviousCheckpointAndResumeWorks() throws {
        let root = try makeRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        func path(_ name: String) -> String { root.appendingPathComponent(name).path }
        let options = [
            "--data", path("data"), "--image-size", "32", "--depth", "5", "--ngf", "4", "--ndf", "4",
            "--disc-layers", "2", "--checkpoint-every", "2", "--sample-every", "1000",
        ]
        let checkpoint = root.appendingPathComponent("run/checkpoint.safetensors")
        var (status, output) = try MapsBinary.run(["train", "--output", path("run"), "--steps", "4"] + options)
        XCTAssertEqual(status, 0, output)
        let before = try Data(contentsOf: checkpoint)

        // Resume under a file-size limit below the checkpoint's size: the save at step 6 fails.
        let blocks = before.count / 512 / 2
        (status, output) = try MapsBinary.run(
            ["train", "--output", path("run"), "--steps", "8", "--resume"] + options, fileSizeLimitBlocks: blocks)
        XCTAssertEqual(status, 1, output)
        XCTAssertTrue(output.contains(checkpoint.path), "the message names the file: \(output)")
        XCTAssertTrue(output.contains("File too large"), output)
        XCTAssertFalse(output.contains("Fatal error"), output)
        XCTAssertEqual(try Data(contentsOf: checkpoint), before, "the previous checkpoint is untouched")
        XCTAssertNoThrow(try SafeTensors.read(from: checkpoint))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: path("run")).filter { $0.contains(".tmp-") }
        XCTAssertEqual(leftovers, [], "no temporary file is left behind")

        // Space is back: resuming continues from step 4 and trains what an uninterrupted run trains.
        (status, output) = try MapsBinary.run(["train", "--output", path("run"), "--steps", "8", "--resume"] + options)
        XCTAssertEqual(status, 0, output)
        (status, output) = try MapsBinary.run(["train", "--output", path("straight"), "--steps", "8"] + options)
        XCTAssertEqual(status, 0, output)
        XCTAssertEqual(MapsBinary.loggedSteps(root.appendingPathComponent("run")), Array(1...8))
        XCTAssertEqual(
            MapsBinary.lossLines(root.appendingPathComponent("run")),
            MapsBinary.lossLines(root.appendingPathComponent("straight")))
        let resumed = try MapsBinary.tensors(root.appendingPathComponent("run/generator.safetensors"))
        let straight = try MapsBinary.tensors(root.appendingPathComponent("straight/generator.safetensors"))
        for (name, tensor) in straight {
            XCTAssertEqual(resumed[name]?.scalars.map(\.bitPattern), tensor.scalars.map(\.bitPattern), name)
        }
    }

    func testAFailedSampleGridWriteStopsTrainingWithALineNamingTheImage() throws {
        let root = try makeRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        func path(_ name: String) -> String { root.appendingPathComponent(name).path }
        // 4 KiB: the loss log fits, the first sample grid (≈ 7 KB) does not.
        let (status, output) = try MapsBinary.run(
            [
                "train", "--data", path("data"), "--output", path("run"), "--steps", "3", "--image-size", "32",
                "--depth", "5", "--ngf", "4", "--ndf", "4", "--disc-layers", "2", "--checkpoint-every", "100",
                "--sample-every", "1",
            ], fileSizeLimitBlocks: 8)
        XCTAssertEqual(status, 1, output)
        let image = root.appendingPathComponent("run/samples/step-000001.png").path
        XCTAssertTrue(output.contains("\(image): write failed (File too large)"), output)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: path("run/samples")), [])
    }
}
