import DeepLearning
import Foundation
import Imaging
@testable import MapsCore
import XCTest

/// Runs `maps` commands in-process on tiny data (64-pixel tiles, 32-pixel training images).
final class MapsCommandTests: XCTestCase {
    private var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("maps-tests-\(UUID())")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: root)
    }

    private func maps(_ arguments: [String]) throws {
        var command = try MapsCommand.parseAsRoot(arguments)
        try command.run()
    }

    private func path(_ name: String) -> String { root.appendingPathComponent(name).path }

    private let tinyModel = ["--image-size", "32", "--depth", "5", "--ngf", "4", "--ndf", "4", "--disc-layers", "2"]

    private func synthesize() throws {
        try maps(["synthesize", "--output", path("data"), "--count", "4", "--val-count", "2", "--tile-size", "64"])
    }

    func testSynthesizeWritesTheMapsLayout() throws {
        try synthesize()
        let train = try FileManager.default.contentsOfDirectory(atPath: path("data/train")).sorted()
        XCTAssertEqual(train, ["0001.jpg", "0002.jpg", "0003.jpg", "0004.jpg"])
        XCTAssertEqual(try loadImage(at: root.appendingPathComponent("data/val/0002.jpg")).shape, [64, 128, 3])
    }

    func testPrepareWritesTheSeedsNPZ() throws {
        try synthesize()
        try maps(["prepare", "--input", path("data/train"), "--output", path("maps.npz"), "--size", "32"])
        let arrays = try NPZ.read(from: root.appendingPathComponent("maps.npz"))
        XCTAssertEqual(arrays["arr_0"]?.shape, [4, 32, 32, 3])
        XCTAssertEqual(arrays["arr_1"]?.shape, [4, 32, 32, 3])
    }

    func testTrainTranslateEvaluateEndToEnd() throws {
        try synthesize()
        try maps(
            [
                "train", "--data", path("data"), "--output", path("run"), "--steps", "3",
                "--sample-every", "2", "--checkpoint-every", "2",
            ] + tinyModel)
        for file in [
            "options.json", "checkpoint.safetensors", "generator.safetensors", "losses.csv",
            "samples/step-000002.png", "samples/step-000003.png", "index.html",
        ] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: path("run/\(file)")), file)
        }
        XCTAssertEqual(
            try String(contentsOfFile: path("run/losses.csv"), encoding: .utf8).split(separator: "\n").count, 4)
        XCTAssertTrue(try String(contentsOfFile: path("run/index.html"), encoding: .utf8).contains("<svg"))
        try maps([
            "translate", "--checkpoint", path("run"), "--input", path("data/val"), "--output", path("out"),
            "--side-by-side",
        ])
        XCTAssertEqual(try loadImage(at: root.appendingPathComponent("out/0001.png")).shape, [64, 64, 3])
        try maps([
            "translate", "--checkpoint", path("run"), "--input", path("data/val/0001.jpg"), "--output", path("out2"),
        ])
        XCTAssertEqual(try loadImage(at: root.appendingPathComponent("out2/0001.png")).shape, [64, 128, 3])
        try maps(["evaluate", "--checkpoint", path("run"), "--data", path("data"), "--json"])
        let metrics =
            try JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent("run/metrics.json")))
            as? [String: Any]
        XCTAssertNotNil(metrics?["model"])
        XCTAssertNotNil(metrics?["identity"])
        XCTAssertTrue(try String(contentsOfFile: path("run/index.html"), encoding: .utf8).contains("pixel accuracy"))
    }

    func testResumingContinuesExactlyLikeAnUninterruptedRun() throws {
        try synthesize()
        let common = ["--data", path("data"), "--sample-every", "100", "--checkpoint-every", "2"] + tinyModel
        try maps(["train", "--output", path("straight"), "--steps", "5"] + common)
        try maps(["train", "--output", path("split"), "--steps", "3"] + common)
        try maps(["train", "--output", path("split"), "--resume", "--steps", "5"] + common)
        let straight = try String(contentsOfFile: path("straight/losses.csv"), encoding: .utf8)
        let split = try String(contentsOfFile: path("split/losses.csv"), encoding: .utf8)
        XCTAssertEqual(split, straight)
    }

    func testCorruptCheckpointsAreClearErrorsNamingTheFile() throws {
        try synthesize()
        try maps(["train", "--data", path("data"), "--output", path("run"), "--steps", "2"] + tinyModel)
        let generator = root.appendingPathComponent("run/generator.safetensors")
        try Data(try Data(contentsOf: generator).prefix(100)).write(to: generator)  // truncated
        XCTAssertThrowsError(
            try maps([
                "translate", "--checkpoint", path("run"), "--input", path("data/val"),
                "--output", path("out"), "--side-by-side",
            ])
        ) { error in
            XCTAssertTrue("\(error)".contains("generator.safetensors"), "\(error)")
        }
        let checkpoint = root.appendingPathComponent("run/checkpoint.safetensors")
        try Data("not a checkpoint".utf8).write(to: checkpoint)
        XCTAssertThrowsError(
            try maps(
                ["train", "--data", path("data"), "--output", path("run"), "--resume", "--steps", "4"] + tinyModel)
        ) { error in
            XCTAssertTrue("\(error)".contains("checkpoint.safetensors"), "\(error)")
        }
    }

    func testRefusesToOverwriteAnExistingRun() throws {
        try synthesize()
        let arguments = ["train", "--data", path("data"), "--output", path("run"), "--steps", "1"] + tinyModel
        try maps(arguments)
        let before = try Data(contentsOf: root.appendingPathComponent("run/checkpoint.safetensors"))
        XCTAssertThrowsError(try maps(arguments)) { XCTAssertTrue("\($0)".contains("--resume"), "\($0)") }
        XCTAssertEqual(try Data(contentsOf: root.appendingPathComponent("run/checkpoint.safetensors")), before)
    }

    /// `--pytorch-checkpoint` translates with a junyanz ResNet generator read from its `.pth`
    /// (the fixture of Pix2PixTests); exactly one of the two checkpoint options is accepted.
    func testTranslateWithAPyTorchCheckpoint() throws {
        try synthesize()
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Pix2PixTests/Fixtures/pytorch")
        for name in ["resnet_batch", "unet_batch"] {
            let pth = fixtures.appendingPathComponent("\(name)_net_G.pth").path
            try maps([
                "translate", "--pytorch-checkpoint", pth, "--input", path("data/val"), "--output", path(name),
                "--side-by-side", "--mode", "deterministic",
            ])
            XCTAssertEqual(try loadImage(at: root.appendingPathComponent("\(name)/0001.png")).shape, [64, 64, 3])
        }
        let keras = fixtures.deletingLastPathComponent().appendingPathComponent("keras/generator.h5").path
        try maps([
            "translate", "--keras-model", keras, "--input", path("data/val/0001.jpg"), "--output", path("keras"),
            "--side-by-side", "--mode", "deterministic",
        ])
        XCTAssertEqual(try loadImage(at: root.appendingPathComponent("keras/0001.png")).shape, [64, 64, 3])
        let pth = fixtures.appendingPathComponent("resnet_batch_net_G.pth").path
        XCTAssertThrowsError(
            try maps([
                "translate", "--pytorch-checkpoint", pth, "--checkpoint", path("run"), "--input", path("data/val"),
                "--output", path("x"),
            ]))
    }

    /// The pipelined `translate` writes what translating the images one by one writes, in order;
    /// a corrupt file in the middle stops it with an error naming the file, after the images
    /// before it are written.
    func testPipelinedTranslateMatchesOneByOneAndStopsAtACorruptFile() throws {
        try synthesize()
        try maps(
            ["train", "--data", path("data"), "--output", path("run"), "--steps", "2", "--sample-every", "100"]
                + tinyModel)
        try maps([
            "translate", "--checkpoint", path("run"), "--input", path("data/train"), "--output", path("out"),
            "--side-by-side", "--mode", "deterministic",
        ])
        let (generator, options) = try RunDirectory(url: root.appendingPathComponent("run")).loadGenerator()
        for name in ["0001", "0002", "0003", "0004"] {
            let pair = try loadImage(at: root.appendingPathComponent("data/train/\(name).jpg"))
            let half = pair.shape[0]
            let source = crop(pair, top: 0, left: 0, height: half, width: half)
            let expected = translateImage(
                source, generator: generator, multiple: options.sizeMultiple, mode: .deterministic)
            let reference = root.appendingPathComponent("reference-\(name).png")
            try saveImage(expected, to: reference)  // the same 8-bit encoding
            XCTAssertEqual(
                try loadImage(at: root.appendingPathComponent("out/\(name).png")).scalars,
                try loadImage(at: reference).scalars, name)
        }
        try Data("not an image".utf8).write(to: root.appendingPathComponent("data/train/0003.jpg"))
        XCTAssertThrowsError(
            try maps([
                "translate", "--checkpoint", path("run"), "--input", path("data/train"), "--output", path("out3"),
                "--side-by-side",
            ])
        ) { error in XCTAssertTrue("\(error)".contains("0003.jpg"), "\(error)") }
        let written = try FileManager.default.contentsOfDirectory(atPath: path("out3")).sorted()
        XCTAssertEqual(written, ["0001.png", "0002.png"])
    }

    /// A failed write stops the pipeline with that error; nothing hangs.
    func testPipelinedTranslateStopsAtAFailedWrite() throws {
        let files = (1...6).map { root.appendingPathComponent("\($0).jpg") }
        var encoded: [String] = []
        XCTAssertThrowsError(
            try translatePipelined(
                files, decode: { _ in Tensor.zeros([2, 2, 3]) }, translate: { $0 },
                encode: { file, _ in
                    if file.lastPathComponent == "3.jpg" { throw MapsError("\(file.path): disk full") }
                    encoded.append(file.lastPathComponent)
                })
        ) { error in XCTAssertTrue("\(error)".contains("3.jpg: disk full"), "\(error)") }
        XCTAssertEqual(encoded, ["1.jpg", "2.jpg"])
    }
}

