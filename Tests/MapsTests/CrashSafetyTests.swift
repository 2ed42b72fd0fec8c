import DeepLearning
import Foundation
import Imaging
import MapsCore
import XCTest

/// Kills `maps train` with SIGKILL mid-run, resumes it, and checks nothing saved was lost.
final class CrashSafetyTests: XCTestCase {
    func testSIGKILLMidTrainingLosesNothingAndResumeContinuesFromTheLastCheckpoint() throws {
        try MapsBinary.requireBuilt()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("maps-crash-\(UUID())")
        defer { try? FileManager.default.removeItem(at: root) }
        var command = try MapsCommand.parseAsRoot([
            "synthesize", "--output", root.appendingPathComponent("data").path,
            "--count", "4", "--val-count", "1", "--tile-size", "64",
        ])
        try command.run()
        let run = root.appendingPathComponent("run")
        let arguments = [
            "train", "--data", root.appendingPathComponent("data").path, "--output", run.path,
            "--image-size", "32", "--depth", "5", "--ngf", "4", "--ndf", "4", "--disc-layers", "2",
            "--checkpoint-every", "3", "--sample-every", "1000",
        ]
        let process = Process()
        process.executableURL = MapsBinary.url
        process.arguments = arguments + ["--steps", "100000"]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // Wait for a couple of checkpoints, then kill without warning (possibly mid-write).
        let checkpoint = run.appendingPathComponent("checkpoint.safetensors")
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && MapsBinary.loggedSteps(run).count < 8 { usleep(20_000) }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .uncaughtSignal)
        XCTAssertGreaterThanOrEqual(MapsBinary.loggedSteps(run).count, 8, "training did not get going")

        // The checkpoint on disk is complete and loads.
        let (tensors, metadata) = try SafeTensors.read(from: checkpoint)
        XCTAssertFalse(tensors.isEmpty)
        let state = try XCTUnwrap(metadata["pix2pix.training-state"])
        let savedStep = try XCTUnwrap(
            (try JSONSerialization.jsonObject(with: Data(state.utf8)) as? [String: Any])?["completedSteps"] as? Int)
        XCTAssertEqual(savedStep % 3, 0)
        XCTAssertGreaterThanOrEqual(savedStep, 3)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: run.path).filter { $0.contains(".tmp-") }
        XCTAssertTrue(leftovers.count <= 1, "at most the one temp file being written when killed: \(leftovers)")

        // Resume: it starts at the checkpoint's step and continues to the new total.
        var resume = try MapsCommand.parseAsRoot(arguments + ["--resume", "--steps", "\(savedStep + 4)"])
        try resume.run()
        let steps = MapsBinary.loggedSteps(run)
        XCTAssertEqual(steps, Array(1...(savedStep + 4)), "losses.csv holds each step once, in order")
    }
}
