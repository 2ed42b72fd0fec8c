import DeepLearning
import Foundation
import XCTest

/// The built `maps` executable, next to the test bundle (`.build/<configuration>/maps`).
enum MapsBinary {
    static var url: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("maps")
    }

    /// Skips the calling test when the executable was not built.
    static func requireBuilt() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: url.path), "maps executable not built")
    }

    /// Runs `maps arguments` to completion, optionally under a file-size limit (`ulimit -f`,
    /// in 512-byte blocks), with extra environment variables and in another working directory,
    /// and returns its exit status and everything it printed.
    @discardableResult
    static func run(
        _ arguments: [String], fileSizeLimitBlocks: Int? = nil, environment: [String: String] = [:],
        in directory: URL? = nil
    ) throws -> (status: Int32, output: String) {
        let process = Process()
        process.currentDirectoryURL = directory
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        if let blocks = fileSizeLimitBlocks {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "ulimit -f \(blocks) && exec \"$0\" \"$@\"", url.path] + arguments
        } else {
            process.executableURL = url
            process.arguments = arguments
        }
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// A fresh temporary folder named `prefix-<UUID>` holding `data/`: four synthetic 64×64
    /// training pairs (an epoch of four steps at batch 1) and two validation pairs.
    static func scratchFolderWithFourPairs(_ prefix: String) throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID())")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let (status, output) = try run([
            "synthesize", "--output", root.appendingPathComponent("data").path, "--count", "4", "--val-count", "2",
            "--tile-size", "64",
        ])
        XCTAssertEqual(status, 0, output)
        return root
    }

    /// The lines of `losses.csv` after its header, in order.
    static func lossLines(_ run: URL) -> [Substring] {
        guard let text = try? String(contentsOf: run.appendingPathComponent("losses.csv"), encoding: .utf8) else {
            return []
        }
        return Array(text.split(separator: "\n").dropFirst())
    }

    /// The steps recorded in `losses.csv`.
    static func loggedSteps(_ run: URL) -> [Int] {
        lossLines(run).compactMap { Int($0.split(separator: ",").first ?? "") }
    }

    /// Every tensor of a safetensors file, by name.
    static func tensors(_ url: URL) throws -> [String: Tensor] { try SafeTensors.read(from: url).tensors }
}
