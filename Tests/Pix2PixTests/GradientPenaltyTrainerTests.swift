import DeepLearning
import Foundation
import Pix2Pix
import XCTest

/// The trainer's gradient penalties (R1, R2, WGAN-GP): applied on schedule, with the value the
/// penalty computes on its own, changing the discriminator's update, and resumable exactly.
final class GradientPenaltyTrainerTests: XCTestCase {
    private func batch(_ index: Int) -> (source: Tensor, target: Tensor) {
        var generator = SeededGenerator(seed: UInt64(100 + index))
        let source = Tensor.randomUniform([2, 16, 16, 3], lowerBound: -1, upperBound: 1, generator: &generator)
        return (source, (source * 0.5).tanh())
    }

    private func makeTrainer(
        seed: UInt64, penalty: GradientPenalty?, ganLoss: Pix2PixTrainer.GANLoss = .vanilla
    ) -> Pix2PixTrainer {
        RandomState.seed(seed)
        return Pix2PixTrainer(
            generator: UNetGenerator(.init(depth: 3, baseFilters: 4)),
            discriminator: PatchDiscriminator(.init(architecture: .patch(layers: 2), baseFilters: 4, norm: .instance)),
            options: .init(ganLoss: ganLoss, learningRate: 1e-3, gradientPenalty: penalty))
    }

    func testR1IsAppliedEveryKStepsWithTheValueThePenaltyComputes() throws {
        let trainer = makeTrainer(seed: 1, penalty: .r1(gamma: 10, every: 2))
        var unused = SeededGenerator(seed: 0)
        for step in 0..<4 {
            let (source, target) = batch(step)
            // D's weights before the step: the penalty the step must report.
            let fake = withoutGradient { trainer.generator(source) }
            let expected = try trainer.options.gradientPenalty!.value(
                discriminator: trainer.discriminator, source: source, real: target, fake: fake, generator: &unused
            ).scalar
            let losses = try trainer.step(source: source, target: target)
            if step % 2 == 0 {
                let reported = try XCTUnwrap(losses.discriminatorPenalty, "step \(step)")
                XCTAssertEqual(reported, expected, accuracy: 1e-5 * max(1, abs(expected)), "step \(step)")
                XCTAssertGreaterThan(reported, 0)
            } else {
                XCTAssertNil(losses.discriminatorPenalty, "step \(step)")
            }
        }
    }

    func testThePenaltyChangesTheDiscriminatorsUpdateButNotTheFirstLosses() throws {
        let plain = makeTrainer(seed: 2, penalty: nil)
        let penalised = makeTrainer(seed: 2, penalty: .init(.r2, weight: 50))
        let (source, target) = batch(0)
        let a = try plain.step(source: source, target: target)
        let b = try penalised.step(source: source, target: target)
        XCTAssertEqual(a.discriminatorReal, b.discriminatorReal)
        XCTAssertEqual(a.discriminatorFake, b.discriminatorFake)
        XCTAssertNil(a.discriminatorPenalty)
        XCTAssertNotNil(b.discriminatorPenalty)
        let changed = zip(plain.discriminator.parameters, penalised.discriminator.parameters).contains {
            $0.value.scalars != $1.value.scalars
        }
        XCTAssertTrue(changed, "the penalty's gradient must reach the discriminator's weights")
    }

    func testWGANGPResumesExactlyIncludingItsRandomInterpolates() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wgangp-resume-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let checkpoint = directory.appendingPathComponent("state.safetensors")
        let penalty = GradientPenalty(.wgangp, weight: 10)

        let straight = makeTrainer(seed: 3, penalty: penalty, ganLoss: .wgangp)
        var straightLosses: [Pix2PixTrainer.Losses] = []
        for step in 0..<4 {
            straightLosses.append(try straight.step(source: batch(step).source, target: batch(step).target))
        }

        let first = makeTrainer(seed: 3, penalty: penalty, ganLoss: .wgangp)
        for step in 0..<2 { try first.step(source: batch(step).source, target: batch(step).target) }
        try first.saveCheckpoint(to: checkpoint)
        let resumed = makeTrainer(seed: 77, penalty: penalty, ganLoss: .wgangp)
        try resumed.loadCheckpoint(from: checkpoint)
        var resumedLosses: [Pix2PixTrainer.Losses] = []
        for step in 2..<4 {
            resumedLosses.append(try resumed.step(source: batch(step).source, target: batch(step).target))
        }

        XCTAssertEqual(resumedLosses, Array(straightLosses[2...]))
        XCTAssertTrue(straightLosses.allSatisfy { $0.discriminatorPenalty != nil })
        for ((name, a), (_, b)) in zip(straight.discriminator.namedParameters, resumed.discriminator.namedParameters) {
            XCTAssertEqual(a.value.scalars, b.value.scalars, name)
        }
    }

    func testWassersteinLossesAreTheCriticsMeans() throws {
        let trainer = makeTrainer(seed: 4, penalty: .init(.wgangp), ganLoss: .wgangp)
        let (source, target) = batch(0)
        let real = withoutGradient { trainer.discriminator(source: source, target: target).mean().scalar }
        let losses = try trainer.step(source: source, target: target)
        XCTAssertEqual(losses.discriminatorReal, -real, accuracy: 1e-5)
    }

    func testAPenaltyWithSynchronisedBatchNormIsRefusedBeforeAnyUpdate() throws {
        /// One process: sums over processes are the values themselves.
        final class SingleProcess: CrossProcessReducer {
            func sumOverProcesses(_ values: inout [Float]) {}
        }
        RandomState.seed(5)
        let trainer = Pix2PixTrainer(
            generator: UNetGenerator(.init(depth: 3, baseFilters: 4)),
            discriminator: PatchDiscriminator(.init(architecture: .patch(layers: 2), baseFilters: 4)),
            options: .init(gradientPenalty: .r1(gamma: 10, every: 1)))
        trainer.batchNormSynchronization = SingleProcess()
        let before = trainer.discriminator.parameters.map(\.value.scalars)
        XCTAssertThrowsError(try trainer.step(source: batch(0).source, target: batch(0).target)) { error in
            XCTAssertTrue("\(error)".contains("synchronised batch norm"), "\(error)")
        }
        XCTAssertEqual(trainer.discriminator.parameters.map(\.value.scalars), before)
    }
}
