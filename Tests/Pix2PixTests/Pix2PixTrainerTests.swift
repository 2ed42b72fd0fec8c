import DeepLearning
import Foundation
import Pix2Pix
import XCTest

final class Pix2PixTrainerTests: XCTestCase {
    /// A toy paired task: the target is a fixed colour map of the source (channels rotated
    /// and inverted), on smooth random 16×16 images (sums of two random plane waves).
    private func batch(_ index: Int) -> (source: Tensor, target: Tensor) {
        var generator = SeededGenerator(seed: UInt64(index % 8))
        var values = [Float](repeating: 0, count: 16 * 16 * 3)
        for c in 0..<3 {
            let (a, b, phase) = (
                generator.nextUnitFloat() - 0.5, generator.nextUnitFloat() - 0.5, 6 * generator.nextUnitFloat()
            )
            for y in 0..<16 {
                for x in 0..<16 { values[(y * 16 + x) * 3 + c] = sinf(a * Float(y) + b * Float(x) + phase) }
            }
        }
        let source = Tensor(shape: [1, 16, 16, 3], scalars: values)
        let rotated = concatenate([source.slice(axis: 3, 2..<3), source.slice(axis: 3, 0..<2)], axis: 3)
        return (source, -rotated)
    }

    private func makeTrainer(seed: UInt64, learningRate: Float = 2e-4) -> Pix2PixTrainer {
        RandomState.seed(seed)
        return Pix2PixTrainer(
            generator: UNetGenerator(.init(depth: 3, baseFilters: 8)),
            discriminator: PatchDiscriminator(.init(architecture: .patch(layers: 2), baseFilters: 8)),
            options: .init(learningRate: learningRate))
    }

    func testTrainingReducesTheL1LossOnAToyTask() throws {
        let trainer = makeTrainer(seed: 1, learningRate: 2e-3)
        var l1: [Float] = []
        for step in 0..<100 {
            let (source, target) = batch(step)
            l1.append(try trainer.step(source: source, target: target).generatorL1)
        }
        let first = l1.prefix(5).reduce(0, +) / 5, last = l1.suffix(5).reduce(0, +) / 5
        XCTAssertLessThan(last, 0.6 * first, "L1 \(first) → \(last)")
        XCTAssertEqual(trainer.completedSteps, 100)
    }

    /// The trainer scores real and generated pairs in one pass of two independent sub-batches;
    /// that must equal two separate passes: logits, every D gradient, and the running statistics.
    func testDiscriminatorSubBatchesEqualSeparatePasses() {
        for batchSize in [1, 2] {
            RandomState.seed(5)
            let d = PatchDiscriminator(.init(architecture: .patch(layers: 2), baseFilters: 8))
            var generator = SeededGenerator(seed: 6)
            let shape = [batchSize, 16, 16, 3]
            let source = Tensor.randomUniform(shape, lowerBound: -1, upperBound: 1, generator: &generator)
            let target = Tensor.randomUniform(shape, lowerBound: -1, upperBound: 1, generator: &generator)
            let fake = Tensor.randomUniform(shape, lowerBound: -1, upperBound: 1, generator: &generator)
            let checkpoint = d.namedBuffers.map { $0.buffer.value }
            func state() -> [Tensor] {
                d.namedParameters.map { $0.parameter.gradient! } + d.namedBuffers.map { $0.buffer.value }
            }

            let real = d(source: source, target: target), generated = d(source: source, target: fake)
            ((real * real).mean() + generated.mean()).backward()
            let separate = state()
            for p in d.parameters { p.zeroGradient() }
            for (buffer, value) in zip(d.namedBuffers.map(\.buffer), checkpoint) { buffer.value = value }

            let logits = BatchNorm.withIndependentSubBatches(2) {
                d(source: concatenate([source, source], axis: 0), target: concatenate([target, fake], axis: 0))
            }
            let (realPart, fakePart) = (
                logits.slice(axis: 0, 0..<batchSize), logits.slice(axis: 0, batchSize..<(2 * batchSize))
            )
            ((realPart * realPart).mean() + fakePart.mean()).backward()
            XCTAssertLessThan(realPart.maxAbsoluteDifference(to: real), 1e-5, "real logits, batch \(batchSize)")
            XCTAssertLessThan(fakePart.maxAbsoluteDifference(to: generated), 1e-5, "fake logits, batch \(batchSize)")
            for (index, (a, b)) in zip(state(), separate).enumerated() {
                XCTAssertLessThan(
                    a.maxAbsoluteDifference(to: b), 1e-5, "gradient or buffer \(index), batch \(batchSize)")
            }
        }
    }

