// pix2pix-benchmark: is our pix2pix as fast as PyTorch's on this CPU?
//
// Times, for the seed's models (batch 1 at 256×256 unless --batch / --size say otherwise), the
// generator forward (inference in training mode, like the peer's `G.train(); with
// torch.no_grad(): G(src)`) and the full training step (Pix2PixTrainer.step), reports min/median
// over the timed runs after warm-up, achieved GFLOP/s, cblas_sgemm GFLOP/s measured in the same
// process, peak RSS, and the machine (CPU model, kernel level, AVX512_BF16, OpenBLAS kernel).
//
//   swift run -c release pix2pix-benchmark [--steps 10] [--warmup 3] [--batch 1] [--size 256] [--bf16] [--recompute]
//       [--json] [--compare-torch [--rounds N]]
//
// --cyclegan times one CycleGAN training step instead (junyanz's networks and recipe), against
// PyTorch fp32 (Benchmarks/Peers/torch_cyclegan.py) with --compare-torch, and both peak RSS.
// --loader DIR [--workers N] times the data pipeline alone on a folder of side-by-side JPEG pairs
// (decode, jitter, collate; pairs/s), against PyTorch's DataLoader with PIL with --compare-torch.
// --r1 times one discriminator step with the R1 penalty instead (StyleGAN2's Dreal + Dr1: D on the
// real pair made leaves, BCE plus (10/2)·E‖∇D‖² from a recorded backward pass, backward into D,
// Adam), against the peer's torch.autograd.grad(create_graph=True) with --compare-torch.
// --recompute recomputes the U-Net's blocks during backward instead of keeping their
// intermediates (`UNetGenerator.recomputesBlocks`): less memory for more time.
// --bf16 runs ours with bfloat16 matrix products (`Pix2PixTrainer.precision`), times our float32
// step in the same round too, and runs the peer under torch.autocast(bfloat16).
// --compare-torch also runs the PyTorch peer, Benchmarks/Peers/torch_pix2pix.py (or $PEER_SCRIPT),
// at the same batch and size in the same invocation and prints ratios. Its interpreter is
// $PEER_PYTHON, else the virtual environment Benchmarks/Peers/install.sh creates, else python3.
// Arguments.swift, Measure.swift, Peer.swift and Profile.swift hold the parts.
import COpenBLAS
@_spi(Benchmarks) import DeepLearning
import Foundation
import Pix2Pix

let arguments = Arguments().validated()
let machine = MachineDescription()
if arguments.cyclegan {
    try benchmarkCycleGAN(arguments: arguments, machine: machine)
    exit(0)
}
let sgemm = sgemmGFLOPS()
RandomState.seed(0)
let generator = UNetGenerator()
generator.recomputesBlocks = arguments.recompute
let discriminator = PatchDiscriminator()
let trainer = Pix2PixTrainer(generator: generator, discriminator: discriminator)
if arguments.bf16 {
    if let reason = MatrixPrecision.bfloat16.unsupportedReason {
        FileHandle.standardError.write("--bf16: \(reason)\n".data(using: .utf8)!)
        exit(2)
    }
    trainer.precision = .bfloat16
    if let warning = MatrixPrecision.bfloat16SpeedWarning { print("note: \(warning)") }
}
let precision = trainer.precision
var generatorRandom = SeededGenerator(seed: 1)
let shape = [arguments.batch, arguments.size, arguments.size, 3]
let source = Tensor.randomUniform(shape, lowerBound: -1, upperBound: 1, generator: &generatorRandom)
let target = Tensor.randomUniform(shape, lowerBound: -1, upperBound: 1, generator: &generatorRandom)
let perImage = forwardFLOPs(generator: generator, discriminator: discriminator, size: arguments.size)
let flops = (
    generator: perImage.generator * Double(arguments.batch),
    discriminator: perImage.discriminator * Double(arguments.batch)
)
// A training step: G forward, 3 D forwards, backward ≈ 2× forward for D (×3) and G (input
// gradient of D's first layer and of G's first layer are skipped, ignored here).
let stepFLOPs = 3 * flops.generator + 3 * 3 * flops.discriminator

/// A long run of a small model: RSS must stay flat (no growth from the tape, caches or data).
if arguments.soak > 0 {
    RandomState.seed(3)
    let small = Pix2PixTrainer(
        generator: UNetGenerator(.init(depth: 5, baseFilters: 16)),
        discriminator: PatchDiscriminator(.init(architecture: .patch(layers: 3), baseFilters: 16)))
    var data = SeededGenerator(seed: 4)
    var samples: [(Int, Int)] = []
    for step in 1...arguments.soak {
        let x = Tensor.randomUniform([1, 64, 64, 3], lowerBound: -1, upperBound: 1, generator: &data)
        try small.step(source: x, target: x * -0.5)
        if step % 100 == 0 || step == 1 {
            samples.append((step, currentRSS()))
            print(String(format: "step %5d  RSS %.1f MB", step, Double(currentRSS()) / 1e6))
        }
    }
    let afterWarmUp = samples.first { $0.0 >= 100 }!.1, last = samples.last!.1
    let growth = Double(last - afterWarmUp) / Double(afterWarmUp)
    print(String(format: "RSS growth from step 100 to %d: %+.1f%%", arguments.soak, growth * 100))
    exit(growth > 0.05 ? 1 : 0)
}

