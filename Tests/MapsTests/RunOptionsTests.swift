import Foundation
import Imaging
@testable import MapsCore
import Pix2Pix
import XCTest

/// RUN_DIR/options.json: the typed options read and write the format of the runs made before
/// they were typed, refuse words they do not know, and decide what `--resume` may change.
final class RunOptionsTests: XCTestCase {
    private var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("maps-options-\(UUID())")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: root)
    }

    /// Fixtures/NAME: options.json files written by `maps` at commit f791aaf, before the options
    /// were typed — `train-options.json` by `maps train --data data --image-size 32 --depth 5
    /// --ngf 4 --ndf 4 --disc-layers 2 --steps 1 --direction BtoA --generator resnet6 --norm
    /// instance --gan-loss lsgan --precision bf16 --no-dropout --no-sync-batch-norm --jitter
    /// --l1-weight 50 --lr 0.001 --seed 3 --epochs 3 --decay-epochs 2 --batch-size 2
    /// --sample-every 7 --checkpoint-every 9`, `demo-options.json` by `maps demo --steps 1
    /// --count 2` (no batchSize, precision, dropout or syncBatchNorm, like the oldest runs).
    private func fixture(_ name: String) -> URL {
        Bundle.module.resourceURL!.appendingPathComponent("Fixtures/\(name)")
    }

    /// A run folder holding `options` as its options.json.
    private func run(with options: Data) throws -> RunDirectory {
        let run = RunDirectory(url: root.appendingPathComponent("run-\(UUID())"))
        try FileManager.default.createDirectory(at: run.url, withIntermediateDirectories: true)
        try options.write(to: run.options)
        return run
    }

    func testOptionsSavedBeforeTheTypesLoadAndSaveUnchanged() throws {
        let trainFile = try Data(contentsOf: fixture("train-options.json"))
        let train = try run(with: trainFile)
        let options = try train.loadOptions()
        XCTAssertEqual(
            options,
            RunOptions(
                data: "data", imageSize: 32, direction: .bToA, jitter: true, seed: 3, generator: .resnet6, depth: 5,
                ngf: 4, ndf: 4, discriminatorLayers: 2, norm: .instance, ganLoss: .lsgan, l1Weight: 50,
                learningRate: 0.001, epochs: 3, decayEpochs: 2, steps: 1, sampleEvery: 7, checkpointEvery: 9,
                batchSize: 2, precision: .bf16, dropout: false, syncBatchNorm: false))
        XCTAssertEqual(options.precision.matrixPrecision, .bfloat16)
        try train.save(options)
        XCTAssertEqual(try Data(contentsOf: train.options), trainFile, "the saved format changed")

        let demoFile = try Data(contentsOf: fixture("demo-options.json"))
        let demo = try run(with: demoFile)
        let demoOptions = try demo.loadOptions()
        XCTAssertEqual(
            demoOptions,
            RunOptions(
                data: "/tmp/fixgen/demo/data", imageSize: 128, depth: 7, ngf: 32, ndf: 32, discriminatorLayers: 3,
                epochs: 1000, steps: 1, sampleEvery: 1, checkpointEvery: 1))
        XCTAssertEqual(
            [demoOptions.direction.rawValue, demoOptions.generator.rawValue, demoOptions.norm.rawValue],
            ["AtoB", "unet", "batch"])
        XCTAssertEqual(demoOptions.ganLoss, .vanilla)
        XCTAssertEqual(demoOptions.precision, .fp32)
        XCTAssertEqual(demoOptions.batch, 1)
        XCTAssertTrue(demoOptions.usesDropout)
        XCTAssertTrue(demoOptions.synchronizesBatchNorm)
        try demo.save(demoOptions)
        XCTAssertEqual(try Data(contentsOf: demo.options), demoFile, "the saved format changed")
    }

    func testAnUnknownWordIsAnErrorNamingTheFileAndTheKey() throws {
        let saved = try String(contentsOf: fixture("demo-options.json"), encoding: .utf8)
        let cases = [
            (
                "\"norm\" : \"batch\"", "\"norm\" : \"group\"",
                "\"norm\" has unknown value \"group\" (expected batch or instance)"
            ),
            (
                "\"norm\" : \"batch\"", "\"norm\" : \"none\"",
                "\"norm\" has unknown value \"none\" (expected batch or instance)"
            ),
            (
                "\"generator\" : \"unet\"", "\"generator\" : \"unet9\"",
                "\"generator\" has unknown value \"unet9\" (expected unet, resnet9 or resnet6)"
            ),
            (
                "\"direction\" : \"AtoB\"", "\"direction\" : \"atob\"",
                "\"direction\" has unknown value \"atob\" (expected AtoB or BtoA)"
            ),
            (
                "\"ganLoss\" : \"vanilla\"", "\"ganLoss\" : \"wgan\"",
                "\"ganLoss\" has unknown value \"wgan\" (expected vanilla, lsgan or wgangp)"
            ),
            (
                "\"seed\" : 42", "\"seed\" : 42,\n  \"precision\" : \"fp16\"",
                "\"precision\" has unknown value \"fp16\" (expected fp32 or bf16)"
            ),
            ("\"ngf\" : 32", "\"ngf\" : \"32\"", "\"ngf\" should be a number"),
            ("\"ngf\" : 32,\n", "", "\"ngf\" is missing"),
        ]
        for (original, replacement, message) in cases {
            XCTAssertTrue(saved.contains(original), original)
            let run = try run(with: Data(saved.replacingOccurrences(of: original, with: replacement).utf8))
            XCTAssertThrowsError(try run.loadOptions(), replacement) { error in
                XCTAssertEqual("\(error)", "\(run.options.path): \(message)")
            }
        }
    }

    func testResumeKeepsTheRunsOptionsChangesSomeAndRefusesTheOthers() throws {
        let file = root.appendingPathComponent("run/options.json")
        let saved = RunOptions(data: "data", imageSize: 32, generator: .resnet9, depth: 5, ngf: 4, steps: 2)
        // Nothing given: the run's own options.
        let (kept, none) = try ExplicitRunOptions().resuming(saved, file: file)
        XCTAssertEqual(kept, saved)
        XCTAssertEqual(none, [])
        // Given equal to the run's (also in other spellings: ./data, batch 1 for none, the
        // ResNet's default of no dropout): accepted, no change.
        let equal = ExplicitRunOptions(
            data: "./data", imageSize: 32, generator: .resnet9, depth: 5, ngf: 4, batchSize: 1, dropout: false)
        XCTAssertEqual(try equal.resuming(saved, file: file).changes, [])
        // What may change is applied.
        let (options, changes) = try ExplicitRunOptions(
            epochs: 7, steps: 40, sampleEvery: 5, checkpointEvery: 500, precision: .bf16
        ).resuming(saved, file: file)
        XCTAssertEqual(
            changes,
            ["--epochs 7 (was 100)", "--steps 40 (was 2)", "--sample-every 5 (was 100)", "--precision bf16 (was fp32)"])
        XCTAssertEqual([options.epochs, options.steps, options.sampleEvery], [7, 40, 5])
        XCTAssertEqual(options.precision, .bf16)
        // What may not is refused, naming the option and both values.
        let refused: [(ExplicitRunOptions, String)] = [
            (ExplicitRunOptions(ngf: 16), "--ngf 16 conflicts with the run's 4"),
            (ExplicitRunOptions(generator: .unet), "--generator unet conflicts with the run's resnet9"),
            (ExplicitRunOptions(direction: .bToA), "--direction BtoA conflicts with the run's AtoB"),
            (ExplicitRunOptions(norm: .instance), "--norm instance conflicts with the run's batch"),
            (ExplicitRunOptions(learningRate: 1e-3), "--lr 0.001 conflicts with the run's 0.0002"),
            (ExplicitRunOptions(batchSize: 4), "--batch-size 4 conflicts with the run's 1"),
            (ExplicitRunOptions(jitter: true), "--jitter conflicts with the run's training without jitter"),
            (
                ExplicitRunOptions(syncBatchNorm: false),
                "--no-sync-batch-norm conflicts with the run's synchronised batch norm"
            ),
        ]
        for (given, message) in refused {
            XCTAssertThrowsError(try given.resuming(saved, file: file)) { error in
                XCTAssertEqual(
                    "\(error)",
                    "\(message) (\(file.path)); options fixed at the start of a run cannot change on --resume")
            }
        }
    }

    func testOneRuleForTheInputSideMultiple() throws {
        XCTAssertEqual(RunOptions(data: "", depth: 8).sizeMultiple, 256)
        XCTAssertEqual(RunOptions(data: "", generator: .resnet6, depth: 8).sizeMultiple, 4)
        XCTAssertEqual(GeneratorArchitecture.inputSideMultiple(unetDepth: 5), 32)
        XCTAssertEqual(GeneratorArchitecture.inputSideMultiple(unetDepth: nil), 4)
        XCTAssertThrowsError(
            try MapsCommand.parseAsRoot(["train", "--data", "d", "--output", "o", "--image-size", "48", "--depth", "5"])
        )
        XCTAssertThrowsError(
            try MapsCommand.parseAsRoot([
                "train", "--data", "d", "--output", "o", "--image-size", "30", "--generator", "resnet9",
            ]))
        XCTAssertNoThrow(
            try MapsCommand.parseAsRoot([
                "train", "--data", "d", "--output", "o", "--image-size", "36", "--generator", "resnet9",
            ]))
        XCTAssertThrowsError(try MapsCommand.parseAsRoot(["demo", "--image-size", "64"]))
    }

    func testAGradientPenaltyIsInTheMemoryEstimate() {
        var options = RunOptions(data: "")
        (options.imageSize, options.depth, options.ngf, options.ndf, options.discriminatorLayers) = (64, 6, 2, 32, 3)
        // A discriminator far larger than the generator, so its twice-differentiated pass sets the peak.
        let plain = options.trainingMemory()(64).perStep
        options.r1 = 10
        options.r1Every = 16
        XCTAssertEqual(options.gradientPenalty, GradientPenalty(.r1, weight: 10, every: 16))
        let penalised = options.trainingMemory()(64).perStep
        XCTAssertGreaterThan(penalised, plain, "the probe steps must apply the penalty")
    }
}
