import Foundation
import XCTest

/// A run that cannot fit in the memory the process may use is refused in seconds with one line,
/// before anything is written; the size that line suggests trains under the same limit.
final class MemoryLimitTests: XCTestCase {
    private var root: URL!
    private var cgroup: URL?

    override func setUpWithError() throws {
        try MapsBinary.requireBuilt()
        root = try MapsBinary.scratchFolderWithFourPairs("memory-limit")
    }

    override func tearDownWithError() throws {
        if let cgroup { try? FileManager.default.removeItem(at: cgroup) }
        try? FileManager.default.removeItem(at: root)
    }

    /// A memory cgroup limited to `bytes` (cgroup v1's memory controller, or a v2 child of this
    /// process's cgroup), or a skip where this machine does not let the test make one.
    private func makeCgroup(limit bytes: Int) throws -> URL {
        let name = "deeplearning-memory-test-\(UUID())"
        let candidates = [
            (URL(fileURLWithPath: "/sys/fs/cgroup/memory").appendingPathComponent(name), "memory.limit_in_bytes"),
            (URL(fileURLWithPath: "/sys/fs/cgroup").appendingPathComponent(name), "memory.max"),
        ]
        for (folder, limitFile) in candidates {
            guard (try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false)) != nil
            else { continue }
            if (try? "\(bytes)".write(to: folder.appendingPathComponent(limitFile), atomically: false, encoding: .utf8))
                != nil
            {
                cgroup = folder
                return folder
            }
            try? FileManager.default.removeItem(at: folder)
        }
        throw XCTSkip("cannot create a memory cgroup here (needs root and a writable cgroup mount)")
    }

    /// `maps arguments` run inside `cgroup`.
    private func maps(_ arguments: [String], in cgroup: URL) throws -> (status: Int32, output: String) {
        let procs = cgroup.appendingPathComponent("cgroup.procs").path
        let quoted = arguments.map { "'\($0)'" }.joined(separator: " ")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "echo $$ > '\(procs)' && exec '\(MapsBinary.url.path)' \(quoted)"]
        let pipe = Pipe()
        (process.standardOutput, process.standardError) = (pipe, pipe)
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func testARunThatCannotFitIsRefusedAndTheSuggestedSizeTrains() throws {
        let cgroup = try makeCgroup(limit: 700 << 20)
        let tiny = ["--depth", "5", "--ngf", "4", "--ndf", "4", "--disc-layers", "2", "--steps", "1"]
        let data = root.appendingPathComponent("data").path
        let refusedRun = root.appendingPathComponent("refused")
        let started = Date()
        let refused = try maps(
            ["train", "--data", data, "--output", refusedRun.path, "--image-size", "8192"] + tiny, in: cgroup)
        XCTAssertLessThan(Date().timeIntervalSince(started), 20, "the refusal comes before the work")
        XCTAssertEqual(refused.status, 1, refused.output)
        let lines = refused.output.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, refused.output)
        XCTAssertTrue(refused.output.contains("--image-size 8192 at --batch-size 1 needs ≈"), refused.output)
        XCTAssertTrue(refused.output.contains("cgroup"), "names the limit: \(refused.output)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: refusedRun.path), "no partial run folder")

        // The size it suggests (its estimate within 80 % of the limit) trains under the same limit.
        let suggestion = try XCTUnwrap(
            refused.output.firstMatch(of: #/--image-size (\d+) should fit/#).map { Int($0.1)! }, refused.output)
        XCTAssertGreaterThanOrEqual(suggestion, 256, refused.output)
        let trained = try maps(
            [
                "train", "--data", data, "--output", root.appendingPathComponent("fits").path, "--image-size",
                "\(suggestion)", "--sample-every", "100",
            ] + tiny, in: cgroup)
        XCTAssertEqual(trained.status, 0, trained.output)
        XCTAssertTrue(trained.output.contains("memory: a training step needs"), trained.output)
    }
}
