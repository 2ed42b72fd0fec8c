import CycleGAN
import DeepLearning
import Foundation
import Pix2Pix
import XCTest

/// Three `CycleGANTrainer` steps against junyanz's `cycle_gan_model.py` run in PyTorch from the
/// same weights and images (fixtures from Tools/cyclegan/make_cyclegan_fixtures.py): every loss
/// term of every step, and the weights the two Adams leave after the three steps.
final class CycleGANLossFixtureTests: XCTestCase {
    /// junyanz's `loss_names` order, the columns of the fixture's `losses`.
    private static let termNames = ["D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B"]

    /// Largest |ours − PyTorch| / |PyTorch| of a loss term, at every step. Step 1 runs the
    /// networks as loaded, so it only sees the two libraries' float32 rounding (the script
    /// measures PyTorch's float32 run within 3e-7 of its float64 run). Steps 2 and 3 run networks
    /// both Adams have updated, and Adam's first updates are about ±lr whatever a gradient's size,
    /// so rounding could decide them where a gradient is pure noise; but the only such parameters
    /// are the biases of convolutions followed by instance norm, which cancels them, so the later
    /// steps need no looser bound (observed: ≤ 4e-7 at every step). A discriminator whose
    /// instance norms had γ and β, which junyanz's lack, was off by 3e-4 to 1e-3 from step 2 on.
    private static let tolerance: Float = 1e-4

    private func fixture(_ name: String) -> URL {
        Bundle.module.resourceURL!.appendingPathComponent("Fixtures/\(name)")
    }

    /// NCHW (PyTorch) → NHWC.
    private func nhwc(_ x: Tensor) -> Tensor { x.permuted([0, 2, 3, 1]) }

    func testThreeTrainingStepsGiveJunyanzsLossesAndUpdates() throws {
        let generatorA = try ResNetGenerator.fromPyTorch(checkpoint: fixture("net_G_A.pth"))
        let generatorB = try ResNetGenerator.fromPyTorch(checkpoint: fixture("net_G_B.pth"))
        let discriminatorA = try PatchDiscriminator.fromPyTorch(checkpoint: fixture("net_D_A.pth"))
        let discriminatorB = try PatchDiscriminator.fromPyTorch(checkpoint: fixture("net_D_B.pth"))
        for generator in [generatorA, generatorB] {
            XCTAssertEqual(
                generator.configuration,
                .init(blocks: 2, baseFilters: 4, norm: .instance, dropout: false, convention: .pytorch))
        }
        for discriminator in [discriminatorA, discriminatorB] {
            XCTAssertEqual(
                discriminator.configuration,
                .init(
                    architecture: .patch(layers: 2), baseFilters: 4, inputChannels: 3, norm: .instance,
                    convention: .pytorch))
            // junyanz's four convolutions' weights and biases; his instance norms have no γ, β.
            XCTAssertEqual(discriminator.parameters.count, 8)
        }
        let reference = try NPZ.read(from: fixture("cyclegan_steps.npz"))
        let realA = nhwc(try XCTUnwrap(reference["real_A"])), realB = nhwc(try XCTUnwrap(reference["real_B"]))
        XCTAssertEqual(realA.shape, [1, 32, 32, 3])
        let expected = try XCTUnwrap(reference["losses"])
        XCTAssertEqual(expected.shape, [3, 8])
        // OIHW → HWIO, our convolution kernels' layout.
        let expectedGenerator = try XCTUnwrap(reference["G_A_output_weight_after"]).permuted([2, 3, 1, 0])
        let expectedDiscriminator = try XCTUnwrap(reference["D_A_output_weight_after"]).permuted([2, 3, 1, 0])
        let generatorBefore = generatorA.output.kernel.value.scalars
        let discriminatorBefore = discriminatorA.output.kernel.value.scalars

        let trainer = CycleGANTrainer(
            generatorA: generatorA, generatorB: generatorB, discriminatorA: discriminatorA,
            discriminatorB: discriminatorB, options: .init())
        XCTAssertEqual(
            trainer.options,
            .init(
                lambdaA: 10, lambdaB: 10, identity: 0.5, poolSize: 50, learningRate: 2e-4, beta1: 0.5, beta2: 0.999))
        var worst = [Float](repeating: 0, count: 8)
        for step in 0..<3 {
            let losses = try trainer.step(a: realA, b: realB)
            let ours = [
                losses.discriminatorA, losses.generatorA, losses.cycleA, losses.identityA,
                losses.discriminatorB, losses.generatorB, losses.cycleB, losses.identityB,
            ]
            let pytorch = Array(expected.scalars[(step * 8)..<(step * 8 + 8)])
            for (term, name) in Self.termNames.enumerated() {
                let relative = abs(ours[term] - pytorch[term]) / abs(pytorch[term])
                worst[term] = max(worst[term], relative)
                XCTAssertLessThanOrEqual(
                    relative, Self.tolerance,
                    "step \(step + 1) \(name): ours \(ours[term]), PyTorch \(pytorch[term])")
            }
            print(
                "CycleGAN fixture step \(step + 1) relative differences: "
                    + zip(Self.termNames, ours.indices).map { name, term in
                        "\(name) \(abs(ours[term] - pytorch[term]) / abs(pytorch[term]))"
                    }.joined(separator: ", "))
        }
        print(
            "CycleGAN fixture largest relative differences: "
                + zip(Self.termNames, worst).map { "\($0) \($1)" }.joined(separator: ", "))

        // The three updates of a generator and of a discriminator weight, against PyTorch's.
        assertSameUpdates(
            before: generatorBefore, after: generatorA.output.kernel.value, expected: expectedGenerator,
            "G_A's output convolution (model.19.weight)")
        assertSameUpdates(
            before: discriminatorBefore, after: discriminatorA.output.kernel.value, expected: expectedDiscriminator,
            "D_A's output convolution (model.8.weight)")
    }

    /// The change `after − before` within 1e-4 of the largest of PyTorch's changes (about 3·lr),
    /// some 8 float32 ulps of the largest weight (observed: 1 ulp); a weight that missed a step or
    /// took one of the wrong sign or size is off by a good part of lr.
    private func assertSameUpdates(
        before: [Float], after: Tensor, expected: Tensor, _ name: String, file: StaticString = #filePath,
        line: UInt = #line
    ) {
        XCTAssertEqual(after.shape, expected.shape, name, file: file, line: line)
        let ours = zip(after.scalars, before).map { $0 - $1 }
        let pytorch = zip(expected.scalars, before).map { $0 - $1 }
        let largest = pytorch.map(abs).max() ?? 0
        XCTAssertGreaterThan(largest, 1e-4, "\(name): PyTorch's three steps moved it", file: file, line: line)
        let difference = zip(ours, pytorch).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(
            difference, 1e-4 * largest, "\(name): max |Δours − ΔPyTorch| \(difference) of max |ΔPyTorch| \(largest)",
            file: file, line: line)
        print("CycleGAN fixture \(name): max |Δours − ΔPyTorch| \(difference), max |ΔPyTorch| \(largest)")
    }
}
