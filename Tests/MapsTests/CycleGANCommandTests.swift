import DeepLearning
import Foundation
import Imaging
import Pix2Pix
import XCTest

/// `maps cyclegan` through the binary: the unpaired split, exact resume, evaluation of both
/// directions (the run's and scored from PNGs), translation, export, and the bad inputs of the
/// issue, each one line naming the folder or option.
final class CycleGANCommandTests: XCTestCase {
    private var root: URL!

    override func setUpWithError() throws {
        try MapsBinary.requireBuilt()
        // Four training pairs (two per domain after the split: an epoch of two steps) and two test pairs.
        root = try MapsBinary.scratchFolderWithFourPairs("maps-cyclegan")
        let (status, output) = try MapsBinary.run([
            "cyclegan", "split", "--data", path("data"), "--output", path("unpaired"), "--image-size", "32",
        ])
        XCTAssertEqual(status, 0, output)
    }

    override func tearDownWithError() throws {
        if let root { try? FileManager.default.removeItem(at: root) }
    }

    private func path(_ name: String) -> String { root.appendingPathComponent(name).path }

    private func files(_ folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path(folder))) ?? []).sorted()
    }

    /// A tiny CycleGAN (32², ngf 4, 2 blocks, 2-layer PatchGANs) trained by the binary.
    @discardableResult
    private func train(_ run: String, _ extra: [String], expect status: Int32 = 0) throws -> String {
        let (code, output) = try MapsBinary.run(
            [
                "cyclegan", "train", "--data", path("unpaired"), "--output", path(run), "--image-size", "32", "--ngf",
                "4", "--ndf", "4", "--blocks", "2", "--disc-layers", "2", "--seed", "3",
            ] + extra)
        XCTAssertEqual(code, status, output)
        return output
    }

    private func fail(_ arguments: [String]) throws -> String {
        let (status, output) = try MapsBinary.run(arguments)
        XCTAssertEqual(status, 1, output)
        return output
    }

    func testSplitGivesEachDomainOtherPlacesAndAlignsTheTestPairs() throws {
        XCTAssertEqual(files("unpaired/trainA"), ["0001.png", "0002.png"])
        XCTAssertEqual(files("unpaired/trainB"), ["0003.png", "0004.png"])
        XCTAssertEqual(files("unpaired/testA"), ["0001.png", "0002.png"])
        XCTAssertEqual(files("unpaired/testB"), files("unpaired/testA"))
        // trainA holds the satellite half of the first pair, trainB the map half of the third.
        let pair = try loadImage(at: root.appendingPathComponent("data/train/0003.jpg"))
        let written = try loadImage(at: root.appendingPathComponent("unpaired/trainB/0003.png"))
        XCTAssertEqual(written.shape, [32, 32, 3])
        func meanDifference(left: Int) -> Float {
            let half = resize(crop(pair, top: 0, left: left, height: 64, width: 64), height: 32, width: 32)
            return zip(written.scalars, half.scalars).map { Swift.abs($0 - $1) }.reduce(0, +) / Float(written.count)
        }
        let (map, satellite) = (meanDifference(left: 64), meanDifference(left: 0))
        XCTAssertLessThan(map, 3, "trainB/0003.png is the map half of train/0003.jpg (resampled)")
        XCTAssertGreaterThan(satellite, 10 * map, "not the satellite half")
    }

    /// 5 steps (through an epoch boundary, with the learning rate decaying), stopped after 3
    /// and resumed, against 5 straight: the same losses, weights, optimizer moments and pools.
    func testResumeThroughTheBinaryIsExact() throws {
        let common = ["--epochs", "1", "--decay-epochs", "2", "--checkpoint-every", "100", "--pool-size", "2"]
        try train("straight", ["--steps", "5"] + common)
        try train("split", ["--steps", "3"] + common)
        let resumed = try train("split", ["--steps", "5", "--resume"] + common)
        XCTAssertTrue(resumed.contains("resuming"), resumed)
        XCTAssertTrue(resumed.contains("--steps 5 (was 3)"), resumed)
        XCTAssertEqual(MapsBinary.loggedSteps(root.appendingPathComponent("split")), [1, 2, 3, 4, 5])
        XCTAssertEqual(
            MapsBinary.lossLines(root.appendingPathComponent("straight")),
            MapsBinary.lossLines(root.appendingPathComponent("split")))
        let left = try MapsBinary.tensors(root.appendingPathComponent("straight/checkpoint.safetensors"))
        let right = try MapsBinary.tensors(root.appendingPathComponent("split/checkpoint.safetensors"))
        XCTAssertEqual(left.keys.sorted(), right.keys.sorted())
        XCTAssertTrue(left.keys.contains("poolA/1"), "the pools are saved: \(left.keys.sorted().prefix(5))")
        for (name, tensor) in left {
            let same = right[name].map { tensor.scalars.elementsEqual($0.scalars) { $0.bitPattern == $1.bitPattern } }
            XCTAssertEqual(same, true, "checkpoint tensor \(name) differs")
        }
        // The options fixed at the start are refused on resume, naming the flag; nothing changes.
        let before = try Data(contentsOf: root.appendingPathComponent("split/checkpoint.safetensors"))
        let refused = try train("split", ["--steps", "6", "--resume", "--lambda-a", "5"] + common, expect: 1)
        XCTAssertTrue(refused.contains("--lambda-a 5 conflicts with the run's 10"), refused)
        XCTAssertEqual(try Data(contentsOf: root.appendingPathComponent("split/checkpoint.safetensors")), before)
    }

    /// The run's evaluation equals the scorer's on the PNGs `translate` writes with the run's
    /// generators: both directions measured by one code path.
    func testEvaluateTranslateAndScorePredictionsAgree() throws {
        try train("run", ["--steps", "2"])
        let (status, output) = try MapsBinary.run(["cyclegan", "evaluate", "--checkpoint", path("run"), "--json"])
        XCTAssertEqual(status, 0, output)
        for (direction, folder) in [("AtoB", "testA"), ("BtoA", "testB")] {
            let (code, text) = try MapsBinary.run([
                "cyclegan", "translate", "--checkpoint", path("run"), "--direction", direction, "--input",
                path("unpaired/\(folder)"), "--output", path("predictions/\(direction)"),
            ])
            XCTAssertEqual(code, 0, text)
        }
        let (code, scored) = try MapsBinary.run([
            "cyclegan", "evaluate", "--predictions", path("predictions"), "--data", path("unpaired"), "--json",
        ])
        XCTAssertEqual(code, 0, scored)
        func metrics(_ json: String) throws -> [String: [String: Double]] {
            let line = json.split(separator: "\n").last { $0.hasPrefix("{") } ?? ""
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
            return object.compactMapValues { $0 as? [String: Double] }
        }
        let (run, predictions) = (try metrics(output), try metrics(scored))
        for direction in ["aToB", "bToA", "identityAToB", "identityBToA"] {
            for metric in ["pixelAccuracy", "rmse", "ssim"] {
                let (a, b) = (run[direction]?[metric], predictions[direction]?[metric])
                XCTAssertNotNil(a, "\(direction).\(metric) in \(output)")
                XCTAssertEqual(a ?? .nan, b ?? -1, accuracy: 1e-9, "\(direction).\(metric)")
            }
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("run/metrics.json")))
        let report = try String(contentsOf: root.appendingPathComponent("run/index.html"), encoding: .utf8)
        for term in ["D_A", "G_B", "cycle_A", "idt_B", "B → A (G_B)"] { XCTAssertTrue(report.contains(term), term) }

        let (exported, exportOutput) = try MapsBinary.run([
            "cyclegan", "export", "--checkpoint", path("run"), "--direction", "BtoA", "--output", path("g_b.onnx"),
        ])
        XCTAssertEqual(exported, 0, exportOutput)
        let size = (try FileManager.default.attributesOfItem(atPath: path("g_b.onnx"))[.size] as? Int) ?? 0
        XCTAssertGreaterThan(size, 4 * 4 * 9 * 4, "the ONNX file holds the weights")
    }

    func testBadInputGetsOneLineNamingTheFolderOrOption() throws {
        // Missing and paired datasets.
        XCTAssertTrue(
            try train("a", ["--steps", "1", "--data", path("nowhere")], expect: 1).contains("nowhere: no such file"))
        let paired = try train("b", ["--steps", "1", "--data", path("data")], expect: 1)
        XCTAssertTrue(paired.contains("a paired dataset") && paired.contains("maps cyclegan split"), paired)
        // An empty domain folder.
        try FileManager.default.createDirectory(
            at: root.appendingPathComponent("empty/trainA"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            at: root.appendingPathComponent("unpaired/trainB"), to: root.appendingPathComponent("empty/trainB"))
        let empty = try train("c", ["--steps", "1", "--data", path("empty")], expect: 1)
        XCTAssertTrue(empty.contains("empty/trainA"), empty)
        // A gray image and one of another size are decoded as RGB and resized, as junyanz's loader does.
        let odd = root.appendingPathComponent("odd")
        try FileManager.default.copyItem(at: root.appendingPathComponent("unpaired"), to: odd)
        try saveImage(Tensor(shape: [32, 32, 1], repeating: 128), to: odd.appendingPathComponent("trainA/0001.png"))
        try saveImage(Tensor(shape: [48, 40, 3], repeating: 90), to: odd.appendingPathComponent("trainB/0003.png"))
        let mixed = try train("d", ["--steps", "2", "--data", odd.path, "--serial-batches"], expect: 0)
        XCTAssertTrue(mixed.contains("done: 2 steps"), "gray is decoded as RGB and other sizes resized: \(mixed)")

        // A pix2pix run folder given to CycleGAN commands, and a CycleGAN run to pix2pix's.
        let pix2pix = root.appendingPathComponent("pix2pix-run")
        try FileManager.default.createDirectory(at: pix2pix, withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: pix2pix.appendingPathComponent("options.json"))
        XCTAssertTrue(
            try fail(["cyclegan", "evaluate", "--checkpoint", pix2pix.path]).contains("a pix2pix run (options.json)"))
        XCTAssertTrue(try train("pix2pix-run", ["--steps", "1"], expect: 1).contains("already holds a pix2pix run"))
        XCTAssertTrue(
            try fail(["cyclegan", "train", "--data", pix2pix.path, "--output", path("e")]).contains(
                "a training run, not a dataset"))
        try train("cycle", ["--steps", "1"])
        XCTAssertTrue(
            try fail(["evaluate", "--checkpoint", path("cycle"), "--data", path("data")]).contains("a CycleGAN run"))
        XCTAssertTrue(
            try fail([
                "translate", "--checkpoint", path("cycle"), "--input", path("unpaired/testA"), "--output", path("f"),
            ])
            .contains("a CycleGAN run"))
        XCTAssertTrue(try fail(["train", "--resume", "--output", path("cycle")]).contains("a CycleGAN run"))
        XCTAssertTrue(try train("cycle", ["--steps", "1"], expect: 1).contains("already holds a CycleGAN run"))
        // Options checked before anything runs.
        let (status, output) = try MapsBinary.run([
            "cyclegan", "train", "--data", path("unpaired"), "--output", path("g"), "--image-size", "30",
        ])
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(output.contains("--image-size 30 must be a multiple of 4"), output)
    }

    /// A run started from junyanz's `latest_net_*.pth` files takes their architecture and
    /// weights, and `translate` reads his generator files directly.
    func testTrainingStartsFromJunyanzsNetworksAndTranslateReadsThem() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("CycleGANTests/Fixtures")
        let junyanz = root.appendingPathComponent("junyanz")
        try FileManager.default.createDirectory(at: junyanz, withIntermediateDirectories: true)
        for name in ["G_A", "G_B", "D_A", "D_B"] {
            try FileManager.default.copyItem(
                at: fixtures.appendingPathComponent("net_\(name).pth"),
                to: junyanz.appendingPathComponent("latest_net_\(name).pth"))
        }
        let (status, output) = try MapsBinary.run([
            "cyclegan", "train", "--data", path("unpaired"), "--output", path("run"), "--image-size", "32",
            "--from-pytorch", junyanz.path, "--steps", "1",
        ])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("starting from"), output)
        let options =
            try JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent("run/cyclegan.json")))
            as? [String: Any]
        XCTAssertEqual(options?["ngf"] as? Int, 4, "the architecture comes from the files")
        XCTAssertEqual(options?["blocks"] as? Int, 2)
        XCTAssertEqual(options?["ndf"] as? Int, 4)
        XCTAssertEqual(options?["discriminatorLayers"] as? Int, 2)
        // One Adam step from the file's weights: every weight moved by at most about the rate.
        let trained = try MapsBinary.tensors(root.appendingPathComponent("run/generator_A.safetensors"))
        let original = try ResNetGenerator.fromPyTorch(checkpoint: fixtures.appendingPathComponent("net_G_A.pth"))
            .output.kernel.value
        let kernel = try XCTUnwrap(trained["output.kernel"])
        let moved = zip(kernel.scalars, original.scalars).map { Swift.abs($0 - $1) }.max() ?? .infinity
        XCTAssertLessThan(moved, 3e-4, "G_A started from latest_net_G_A.pth")
        let (code, text) = try MapsBinary.run([
            "cyclegan", "translate", "--pytorch-checkpoint", junyanz.appendingPathComponent("latest_net_G_A.pth").path,
            "--input", path("unpaired/testA"), "--output", path("translated"),
        ])
        XCTAssertEqual(code, 0, text)
        XCTAssertEqual(files("translated"), ["0001.png", "0002.png"])
        let refused = try MapsBinary.run([
            "cyclegan", "train", "--data", path("unpaired"), "--output", path("run2"), "--from-pytorch",
            path("unpaired"),
        ])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.output.contains("latest_net_G_A.pth: missing"), refused.output)
    }
}