    func testAFlippedByteInACheckpointTensorIsAnErrorNamingTheTensorAndTheFile() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("pix2pix-flip-\(UUID()).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        let trainer = makeTrainer(seed: 3)
        try trainer.step(source: batch(0).source, target: batch(0).target)
        try trainer.saveCheckpoint(to: url)
        var bytes = try Data(contentsOf: url)
        let headerLength = bytes.withUnsafeBytes { Int($0.loadUnaligned(as: UInt64.self)) }
        let header = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: bytes.subdata(in: 8..<(8 + headerLength))) as? [String: Any])
        let name = "generator/encoder.1.conv.kernel"
        let offsets = try XCTUnwrap((header[name] as? [String: Any])?["data_offsets"] as? [Int])
        bytes[8 + headerLength + (offsets[0] + offsets[1]) / 2] ^= 0x01
        try bytes.write(to: url)
        XCTAssertThrowsError(try makeTrainer(seed: 3).loadCheckpoint(from: url)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains(url.path) && message.contains("'\(name)': checksum mismatch"), message)
        }
    }

    func testResumingFromACheckpointEqualsTrainingStraight() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pix2pix-resume-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let checkpoint = directory.appendingPathComponent("state.safetensors")

        let straight = makeTrainer(seed: 5)
        var straightLosses: [Pix2PixTrainer.Losses] = []
        for step in 0..<5 {
            straightLosses.append(try straight.step(source: batch(step).source, target: batch(step).target))
        }

        let first = makeTrainer(seed: 5)
        for step in 0..<3 { try first.step(source: batch(step).source, target: batch(step).target) }
        try first.saveCheckpoint(to: checkpoint, extra: ["note": "three steps"])

        let resumed = makeTrainer(seed: 99)  // different initial weights, all overwritten by the load
        XCTAssertEqual(try resumed.loadCheckpoint(from: checkpoint)["note"], "three steps")
        XCTAssertEqual(resumed.completedSteps, 3)
        var resumedLosses: [Pix2PixTrainer.Losses] = []
        for step in 3..<5 {
            resumedLosses.append(try resumed.step(source: batch(step).source, target: batch(step).target))
        }

        XCTAssertEqual(resumedLosses, Array(straightLosses[3...]))
        for ((name, a), (_, b)) in zip(straight.generator.namedParameters, resumed.generator.namedParameters) {
            XCTAssertEqual(a.value.scalars, b.value.scalars, name)
        }
    }

    func testNonFiniteLossStopsTrainingBeforeAnyUpdate() throws {
        let trainer = makeTrainer(seed: 2)
        let before = trainer.discriminator.parameters.map(\.value.scalars)
        var (source, target) = batch(0)
        source.withUnsafeMutableBufferPointer { $0[7] = .nan }
        XCTAssertThrowsError(try trainer.step(source: source, target: target)) { error in
            XCTAssertTrue("\(error)".contains("step 1"), "\(error)")
        }
        XCTAssertEqual(trainer.discriminator.parameters.map(\.value.scalars), before)
        XCTAssertEqual(trainer.completedSteps, 0)
    }

    func testLearningRateScheduleIsConstantThenLinearToZero() {
        let options = Pix2PixTrainer.Options(constantEpochs: 2, decayEpochs: 3)
        XCTAssertEqual((0..<5).map { options.learningRateFactor(epoch: $0) }, [1, 1, 0.75, 0.5, 0.25])
        let trainer = makeTrainer(seed: 3)
        XCTAssertEqual(trainer.learningRate, 2e-4)
    }

    func testLSGANLossTrains() throws {
        RandomState.seed(4)
        let trainer = Pix2PixTrainer(
            generator: UNetGenerator(.init(depth: 3, baseFilters: 4)),
            discriminator: PatchDiscriminator(.init(architecture: .pixel, baseFilters: 4)),
            options: .init(ganLoss: .lsgan))
        let losses = try trainer.step(source: batch(0).source, target: batch(0).target)
        XCTAssertTrue(losses.all.allSatisfy(\.isFinite))
    }
}

