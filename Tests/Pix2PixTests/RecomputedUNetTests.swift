import DeepLearning
import Pix2Pix
import XCTest

/// `UNetGenerator.recomputesBlocks` changes memory and time, not results: two training steps
/// (batch norm in training mode, dropout on) give bit-identical weights and losses.
final class RecomputedUNetTests: XCTestCase {
    private func train(recomputing: Bool) throws -> (weights: [Tensor], losses: [Float]) {
        RandomState.seed(40)
        let generator = UNetGenerator(.init(depth: 5, baseFilters: 4))
        generator.recomputesBlocks = recomputing
        let discriminator = PatchDiscriminator(.init(architecture: .patch(layers: 2), baseFilters: 4))
        let trainer = Pix2PixTrainer(generator: generator, discriminator: discriminator)
        var random = SeededGenerator(seed: 41)
        var losses: [Float] = []
        for _ in 0..<2 {
            let source = Tensor.randomUniform([2, 32, 32, 3], lowerBound: -1, upperBound: 1, generator: &random)
            let target = Tensor.randomUniform([2, 32, 32, 3], lowerBound: -1, upperBound: 1, generator: &random)
            let step = try trainer.step(source: source, target: target)
            losses += [step.discriminatorReal, step.discriminatorFake, step.generatorGAN, step.generatorL1]
        }
        return (generator.parameters.map(\.value) + generator.namedBuffers.map(\.buffer.value), losses)
    }

    func testRecomputingTheBlocksTrainsBitIdentically() throws {
        let plain = try train(recomputing: false), recomputed = try train(recomputing: true)
        XCTAssertEqual(plain.losses, recomputed.losses)
        XCTAssertEqual(plain.weights.count, recomputed.weights.count)
        for (index, (a, b)) in zip(plain.weights, recomputed.weights).enumerated() {
            XCTAssertEqual(a.scalars, b.scalars, "generator tensor \(index)")
        }
    }
}
