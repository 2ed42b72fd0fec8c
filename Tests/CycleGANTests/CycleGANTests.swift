import CycleGAN
import DeepLearning
import Foundation
import Pix2Pix
import XCTest

/// CycleGAN from the public API: the image pool's semantics on a seeded sequence, and training
/// steps that learn a toy unpaired mapping.
final class CycleGANTests: XCTestCase {
    /// `[1, 2, 2, 1]` images whose value is their id.
    private func image(_ id: Int) -> Tensor { Tensor(shape: [1, 2, 2, 1], repeating: Float(id)) }

    func testTheImagePoolStoresUntilFullThenSwapsHalfTheTime() {
        var pool = ImagePool(capacity: 3, generator: SeededGenerator(seed: 11))
        // junyanz's rule, replayed with the same draws.
        var draws = SeededGenerator(seed: 11), stored: [Int] = [], expected: [Int] = []
        var returned: [Int] = []
        for id in 0..<40 {
            returned.append(Int(pool.query(image(id)).scalars[0]))
            if stored.count < 3 {
                stored.append(id)
                expected.append(id)
            } else if draws.nextUnitFloat() > 0.5 {
                let slot = Int.random(in: 0..<3, using: &draws)
                expected.append(stored[slot])
                stored[slot] = id
            } else {
                expected.append(id)
            }
        }
        XCTAssertEqual(returned, expected)
        XCTAssertEqual(Array(returned.prefix(3)), [0, 1, 2], "the first queries fill the pool")
        let swapped = zip(returned.dropFirst(3), 3..<40).filter { $0 != $1 }.count
        XCTAssertTrue((8...29).contains(swapped), "about half of the later queries are swapped: \(swapped) of 37")
        XCTAssertEqual(pool.images.map { Int($0.scalars[0]) }, stored)
        // A batch is queried image by image; capacity 0 passes everything through.
        var empty = ImagePool(capacity: 0, generator: SeededGenerator(seed: 1))
        XCTAssertEqual(empty.query(Tensor.stacked([Tensor(shape: [1], repeating: 5)])).scalars, [5])
    }

    private func makeTrainer(identity: Float = 0.5) -> CycleGANTrainer {
        RandomState.seed(4)
        let generator = { ResNetGenerator(.init(blocks: 1, baseFilters: 4, norm: .instance, dropout: false)) }
        let discriminator = {
            PatchDiscriminator(
                .init(architecture: .patch(layers: 2), baseFilters: 4, inputChannels: 3, norm: .instance))
        }
        return CycleGANTrainer(
            generatorA: generator(), generatorB: generator(), discriminatorA: discriminator(),
            discriminatorB: discriminator(), options: .init(identity: identity, poolSize: 4, learningRate: 2e-3))
    }

    func testTrainingStepsLearnAToyUnpairedMappingAndReportEveryTerm() throws {
        let trainer = makeTrainer()
        var random = SeededGenerator(seed: 7)
        var cycles: [Float] = []
        /// Smooth 16×16 images: a random plane wave per channel.
        func smooth() -> Tensor {
            var values = [Float](repeating: 0, count: 2 * 16 * 16 * 3)
            for n in 0..<2 {
                for c in 0..<3 {
                    let (u, v, phase) = (
                        random.nextUnitFloat() - 0.5, random.nextUnitFloat() - 0.5, 6 * random.nextUnitFloat()
                    )
                    for y in 0..<16 {
                        for x in 0..<16 {
                            values[((n * 16 + y) * 16 + x) * 3 + c] = sinf(u * Float(y) + v * Float(x) + phase)
                        }
                    }
                }
            }
            return Tensor(shape: [2, 16, 16, 3], scalars: values)
        }
        // Four batches of each domain, visited in turn; B is another domain, never paired with A.
        let domainA = (0..<4).map { _ in smooth() }, domainB = (0..<4).map { _ in (smooth() * -0.8).tanh() }
        for step in 0..<60 {
            let (a, b) = (domainA[step % 4], domainB[(step / 4 + step) % 4])
            let losses = try trainer.step(a: a, b: b)
            for term in [
                losses.discriminatorA, losses.generatorA, losses.cycleA, losses.identityA,
                losses.discriminatorB, losses.generatorB, losses.cycleB, losses.identityB,
            ] {
                XCTAssertTrue(term.isFinite && term >= 0, "\(losses)")
            }
            cycles.append(losses.cycleA + losses.cycleB)
        }
        XCTAssertEqual(trainer.completedSteps, 60)
        XCTAssertEqual(trainer.poolA.images.count, 4)
        let first = cycles.prefix(5).reduce(0, +) / 5, last = cycles.suffix(5).reduce(0, +) / 5
        XCTAssertLessThan(last, 0.85 * first, "the cycle losses fall: \(first) → \(last)")
    }

