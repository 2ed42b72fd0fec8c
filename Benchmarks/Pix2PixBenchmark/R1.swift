// pix2pix-benchmark --r1: one discriminator step with the R1 penalty, ours against PyTorch's.
@_spi(Benchmarks) import DeepLearning
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
    if arguments.profileOps {
        // Where the R1 step's time goes, per recorded op (forward and pullback).
        for _ in 0..<arguments.warmup {
            try r1Step(discriminator: discriminator, optimizer: optimizer, source: source, target: target)
        }
        OpProfiler.start(detailed: CommandLine.arguments.contains("--detailed"))
        var wall = 0.0
        for _ in 0..<arguments.steps {
            OpProfiler.mark()
            wall += try seconds {
                try r1Step(discriminator: discriminator, optimizer: optimizer, source: source, target: target)
            }
        }
        let n = Double(arguments.steps)
        var accounted = 0.0
        for e in OpProfiler.stop() {
            accounted += e.forward + e.backward
            print(
                String(
                    format: "%@ %6d %8.1fms %8.1fms", e.op.padding(toLength: 100, withPad: " ", startingAt: 0),
                    e.calls / arguments.steps, e.forward / n * 1e3, e.backward / n * 1e3))
        }
        print(String(format: "accounted %.1f ms of %.1f ms per R1 step", accounted / n * 1e3, wall / n * 1e3))
        return
    }
    var ours: [(min: Double, median: Double)] = [], peers: [(min: Double, median: Double)] = []
    var version = "", peerRSS = 0
    for _ in 0..<(arguments.compareTorch ? arguments.rounds : 1) {
        ours.append(
            try timed(warmup: arguments.warmup, runs: arguments.steps) {
                try r1Step(discriminator: discriminator, optimizer: optimizer, source: source, target: target)
            })
        if arguments.compareTorch,
            let peer = runTorchR1Peer(steps: arguments.steps, batch: arguments.batch, size: arguments.size)
        {
            peers.append((peer.min, peer.median))
            (version, peerRSS) = (peer.version, Swift.max(peerRSS, peer.peakRSS))
        }
    }
    func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
    print("machine: \(machine.summary)")
    print("R1 discriminator step (seed's PatchGAN, batch \(arguments.batch) at \(arguments.size)², γ 10)")
    print(
        String(
            format: "ours     min %.3fs  median %.3fs  peak RSS %.2f GB", ours.map(\.min).min()!,
            median(ours.map(\.median)), Double(peakRSS()) / 1e9))
    guard !peers.isEmpty else { return }
    let ratios = zip(ours, peers).map { $1.median / $0.median }
    print(
        String(
            format: "pytorch %@  min %.3fs  median %.3fs  peak RSS %.2f GB", version, peers.map(\.min).min()!,
            median(peers.map(\.median)), Double(peerRSS) / 1e9))
    print(
        String(format: "ours is %.2f× faster", median(ratios))
            + "  (per round: " + ratios.map { String(format: "%.2f", $0) }.joined(separator: ", ") + ")")
}
