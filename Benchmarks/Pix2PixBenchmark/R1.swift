// pix2pix-benchmark --r1: one discriminator step with the R1 penalty, ours against PyTorch's.
import DeepLearning
import Foundation
import Pix2Pix

/// StyleGAN2's R1 step on the seed's PatchGAN (γ = 10): the loss on the real pair plus the
/// penalty, whose gradient is a recorded backward pass, back-propagated into D and applied.
func r1Step(discriminator: PatchDiscriminator, optimizer: Adam, source: Tensor, target: Tensor) throws {
    discriminator.zeroGradients()
    let (s, t) = (source.requiringGradient(), target.requiringGradient())
    let logits = discriminator(source: s, target: t)
    let loss = binaryCrossEntropy(logits: logits, Tensor.ones(logits.shape))
    let slopes = try gradients(of: logits.sum(), withRespectTo: [s, t], createGraph: true)
    let penalty = (slopes[0].squared().sum() + slopes[1].squared().sum()) * (10 / 2 / Float(source.shape[0]))
    (loss + penalty).backward()
    optimizer.update()
}

func benchmarkR1(
    discriminator: PatchDiscriminator, optimizer: Adam, source: Tensor, target: Tensor, arguments: Arguments,
    machine: MachineDescription
) throws {
    let step = { try r1Step(discriminator: discriminator, optimizer: optimizer, source: source, target: target) }
    if arguments.profileOps { return try profileStep("R1 step", arguments: arguments, step) }
    struct R1Result: Decodable {
        let version: String
        let r1_step_s: PeerResult.Times
    }
    try compareSteps(
        "R1 discriminator step (seed's PatchGAN, batch \(arguments.batch) at \(arguments.size)², γ 10)",
        arguments: arguments, machine: machine, step: step
    ) {
        runPeer(
            ["--r1", "--steps", "\(arguments.steps)", "--batch", "\(arguments.batch)", "--size", "\(arguments.size)"],
            as: R1Result.self
        ).map {
            PeerStep(
                version: $0.result.version, min: $0.result.r1_step_s.min, median: $0.result.r1_step_s.median,
                peakRSS: $0.peakRSS)
        }
    }
}
