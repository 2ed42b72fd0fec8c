// pix2pix-benchmark --cyclegan: one CycleGAN training step at 256², batch 1 (junyanz's recipe and
// networks), ours against PyTorch fp32 (Benchmarks/Peers/torch_cyclegan.py), and the peak RSS of
// each (this mode runs before anything else is built, so the figure is the step's).
import CycleGAN
import DeepLearning
import Foundation
import Pix2Pix

func benchmarkCycleGAN(arguments: Arguments, machine: MachineDescription) throws {
    RandomState.seed(0)
    let generator = {
        ResNetGenerator(.init(blocks: 9, baseFilters: 64, norm: .instance, dropout: false, convention: .pytorch))
    }
    let discriminator = {
        PatchDiscriminator(
            .init(
                architecture: .patch(layers: 3), baseFilters: 64, inputChannels: 3, norm: .instance,
                convention: .pytorch))
    }
    let trainer = CycleGANTrainer(
        generatorA: generator(), generatorB: generator(), discriminatorA: discriminator(),
        discriminatorB: discriminator())
    var random = SeededGenerator(seed: 1)
    let shape = [1, arguments.size, arguments.size, 3]
    let a = Tensor.randomUniform(shape, lowerBound: -1, upperBound: 1, generator: &random)
    let b = Tensor.randomUniform(shape, lowerBound: -1, upperBound: 1, generator: &random)
    let step = { _ = try trainer.step(a: a, b: b) }
    if arguments.profileOps { return try profileStep("CycleGAN step", arguments: arguments, step) }
    struct Result: Decodable {
        let version: String
        let cyclegan_step_s: PeerResult.Times
    }
    try compareSteps(
        "CycleGAN step (ResNet-9 ×2, 70×70 PatchGAN ×2, instance norm), batch 1 at \(arguments.size)²",
        arguments: arguments, machine: machine, step: step
    ) {
        runPeer(
            script: "torch_cyclegan.py", ["--steps", "\(arguments.steps)", "--size", "\(arguments.size)"],
            as: Result.self
        )
        .map {
            PeerStep(
                version: $0.result.version, min: $0.result.cyclegan_step_s.min,
                median: $0.result.cyclegan_step_s.median, peakRSS: $0.peakRSS)
        }
    }
}