/// Runs the built `maps` executable and checks bad input gives one clear line and exit code 1.
final class MapsBadInputTests: XCTestCase {
    private var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("maps-bad-\(UUID())")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: root)
    }

    private func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try MapsBinary.run(arguments)
    }

    private func assertFails(
        _ arguments: [String], mentioning fragments: [String], file: StaticString = #filePath, line: UInt = #line
    ) throws {
        try MapsBinary.requireBuilt()
        let (status, output) = try run(arguments)
        XCTAssertEqual(status, 1, output, file: file, line: line)
        for fragment in fragments {
            XCTAssertTrue(output.contains(fragment), "\(fragment) not in: \(output)", file: file, line: line)
        }
        XCTAssertFalse(output.contains("Fatal error"), output, file: file, line: line)
    }

    func testBadInputsGiveOneClearLineAndExitCode1() throws {
        let data = root.appendingPathComponent("data/train")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        // An empty dataset folder.
        try assertFails(
            ["train", "--data", data.path, "--output", root.appendingPathComponent("run").path],
            mentioning: [data.path, "no .jpg"])
        // A 3:2 image among the pairs.
        try saveImage(Tensor(shape: [20, 30, 3], repeating: 100), to: data.appendingPathComponent("0001.jpg"))
        try assertFails(
            [
                "train", "--data", root.appendingPathComponent("data").path, "--output",
                root.appendingPathComponent("run").path,
                "--image-size", "32", "--depth", "5",
            ], mentioning: ["0001.jpg", "2:1"])
        // A corrupt image.
        try Data("not an image".utf8).write(to: data.appendingPathComponent("0001.jpg"))
        try assertFails(
            ["prepare", "--input", data.path, "--output", root.appendingPathComponent("x.npz").path],
            mentioning: ["0001.jpg"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: root.appendingPathComponent("x.npz").path))
        // A missing run.
        try assertFails(
            [
                "translate", "--checkpoint", root.appendingPathComponent("nowhere").path, "--input", data.path,
                "--output", root.appendingPathComponent("out").path,
            ], mentioning: ["nowhere", "options.json"])
        // An NPZ without the seed's arrays.
        let npz = root.appendingPathComponent("wrong.npz")
        try NPZ.write([("images", Tensor.zeros([1, 4, 4, 3]))], to: npz)
        try assertFails(
            [
                "train", "--data", npz.path, "--output", root.appendingPathComponent("run2").path, "--image-size", "32",
                "--depth", "5",
            ],
            mentioning: ["wrong.npz", "arr_0"])
    }
}