if let folder = arguments.loader {
    try benchmarkLoader(folder: folder, workers: arguments.workers, arguments: arguments, machine: machine)
    exit(0)
}

if arguments.r1 {
    try benchmarkR1(
        discriminator: discriminator, optimizer: trainer.discriminatorOptimizer, source: source, target: target,
        arguments: arguments, machine: machine)
    exit(0)
}

if arguments.profile {
    profileStep(
        generator: generator, discriminator: discriminator, source: source, target: target, runs: arguments.steps)
    exit(0)
}

/// Per-op time of whole training steps (forward and pullback per recorded op, plus the
/// trainer's gradient checks and optimizer updates), averaged over the steps.
if arguments.profileOps {
    for _ in 0..<arguments.warmup { _ = try trainer.step(source: source, target: target) }
    var wall = 0.0
    OpProfiler.start(detailed: CommandLine.arguments.contains("--detailed"))
    for _ in 0..<arguments.steps {
        OpProfiler.mark()
        wall += try seconds { _ = try trainer.step(source: source, target: target) }
    }
    let entries = OpProfiler.stop()
    let n = Double(arguments.steps)
    print(
        "op (recorded by)".padding(toLength: 60, withPad: " ", startingAt: 0) + "  calls   forward  backward     total")
    var accounted = 0.0
    for e in entries {
        accounted += e.forward + e.backward
        print(
            String(
                format: "%@ %6d %8.1fms %8.1fms %8.1fms", e.op.padding(toLength: 60, withPad: " ", startingAt: 0),
                e.calls / arguments.steps,
                e.forward / n * 1e3, e.backward / n * 1e3, (e.forward + e.backward) / n * 1e3))
    }
    print(String(format: "accounted %.1f ms of %.1f ms per step", accounted / n * 1e3, wall / n * 1e3))
    // The generator's forward pass alone (recorded, so every op is timed).
    OpProfiler.start()
    wall = 0
    for _ in 0..<arguments.steps {
        OpProfiler.mark()
        wall += seconds { _ = generator(source) }
    }
    print("\ngenerator forward (recording):")
    for e in OpProfiler.stop() {
        print(
            String(
                format: "%@ %6d %8.1fms", e.op.padding(toLength: 60, withPad: " ", startingAt: 0),
                e.calls / arguments.steps, e.forward / n * 1e3))
    }
    print(String(format: "wall %.1f ms", wall / n * 1e3))
    exit(0)
}

/// One measurement of ours, then (with --compare-torch) of the peer right after it.
struct Round {
    var forward: (min: Double, median: Double)
    var step: (min: Double, median: Double)
    var peer: PeerResult?
    /// With --bf16: our float32 step in the same round.
    var float32Step: (min: Double, median: Double)?
}
var rounds: [Round] = []
for _ in 0..<(arguments.compareTorch ? arguments.rounds : 1) {
    let forward = timed(warmup: arguments.warmup, runs: arguments.steps) {
        _ = withMatrixPrecision(precision) { withoutGradient { generator(source) } }
    }
    let step = try timed(warmup: arguments.warmup, runs: arguments.steps) {
        try trainer.step(source: source, target: target)
    }
    var float32Step: (min: Double, median: Double)? = nil
    if arguments.bf16 {
        trainer.precision = .float32
        float32Step = try timed(warmup: arguments.warmup, runs: arguments.steps) {
            try trainer.step(source: source, target: target)
        }
        trainer.precision = precision
    }
    rounds.append(
        Round(
            forward: forward, step: step,
            peer: arguments.compareTorch
                ? runTorchPeer(
                    steps: arguments.steps, batch: arguments.batch, size: arguments.size, bf16: arguments.bf16)
                : nil,
            float32Step: float32Step))
}
func median(_ values: [Double]) -> Double { let v = values.sorted(); return v.isEmpty ? .nan : v[v.count / 2] }
// With several rounds: the median over rounds of each round's figures, and of the ratios.
let forward = (min: rounds.map(\.forward.min).min()!, median: median(rounds.map(\.forward.median)))
let step = (min: rounds.map(\.step.min).min()!, median: median(rounds.map(\.step.median)))
let rss = peakRSS()
let peerRounds = rounds.compactMap { round in round.peer.map { (round, $0) } }
let peer: PeerResult? =
    peerRounds.isEmpty
    ? nil
    : PeerResult(
        version: peerRounds[0].1.version,
        generator_forward_s: .init(
            min: peerRounds.map(\.1.generator_forward_s.min).min()!,
            median: median(peerRounds.map(\.1.generator_forward_s.median))),
        train_step_s: .init(
            min: peerRounds.map(\.1.train_step_s.min).min()!, median: median(peerRounds.map(\.1.train_step_s.median))),
        peakRSS: peerRounds.compactMap(\.1.peakRSS).max())
