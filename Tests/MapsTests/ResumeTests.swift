import DeepLearning
import Foundation
import MapsCore
import XCTest

/// Resuming `maps train` through the binary: a run stopped (cleanly or by SIGKILL) and resumed
/// trains exactly the weights and losses of an uninterrupted run, and writing sample grids
/// never changes what is trained.
final class ResumeTests: XCTestCase {
    private var root: URL!

    override func setUpWithError() throws {
        try MapsBinary.requireBuilt()
        // Four training pairs: an epoch is four steps.
        root = try MapsBinary.scratchFolderWithFourPairs("maps-resume")
    }

    override func tearDownWithError() throws {
        if let root { try? FileManager.default.removeItem(at: root) }
    }

    private func path(_ name: String) -> String { root.appendingPathComponent(name).path }

    @discardableResult
    private func train(_ run: String, _ extra: [String], environment: [String: String] = [:]) throws -> String {
        let (status, output) = try MapsBinary.run(
            [
                "train", "--data", path("data"), "--output", path(run), "--image-size", "32", "--depth", "5",
                "--ngf", "4", "--ndf", "4", "--disc-layers", "2", "--seed", "7",
            ] + extra, environment: environment)
        XCTAssertEqual(status, 0, output)
        return output
    }

    /// Bit-identical generator weights (the final `generator.safetensors`) and loss logs.
    private func assertSameTraining(
        _ a: String, _ b: String, _ description: String, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let left = try MapsBinary.tensors(root.appendingPathComponent("\(a)/generator.safetensors"))
        let right = try MapsBinary.tensors(root.appendingPathComponent("\(b)/generator.safetensors"))
        XCTAssertEqual(left.keys.sorted(), right.keys.sorted(), description, file: file, line: line)
        for (name, tensor) in left {
            let same = right[name].map { tensor.scalars.elementsEqual($0.scalars) { $0.bitPattern == $1.bitPattern } }
            XCTAssertEqual(same, true, "\(description): generator tensor \(name) differs", file: file, line: line)
        }
        XCTAssertEqual(
            MapsBinary.lossLines(root.appendingPathComponent(a)), MapsBinary.lossLines(root.appendingPathComponent(b)),
            "\(description): losses.csv differs", file: file, line: line)
    }

    /// Stopped cleanly after `stop` steps, then resumed to `total`, against one run of `total`.
    private func checkResume(stop: Int, total: Int, _ options: [String], _ description: String) throws {
        let common = ["--checkpoint-every", "100"] + options
        try train("straight", ["--steps", "\(total)"] + common)
        try train("split", ["--steps", "\(stop)"] + common)
        try train("split", ["--steps", "\(total)", "--resume"] + common)
        try assertSameTraining("straight", "split", description)
    }

    func testResumeMidEpochIsExact() throws {
        try checkResume(stop: 6, total: 9, ["--sample-every", "100"], "stop mid-epoch")
    }

    func testResumeAtAnEpochBoundaryIsExact() throws {
        try checkResume(stop: 4, total: 9, ["--sample-every", "100"], "stop at an epoch boundary")
    }

    func testResumeRightAfterASampleGridIsExact() throws {
        // Samples at steps 3 and 6 in both runs (and at the stop, step 3, anyway).
        try checkResume(stop: 3, total: 7, ["--sample-every", "3"], "stop right after a sample grid")
    }

    func testResumeWithJitterIsExact() throws {
        try checkResume(stop: 5, total: 9, ["--sample-every", "2", "--jitter"], "stop mid-epoch with --jitter")
    }

    func testResumeWithBatchesOfThreeIsExact() throws {
        // Four pairs in batches of 3: an epoch is two steps (3 pairs, then 1).
        try checkResume(stop: 3, total: 5, ["--sample-every", "100", "--batch-size", "3"], "batches of 3")
    }

    func testResumeInBFloat16IsExactAndKeepsThePrecision() throws {
        try XCTSkipUnless(MatrixPrecision.bfloat16.isSupported, "no bfloat16 on this CPU")
        // The resumed half is given no --precision: it must continue in the run's bf16.
        let common = ["--checkpoint-every", "100", "--sample-every", "100", "--ngf", "16", "--ndf", "16"]
        try train("straight", ["--steps", "5", "--precision", "bf16"] + common)
        try train("split", ["--steps", "3", "--precision", "bf16"] + common)
        let resumed = try train("split", ["--steps", "5", "--resume"] + common)
        XCTAssertTrue(resumed.contains("bf16 products"), resumed)
        try assertSameTraining("straight", "split", "bf16 run stopped after 3 steps and resumed")
        try train("float32", ["--steps", "5"] + common)
        XCTAssertNotEqual(
            MapsBinary.lossLines(root.appendingPathComponent("float32")),
            MapsBinary.lossLines(root.appendingPathComponent("straight")), "bf16 and fp32 runs train alike")
    }

