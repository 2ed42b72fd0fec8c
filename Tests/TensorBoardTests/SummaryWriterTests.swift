import DeepLearning
import Foundation
import Imaging
@testable import TensorBoard
import XCTest

/// The event files, read back by TensorBoard itself (its EventAccumulator, from PyPI, in the
/// venv the ONNX checks use): every value written is the value read.
final class SummaryWriterTests: XCTestCase {
    private var root: URL!
    private static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("tensorboard-tests-\(UUID())")
    }

    override func tearDownWithError() throws {
        if let root { try? FileManager.default.removeItem(at: root) }
    }

    /// What TensorBoard reads from `directory`.
    private func readBack(_ directory: URL) throws -> [String: Any] {
        let python = Self.packageRoot.appendingPathComponent(".build/onnx-venv/bin/python").path
        try XCTSkipUnless(
            FileManager.default.isExecutableFile(atPath: python),
            "no checker environment (run bash Tools/onnx/install-checker.sh)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [
            Self.packageRoot.appendingPathComponent("Tools/tensorboard/read_events.py").path, directory.path,
        ]
        let output = Pipe(), errors = Pipe()
        (process.standardOutput, process.standardError) = (output, errors)
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let messages = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, String(decoding: messages, as: UTF8.self))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    func testTensorBoardReadsBackEveryScalarImageHistogramAndText() throws {
        let writer = try SummaryWriter(logDirectory: root)
        for step in 0..<5 { try writer.addScalar("loss/generator", Float(step) * 0.25 + 0.125, step: step) }
        var random = SeededGenerator(seed: 3)
        let image = Tensor.randomUniform([4, 5, 3], generator: &random)
        try writer.addImage("samples", image, step: 2)
        let values = Tensor([0, 1, 1, 2, 3, 3, 3, 4, .nan])
        try writer.addHistogram("weights", values, step: 3, bins: 4)
        try writer.addText("options", "**ngf** 64, λ = 100", step: 0)
        try writer.addHyperparameters(["ngf": .number(64), "norm": .string("batch"), "jitter": .bool(true)])
        try writer.flush()

        let read = try readBack(root)
        let scalars = (read["scalars"] as! [String: [[Double]]])["loss/generator"]!
        XCTAssertEqual(scalars.map { Int($0[0]) }, [0, 1, 2, 3, 4])
        XCTAssertEqual(scalars.map { Float($0[1]) }, (0..<5).map { Float($0) * 0.25 + 0.125 })

        let images = (read["images"] as! [String: [[Any]]])["samples"]!
        XCTAssertEqual(images.count, 1)
        XCTAssertEqual(images[0][0] as? Int, 2)
        XCTAssertEqual([images[0][1] as? Int, images[0][2] as? Int], [5, 4])
        let png = try decodeImage(Data(base64Encoded: images[0][3] as! String)!, source: "read back")
        XCTAssertEqual(png.shape, [4, 5, 3])
        XCTAssertLessThanOrEqual(png.maxAbsoluteDifference(to: (image * 255).mapRounded()), 0)

        let histogram = (read["histograms"] as! [String: [[Any]]])["weights"]![0]
        XCTAssertEqual(histogram[0] as? Int, 3)
        XCTAssertEqual(histogram[1...5].map { $0 as! Double }, [0, 4, 8, 17, 49])
        XCTAssertEqual(histogram[6] as! [Double], [1, 2, 3, 4])
        XCTAssertEqual(histogram[7] as! [Double], [1, 2, 1, 4])

        let text = (read["text"] as! [String: [[Any]]])["options"]![0]
        XCTAssertEqual(text[0] as? Int, 0)
        XCTAssertEqual(text[1] as? [String], ["**ngf** 64, λ = 100"])

        let hyperparameters = read["hparams"] as! [String: Any]
        XCTAssertEqual(hyperparameters["ngf"] as? Double, 64)
        XCTAssertEqual(hyperparameters["norm"] as? String, "batch")
        XCTAssertEqual(hyperparameters["jitter"] as? Bool, true)
    }

    func testAResumedRunPurgesTheStepsItWillLogAgain() throws {
        let first = try SummaryWriter(logDirectory: root)
        for step in 0..<10 { try first.addScalar("loss", 1, step: step) }
        let resumed = try SummaryWriter(logDirectory: root, purgeStep: 5)
        XCTAssertNotEqual(first.file, resumed.file)
        for step in 5..<8 { try resumed.addScalar("loss", 2, step: step) }
        let scalars = (try readBack(root)["scalars"] as! [String: [[Double]]])["loss"]!
        XCTAssertEqual(scalars.map { Int($0[0]) }, Array(0..<8))
        XCTAssertEqual(scalars.map { $0[1] }, [1, 1, 1, 1, 1, 2, 2, 2])
    }

    func testTheRecordChecksumIsMaskedCRC32C() {
        // CRC-32C of "123456789" is 0xE3069283 (the standard check value), then masked.
        let crc: UInt32 = 0xE306_9283
        XCTAssertEqual(maskedCRC32C(Data("123456789".utf8)), ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8)
    }

    func testAFolderThatCannotBeWrittenIsAnErrorNamingIt() throws {
        try Data().write(to: root)  // a file where the folder should be
        XCTAssertThrowsError(try SummaryWriter(logDirectory: root.appendingPathComponent("logs"))) { error in
            XCTAssertTrue("\(error)".contains(root.path) && "\(error)".contains("cannot"), "\(error)")
        }
    }
}

extension Tensor {
    fileprivate func mapRounded() -> Tensor { Tensor(shape: shape, scalars: scalars.map { ($0).rounded() }) }
}