let forwardRatios = peerRounds.map { $0.1.generator_forward_s.median / $0.0.forward.median }
let stepRatios = peerRounds.map { $0.1.train_step_s.median / $0.0.step.median }
/// With --bf16: our bf16 step over our float32 step, per round.
let precisionRatios = rounds.compactMap { round in round.float32Step.map { round.step.median / $0.median } }

if arguments.json {
    var object: [String: Any] = [
        "implementation": "swift-deeplearning",
        "generator_forward_s": ["min": forward.min, "median": forward.median],
        "train_step_s": ["min": step.min, "median": step.median],
        "peak_rss_bytes": rss,
        "sgemm_gflops": sgemm,
        "openblas_core": OpenBLASSetup.coreName,
        "openblas_thread_timeout": OpenBLASSetup.activeThreadTimeout,
        "generator_forward_gflops": flops.generator / forward.min / 1e9,
        "train_step_gflops": stepFLOPs / step.min / 1e9,
        "steps": arguments.steps,
        "batch": arguments.batch,
        "size": arguments.size,
        "precision": precision.rawValue,
        "bf16_relative_rate": MatrixPrecision.bfloat16RelativeRate ?? 0,
        "machine": machine.json,
    ]
    if !precisionRatios.isEmpty {
        object["float32_train_step_s_median"] = median(rounds.compactMap { $0.float32Step?.median })
        object["bf16_over_float32_step_per_round"] = precisionRatios
    }
    if let peer {
        object["peer"] = [
            "version": peer.version,
            "generator_forward_s": ["min": peer.generator_forward_s.min, "median": peer.generator_forward_s.median],
            "train_step_s": ["min": peer.train_step_s.min, "median": peer.train_step_s.median],
        ]
        object["speedup_vs_peer_median"] = [
            "generator_forward": median(forwardRatios), "train_step": median(stepRatios),
        ]
        object["speedup_vs_peer_per_round"] = ["generator_forward": forwardRatios, "train_step": stepRatios]
        if let peerRSS = peer.peakRSS { object["peer_peak_rss_bytes"] = peerRSS }
    }
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
} else {
    print("machine: \(machine.summary)")
    print("batch \(arguments.batch) at \(arguments.size)×\(arguments.size), \(precision.rawValue) matrix products")
    print(
        String(
            format: "sgemm 2048³: %.1f GFLOP/s (OpenBLAS core %@, thread timeout 2^%d cycles)", sgemm,
            OpenBLASSetup.coreName,
            OpenBLASSetup.activeThreadTimeout))
    print(
        String(
            format: "generator forward  min %.3fs  median %.3fs  (%.1f GFLOP, %.1f GFLOP/s)",
            forward.min, forward.median, flops.generator / 1e9, flops.generator / forward.min / 1e9))
    print(
        String(
            format: "training step      min %.3fs  median %.3fs  (≈%.1f GFLOP, %.1f GFLOP/s)",
            step.min, step.median, stepFLOPs / 1e9, stepFLOPs / step.min / 1e9))
    if !precisionRatios.isEmpty {
        print(
            String(
                format: "float32 step       median %.3fs  → bf16 step / float32 step %.2f (per round: %@)",
                median(rounds.compactMap { $0.float32Step?.median }), median(precisionRatios),
                precisionRatios.map { String(format: "%.2f", $0) }.joined(separator: ", ")))
    }
    print(String(format: "peak RSS %.2f GB", Double(rss) / 1e9))
    if let peer {
        print(
            "peer: pytorch \(peer.version)" + (arguments.bf16 ? " under torch.autocast(bfloat16)" : "")
                + (rounds.count > 1 ? " (\(rounds.count) alternating rounds; medians over rounds)" : ""))
        print(
            String(
                format: "  generator forward median %.3fs → ours is %.2f× faster", peer.generator_forward_s.median,
                median(forwardRatios))
                + (rounds.count > 1
                    ? "  (per round: " + forwardRatios.map { String(format: "%.2f", $0) }.joined(separator: ", ") + ")"
                    : ""))
        print(
            String(
                format: "  training step     median %.3fs → ours is %.2f× faster", peer.train_step_s.median,
                median(stepRatios))
                + (rounds.count > 1
                    ? "  (per round: " + stepRatios.map { String(format: "%.2f", $0) }.joined(separator: ", ") + ")"
                    : ""))
        if let peerRSS = peer.peakRSS {
            print(String(format: "  peak RSS %.2f GB (ours %.2f GB)", Double(peerRSS) / 1e9, Double(rss) / 1e9))
        }
    }
}
