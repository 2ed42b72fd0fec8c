import DigitsCore
import Foundation
import XCTest

/// `digits train --tensorboard DIR`: each epoch's loss and accuracy, read back by TensorBoard.
final class DigitsTensorBoardTests: XCTestCase {
    func testEveryEpochIsLoggedAndReadBackByTensorBoard() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("digits-tensorboard-\(UUID())")
        defer { try? FileManager.default.removeItem(at: folder) }
        var command = try DigitsCommand.parseAsRoot(["train", "--epochs", "2", "--tensorboard", folder.path])
        try command.run()
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        XCTAssertEqual(files.filter { $0.contains("tfevents") }.count, 1, "\(files)")

        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let python = package.appendingPathComponent(".build/onnx-venv/bin/python").path
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: python), "no checker environment")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [package.appendingPathComponent("Tools/tensorboard/read_events.py").path, folder.path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let read = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        let scalars = read["scalars"] as! [String: [[Double]]]
        XCTAssertEqual(scalars["loss/train"]?.map { Int($0[0]) }, [1, 2])
        let train = try XCTUnwrap(scalars["accuracy/train"])
        XCTAssertGreaterThan(train[1][1], 0.5, "two epochs learn the training digits: \(train)")
        // (Evaluated with running statistics still near their start after two epochs: any value.)
        let test = try XCTUnwrap(scalars["accuracy/test"]?.first)
        XCTAssertEqual(Int(test[0]), 2)
        XCTAssertTrue((0...1).contains(test[1]))
        XCTAssertEqual((read["hparams"] as? [String: Any])?["epochs"] as? Double, 2)
    }
}