final class MetricsTests: XCTestCase {
    func testIdenticalImagesArePerfect() throws {
        let image = RandomState.withGenerator {
            Tensor.randomUniform([2, 16, 16, 3], lowerBound: 0, upperBound: 255, generator: &$0)
        }
        let metrics = try ImageMetrics(predictions: image, targets: image)
        XCTAssertEqual(metrics.pixelAccuracy, 1)
        XCTAssertEqual(metrics.rmse, 0)
        XCTAssertEqual(metrics.psnr, .infinity)
        XCTAssertEqual(metrics.ssim, 1, accuracy: 1e-9)
    }

    func testKnownValues() throws {
        // Target all 100; prediction 104 in half the pixels (within tolerance 5), 110 in the other half.
        let target = Tensor(shape: [1, 12, 12, 3], repeating: 100)
        var values = [Float](repeating: 104, count: 12 * 12 * 3)
        for i in (6 * 12 * 3)..<values.count { values[i] = 110 }
        let prediction = Tensor(shape: [1, 12, 12, 3], scalars: values)
        let metrics = try ImageMetrics(predictions: prediction, targets: target)
        XCTAssertEqual(metrics.pixelAccuracy, 0.5, accuracy: 1e-12)
        let rmse = ((16.0 + 100.0) / 2).squareRoot()
        XCTAssertEqual(metrics.rmse, rmse, accuracy: 1e-9)
        XCTAssertEqual(metrics.psnr, 20 * log10(255 / rmse), accuracy: 1e-9)
        XCTAssertThrowsError(try ImageMetrics(predictions: prediction, targets: Tensor.zeros([1, 12, 12, 1])))
    }

    /// GcGAN's definition on exact 8-bit targets: a difference of 4 counts, 5 and 6 do not — for
    /// every target value, also after the target went through [-1, 1] in float32 and back.
    func testPixelAccuracyIsMaxChannelDifferenceBelowFiveOnIntegerImages() throws {
        let levels = (0..<256).map(Float.init)
        for offset: Float in [4, 5, 6] {
            let targets = levels.filter { $0 + offset <= 255 }
            let exact = Tensor(shape: [1, 1, targets.count, 1], scalars: targets)
            let roundTripped = (exact / 127.5 - 1 + 1) * 127.5  // as training data: 42 → 41.999996 or 42.000004
            XCTAssertGreaterThan(roundTripped.maxAbsoluteDifference(to: exact), 0, "the round trip is not exact")
            let predictions = Tensor(shape: exact.shape, scalars: targets.map { $0 + offset })
            for target in [exact, roundTripped] {
                let accuracy = try ImageMetrics(predictions: predictions, targets: target).pixelAccuracy
                XCTAssertEqual(accuracy, offset < 5 ? 1 : 0, "predictions \(offset) above the targets")
            }
        }
        // One channel 5 off makes the pixel wrong; the others being exact does not help.
        let target = Tensor(shape: [1, 1, 2, 3], scalars: [10, 20, 30, 10, 20, 30])
        let prediction = Tensor(shape: [1, 1, 2, 3], scalars: [10, 20, 35, 14, 16, 34])
        XCTAssertEqual(try ImageMetrics(predictions: prediction, targets: target).pixelAccuracy, 0.5)
        // A NaN prediction is a wrong pixel (saved as 0), not a correct one.
        let nan = Tensor(shape: [1, 1, 1, 1], scalars: [.nan]), hundred = Tensor(shape: [1, 1, 1, 1], scalars: [100])
        XCTAssertEqual(try ImageMetrics(predictions: nan, targets: hundred).pixelAccuracy, 0)
    }

    func testSSIMOfAConstantShiftMatchesTheFormula() throws {
        // For constant images a and b, SSIM = (2ab + C1) / (a² + b² + C1).
        let a = Tensor(shape: [1, 16, 16, 1], repeating: 100), b = Tensor(shape: [1, 16, 16, 1], repeating: 120)
        let c1 = pow(0.01 * 255, 2.0)
        let expected = (2 * 100 * 120 + c1) / (100 * 100 + 120 * 120 + c1)
        XCTAssertEqual(try ImageMetrics(predictions: a, targets: b).ssim, expected, accuracy: 1e-6)
    }
}