    func testTheIdentityLossWithDifferentChannelCountsIsAnErrorNamingIt() {
        let trainer = makeTrainer()
        XCTAssertThrowsError(try trainer.step(a: Tensor.zeros([1, 16, 16, 3]), b: Tensor.zeros([1, 16, 16, 1]))) {
            XCTAssertTrue("\($0)".contains("identity"), "\($0)")
        }
    }

    /// A NaN in the second cycle stops the step after the first cycle was differentiated: the
    /// error names the term, no weight changed, and no gradient is left to leak into a later step.
    func testANaNInTheSecondCycleStopsTheStepWithNothingChanged() throws {
        let trainer = makeTrainer()
        let a = Tensor(shape: [1, 16, 16, 3], repeating: 0.25)
        var poisoned = [Float](repeating: -0.5, count: 16 * 16 * 3)
        poisoned[17] = .nan
        let b = Tensor(shape: [1, 16, 16, 3], scalars: poisoned)
        let modules: [Module] = [
            trainer.generatorA, trainer.generatorB, trainer.discriminatorA, trainer.discriminatorB,
        ]
        let before = modules.flatMap { $0.parameters.map(\.value.scalars) }
        XCTAssertThrowsError(try trainer.step(a: a, b: b)) { error in
            let diverged = error as? CycleGANDiverged
            XCTAssertEqual(diverged?.step, 1)
            XCTAssertTrue(["G_B", "cycle_B"].contains(diverged?.term ?? ""), "\(error)")
        }
        XCTAssertEqual(modules.flatMap { $0.parameters.map(\.value.scalars) }, before, "no update")
        XCTAssertTrue(modules.flatMap(\.parameters).allSatisfy { $0.gradient == nil }, "no gradient left behind")
        XCTAssertTrue(modules.flatMap(\.parameters).allSatisfy(\.requiresGradient), "the discriminators are thawed")
        XCTAssertEqual(trainer.completedSteps, 0)
    }

    func testTheUnconditionalDiscriminatorCallIsTheConditionalOneOnTheConcatenation() {
        RandomState.seed(9)
        let discriminator = PatchDiscriminator(.init(architecture: .patch(layers: 2), baseFilters: 4))
        var random = SeededGenerator(seed: 2)
        let source = Tensor.randomUniform([1, 16, 16, 3], generator: &random)
        let target = Tensor.randomUniform([1, 16, 16, 3], generator: &random)
        let pair = withoutGradient { discriminator(source: source, target: target) }
        let image = withoutGradient { discriminator(concatenate([source, target], axis: -1)) }
        XCTAssertEqual(pair.scalars, image.scalars)
    }

    func testResumingFromACheckpointEqualsTrainingStraightPoolsIncluded() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("cyclegan-\(UUID()).safetensors")
        defer { try? FileManager.default.removeItem(at: file) }
        var random = SeededGenerator(seed: 5)
        let batches = (0..<7).map { _ in
            (
                Tensor.randomUniform([1, 16, 16, 3], lowerBound: -1, upperBound: 1, generator: &random),
                Tensor.randomUniform([1, 16, 16, 3], lowerBound: -1, upperBound: 1, generator: &random)
            )
        }
        let straight = makeTrainer()
        let straightLosses = try batches.map { try straight.step(a: $0.0, b: $0.1) }

        let first = makeTrainer()
        for batch in batches.prefix(5) { try first.step(a: batch.0, b: batch.1) }  // the pools (4) are full
        try first.saveCheckpoint(to: file)
        RandomState.seed(99)
        let resumed = makeTrainer()
        _ = try resumed.step(a: batches[6].0, b: batches[6].1)  // state that the load must replace
        try resumed.loadCheckpoint(from: file)
        XCTAssertEqual(resumed.completedSteps, 5)
        let resumedLosses = try batches.suffix(2).map { try resumed.step(a: $0.0, b: $0.1) }
        XCTAssertEqual(resumedLosses, Array(straightLosses.suffix(2)))
        XCTAssertEqual(
            resumed.generatorA.parameters.map(\.value.scalars), straight.generatorA.parameters.map(\.value.scalars))
    }

    func testAPix2PixCheckpointIsRefusedNamingTheFile() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pix2pix-\(UUID()).safetensors")
        defer { try? FileManager.default.removeItem(at: file) }
        RandomState.seed(1)
        let pix2pix = Pix2PixTrainer(
            generator: UNetGenerator(.init(depth: 3, baseFilters: 4)),
            discriminator: PatchDiscriminator(.init(architecture: .patch(layers: 2), baseFilters: 4)))
        try pix2pix.saveCheckpoint(to: file)
        XCTAssertThrowsError(try makeTrainer().loadCheckpoint(from: file)) {
            XCTAssertTrue("\($0)".contains(file.path) && "\($0)".contains("not a CycleGAN"), "\($0)")
        }
    }
}