    func testResumeWithLazyR1IsExactAndLogsThePenaltyOnItsSteps() throws {
        try checkResume(
            stop: 3, total: 6, ["--sample-every", "100", "--r1", "10", "--r1-every", "2"], "R1 every 2 steps")
        // Applied before steps 1, 3 and 5 (after 0, 2 and 4 completed steps), in the last column.
        let penalties = MapsBinary.lossLines(root.appendingPathComponent("split")).map {
            $0.split(separator: ",", omittingEmptySubsequences: false).last.map(String.init) ?? "?"
        }
        XCTAssertEqual(penalties.map(\.isEmpty), [false, true, false, true, false, true], "\(penalties)")
        XCTAssertTrue(penalties.filter { !$0.isEmpty }.allSatisfy { (Float($0) ?? -1) > 0 }, "\(penalties)")
    }

    func testResumeWithWGANGPIsExact() throws {
        try checkResume(stop: 2, total: 4, ["--sample-every", "100", "--gan-loss", "wgangp"], "WGAN-GP")
    }

    func testPenaltyOptionsAreCheckedAndFixedForTheRun() throws {
        let (status, output) = try MapsBinary.run([
            "train", "--data", path("data"), "--output", path("both"), "--r1", "10", "--gan-loss", "wgangp",
        ])
        XCTAssertNotEqual(status, 0, output)
        XCTAssertTrue(output.contains("--r1 and --gan-loss wgangp"), output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("both")), "a refused run created its folder")
        try train("run", ["--steps", "1", "--sample-every", "100"])
        let (resumed, message) = try MapsBinary.run(["train", "--output", path("run"), "--resume", "--r1", "5"])
        XCTAssertNotEqual(resumed, 0, message)
        XCTAssertTrue(message.contains("--r1 ") && message.contains("conflicts with the run's"), message)
    }

    /// What TensorBoard reads from RUN_DIR/tensorboard (Tools/tensorboard/read_events.py's JSON).
    private func tensorBoard(_ run: String) throws -> [String: Any] {
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let python = package.appendingPathComponent(".build/onnx-venv/bin/python").path
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: python), "no checker environment")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [
            package.appendingPathComponent("Tools/tensorboard/read_events.py").path, path("\(run)/tensorboard"),
        ]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    func testTensorBoardLogsEveryStepOnceAcrossAResume() throws {
        try checkResume(stop: 3, total: 6, ["--sample-every", "3"], "TensorBoard run")
        let straight = try tensorBoard("straight")["scalars"] as! [String: [[Double]]]
        let split = try tensorBoard("split")["scalars"] as! [String: [[Double]]]
        let hyperparameters = try tensorBoard("split")["hparams"] as! [String: Any]
        XCTAssertEqual(hyperparameters["ngf"] as? Double, 4)
        XCTAssertEqual(hyperparameters["norm"] as? String, "batch")
        XCTAssertEqual(hyperparameters["jitter"] as? Bool, false)
        XCTAssertEqual(split["loss/G_L1"]?.map { Int($0[0]) }, Array(1...6), "each step once")
        XCTAssertEqual(split, straight, "the resumed run's log equals the uninterrupted run's")
        // The same values as losses.csv (which prints 6 significant digits).
        let l1 = MapsBinary.lossLines(root.appendingPathComponent("split")).map {
            Float($0.split(separator: ",", omittingEmptySubsequences: false)[4])!
        }
        for (logged, printed) in zip(split["loss/G_L1"]!.map { Float($0[1]) }, l1) {
            XCTAssertEqual(logged, printed, accuracy: 1e-5 * abs(printed))
        }
    }

    func testATensorBoardFolderThatCannotBeWrittenStopsTrainingNamingItAndKeepsTheCheckpoint() throws {
        try train("run", ["--steps", "2", "--sample-every", "100"])
        let board = root.appendingPathComponent("run/tensorboard")
        try FileManager.default.removeItem(at: board)
        try Data().write(to: board)  // a file where the folder should be
        let before = try Data(contentsOf: root.appendingPathComponent("run/checkpoint.safetensors"))
        let (status, output) = try MapsBinary.run(["train", "--output", path("run"), "--resume", "--steps", "4"])
        XCTAssertNotEqual(status, 0, output)
        XCTAssertTrue(output.contains(board.path) && output.contains("the last checkpoint is intact"), output)
        XCTAssertEqual(try Data(contentsOf: root.appendingPathComponent("run/checkpoint.safetensors")), before)
        // Without TensorBoard the run goes on.
        try train("run", ["--resume", "--steps", "4", "--no-tensorboard"])
    }

    func testTheNumberOfLoaderWorkersChangesNothing() throws {
        let common = ["--steps", "5", "--jitter", "--sample-every", "100", "--checkpoint-every", "100"]
        try train("inline", common + ["--workers", "0"])
        try train("workers", common + ["--workers", "3"])
        try assertSameTraining("inline", "workers", "0 and 3 loader workers")
    }

    func testACorruptImageStopsTrainingNamingItWithoutHanging() throws {
        let victim = try XCTUnwrap(
            try FileManager.default.contentsOfDirectory(atPath: path("data/train")).sorted().last)
        let file = root.appendingPathComponent("data/train/\(victim)")
        try Data(try Data(contentsOf: file).prefix(200)).write(to: file)  // a truncated JPEG
        let (status, output) = try MapsBinary.run([
            "train", "--data", path("data"), "--output", path("run"), "--image-size", "32", "--depth", "5",
            "--ngf", "4", "--ndf", "4", "--disc-layers", "2", "--steps", "8", "--workers", "2",
        ])
        XCTAssertNotEqual(status, 0, output)
        XCTAssertTrue(output.contains(victim), output)
    }

    func testBFloat16FallsBackToFloat32WithAMessage() throws {
        let output = try train(
            "fallback", ["--steps", "2", "--precision", "bf16"], environment: ["DEEPLEARNING_BF16": "0"])
        XCTAssertTrue(output.contains("--precision bf16:") && output.contains("using float32"), output)
        XCTAssertTrue(output.contains("fp32 products"), output)
        let (status, invalid) = try MapsBinary.run([
            "train", "--data", path("data"), "--output", path("bad"), "--precision", "fp16",
        ])
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(invalid.contains("'fp16' is invalid for '--precision"), invalid)
        XCTAssertTrue(invalid.contains("'fp32' and 'bf16'"), invalid)
    }

    func testBatchSizeSetsTheStepsPerEpoch() throws {
        try train("batched", ["--epochs", "2", "--batch-size", "2", "--sample-every", "100"])
        XCTAssertEqual(MapsBinary.lossLines(root.appendingPathComponent("batched")).count, 4, "2 epochs × 2 batches")
        let (status, output) = try MapsBinary.run([
            "train", "--data", path("data"), "--output", path("bad"), "--batch-size", "0",
        ])
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(output.contains("--batch-size"), output)
    }

    /// Every file of a run folder, by path relative to it, with its contents.
    private func contents(_ run: String) throws -> [String: Data] {
        let folder = root.appendingPathComponent(run)
        var files: [String: Data] = [:]
        for case let name as String in FileManager.default.enumerator(atPath: folder.path)! {
            let url = folder.appendingPathComponent(name)
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue {
                files[name] = try Data(contentsOf: url)
            }
        }
        return files
    }

    func testResumeRefusesAFixedOptionThatDiffersAndTouchesNothing() throws {
        try train("run", ["--steps", "2", "--sample-every", "1"])
        let before = try contents("run")
        XCTAssertNotNil(before["checkpoint.safetensors"])
        // The helper's options again (equal, accepted), one of them different.
        let (status, output) = try MapsBinary.run([
            "train", "--data", path("data"), "--output", path("run"), "--image-size", "32", "--depth", "5",
            "--ngf", "8", "--ndf", "4", "--disc-layers", "2", "--seed", "7", "--resume", "--steps", "4",
        ])
        XCTAssertNotEqual(status, 0, output)
        XCTAssertTrue(
            output.contains(
                "--ngf 8 conflicts with the run's 4 (\(path("run/options.json"))); options fixed at the start of a run cannot change on --resume"
            ), output)
        XCTAssertEqual(output.split(separator: "\n").count, 1, output)
        XCTAssertEqual(try contents("run"), before, "a refused resume changed the run folder")
        for refused in [["--no-dropout"], ["--jitter"], ["--norm", "instance"], ["--batch-size", "2"]] {
            let (status, output) = try MapsBinary.run(["train", "--output", path("run"), "--resume"] + refused)
            XCTAssertNotEqual(status, 0, output)
            XCTAssertTrue(output.contains("\(refused[0]) ") && output.contains("conflicts with the run's"), output)
        }
        XCTAssertEqual(try contents("run"), before, "a refused resume changed the run folder")
    }

    func testResumeAppliesPrintsAndSavesTheOptionsThatMayChange() throws {
        try train("run", ["--steps", "2", "--sample-every", "100", "--checkpoint-every", "100"])
        let output = try train("run", ["--resume", "--steps", "4", "--sample-every", "3", "--checkpoint-every", "100"])
        XCTAssertTrue(output.contains("resume: --steps 4 (was 2), --sample-every 3 (was 100)\n"), output)
        XCTAssertEqual(MapsBinary.loggedSteps(root.appendingPathComponent("run")), [1, 2, 3, 4])
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("run/samples/step-000003.png")))
        let saved = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent("run/options.json")))
                as? [String: Any])
        XCTAssertEqual(saved["steps"] as? Int, 4)
        XCTAssertEqual(saved["sampleEvery"] as? Int, 3)
        // Given again, the same values are no change; a later plain --resume keeps them.
        let again = try train("run", ["--resume", "--steps", "4", "--sample-every", "3"])
        XCTAssertFalse(again.contains("resume:"), again)
        XCTAssertTrue(again.contains("for 4 steps"), again)
    }

    func testAnUnknownValueInOptionsJSONIsAnErrorNamingTheFileAndTheKey() throws {
        try train("run", ["--steps", "1", "--sample-every", "100"])
        let file = root.appendingPathComponent("run/options.json")
        let saved = try String(contentsOf: file, encoding: .utf8)
        try saved.replacingOccurrences(of: "\"unet\"", with: "\"unet9\"").write(
            to: file, atomically: true, encoding: .utf8)
        let (status, output) = try MapsBinary.run(["train", "--output", path("run"), "--resume", "--steps", "2"])
        XCTAssertEqual(status, 1, output)
        XCTAssertTrue(
            output.contains(
                "\(file.path): \"generator\" has unknown value \"unet9\" (expected unet, resnet9 or resnet6)"),
            output)
        XCTAssertEqual(MapsBinary.loggedSteps(root.appendingPathComponent("run")), [1])
    }

    func testSampleGridsDoNotChangeTraining() throws {
        try train("often", ["--steps", "7", "--sample-every", "1"])
        try train("never", ["--steps", "7", "--sample-every", "1000"])
        try assertSameTraining("often", "never", "samples every step vs only at the end")
    }

    func testResumeAfterSIGKILLIsExact() throws {
        let arguments = [
            "train", "--data", path("data"), "--output", path("killed"), "--image-size", "32", "--depth", "5",
            "--ngf", "4", "--ndf", "4", "--disc-layers", "2", "--seed", "7", "--checkpoint-every", "3",
            "--sample-every", "2",
        ]
        let process = Process()
        process.executableURL = MapsBinary.url
        process.arguments = arguments + ["--steps", "100000"]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let run = root.appendingPathComponent("killed")
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && MapsBinary.loggedSteps(run).count < 8 { usleep(10_000) }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let state = try XCTUnwrap(
            try SafeTensors.read(from: run.appendingPathComponent("checkpoint.safetensors"))
                .metadata["pix2pix.training-state"])
        let saved = try XCTUnwrap(
            (try JSONSerialization.jsonObject(with: Data(state.utf8)) as? [String: Any])?["completedSteps"] as? Int)
        let total = saved + 5
        let (status, output) = try MapsBinary.run(arguments + ["--steps", "\(total)", "--resume"])
        XCTAssertEqual(status, 0, output)
        try train(
            "straight", ["--steps", "\(total)", "--checkpoint-every", "3", "--sample-every", "2"])
        try assertSameTraining("straight", "killed", "SIGKILL after step \(saved), resumed to \(total)")
    }
}
