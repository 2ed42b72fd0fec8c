// pix2pix-benchmark: is our pix2pix as fast as PyTorch's on this CPU?
//
// Times, for the seed's models at 256×256 batch 1, the generator forward (inference in
// training mode, like the peer's `G.train(); with torch.no_grad(): G(src)`) and the full
// training step (Pix2PixTrainer.step), reports min/median over the timed runs after warm-up,
// achieved GFLOP/s, cblas_sgemm GFLOP/s measured in the same process, and peak RSS.
//
//   swift run -c release pix2pix-benchmark [--steps 10] [--warmup 3] [--json] [--compare-torch]
//
// --compare-torch also runs the PyTorch peer, Benchmarks/Peers/torch_pix2pix.py (or $PEER_SCRIPT),
// in the same invocation and prints ratios. Its interpreter is $PEER_PYTHON, else the virtual
// environment Benchmarks/Peers/install.sh creates, else python3.
import COpenBLAS
@_spi(Benchmarks) import DeepLearning
import Foundation
import Pix2Pix

struct Arguments {
    var steps = 10, warmup = 3, size = 256
    var json = false, compareTorch = false, profile = false, profileOps = false
    var soak = 0, rounds = 1

    init() {
        var it = CommandLine.arguments.dropFirst().makeIterator()
        while let arg = it.next() {
            switch arg {
            case "--steps": steps = Int(it.next() ?? "") ?? steps
            case "--warmup": warmup = Int(it.next() ?? "") ?? warmup
            case "--size": size = Int(it.next() ?? "") ?? size
            case "--json": json = true
            case "--compare-torch": compareTorch = true
            case "--profile": profile = true
            case "--profile-ops": profileOps = true
            case "--detailed": break
            case "--soak": soak = Int(it.next() ?? "") ?? 1000
            case "--rounds": rounds = Swift.max(1, Int(it.next() ?? "") ?? 1)
            case "--help", "-h":
                print(
                    "usage: pix2pix-benchmark [--steps N] [--warmup N] [--size 256] [--json] [--compare-torch [--rounds N]] [--profile] [--profile-ops [--detailed]] [--soak N]"
                )
                exit(0)
            default:
                FileHandle.standardError.write("unknown argument \(arg)\n".data(using: .utf8)!)
                exit(2)
            }
        }
    }
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func timed(warmup: Int, runs: Int, _ body: () throws -> Void) rethrows -> (min: Double, median: Double) {
    for _ in 0..<warmup { try body() }
    var times: [Double] = []
    for _ in 0..<runs { times.append(try seconds(body)) }
    times.sort()
    return (times[0], times[times.count / 2])
}

/// A memory figure of this process from /proc/self/status (`VmHWM` = peak RSS, `VmRSS` = current), in bytes.
func processMemory(_ key: String) -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix(key + ":") {
        return (line.split(separator: " ").compactMap { Int($0) }.first ?? 0) * 1024
    }
    return 0
}

/// Peak resident set size of this process, in bytes.
func peakRSS() -> Int { processMemory("VmHWM") }

func sgemmGFLOPS(size n: Int = 2048) -> Double {
    OpenBLASSetup.configure()
    let a = [Float](repeating: 1, count: n * n), b = a
    var c = [Float](repeating: 0, count: n * n)
    let best = (0..<4).map { _ in
        seconds {
            cblas_sgemm(
                CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1, a, Int32(n), b, Int32(n), 0,
                &c, Int32(n))
        }
    }.dropFirst().min()!
    return 2 * Double(n * n * n) / best / 1e9
}

/// Multiply-add FLOPs (×2) of every convolution in a forward pass of the seed's models at
/// `size`×`size`: conv 2·Ho·Wo·k²·Cin·Cout; a transposed conv costs the same from its input side.
func forwardFLOPs(
    generator: UNetGenerator, discriminator: PatchDiscriminator, size: Int
) -> (generator: Double, discriminator: Double) {
    func conv(_ layer: Conv2D, outputSize: Int) -> Double {
        let s = layer.kernel.shape  // [k, k, in, out]
        return 2 * Double(outputSize * outputSize * s[0] * s[1] * s[2] * s[3])
    }
    func deconv(_ layer: Conv2DTranspose, inputSize: Int) -> Double {
        let s = layer.kernel.shape  // [k, k, out, in]
        return 2 * Double(inputSize * inputSize * s[0] * s[1] * s[2] * s[3])
    }
    var g = 0.0, resolution = size
    for block in generator.encoder { resolution /= 2; g += conv(block.conv, outputSize: resolution) }
    resolution /= 2
    g += conv(generator.bottleneck, outputSize: resolution)
    for block in generator.decoder { g += deconv(block.deconv, inputSize: resolution); resolution *= 2 }
    g += deconv(generator.output, inputSize: resolution)
    var d = 0.0
    resolution = size
    for stage in discriminator.stages {
        if stage.conv.strides.height == 2 { resolution /= 2 }
        d += conv(stage.conv, outputSize: resolution)
    }
    d += conv(discriminator.output, outputSize: resolution)
    return (g, d)
}

struct PeerResult: Decodable {
    struct Times: Decodable { let min: Double; let median: Double }
    let version: String
    let generator_forward_s: Times
    let train_step_s: Times
    /// Peak RSS of the peer process (from the kernel's accounting of the finished child).
    var peakRSS: Int? = nil

    enum CodingKeys: String, CodingKey { case version, generator_forward_s, train_step_s }
}

func runTorchPeer(steps: Int) -> PeerResult? {
    let env = ProcessInfo.processInfo.environment
    let peers = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../Peers")
        .standardized
    let venvPython = peers.appendingPathComponent(".venv/bin/python").path
    let python =
        env["PEER_PYTHON"] ?? (FileManager.default.fileExists(atPath: venvPython) ? venvPython : "/usr/bin/python3")
    let script = env["PEER_SCRIPT"] ?? peers.appendingPathComponent("torch_pix2pix.py").path
    guard FileManager.default.fileExists(atPath: python), FileManager.default.fileExists(atPath: script) else {
        FileHandle.standardError.write("peer not run: \(python) or \(script) missing\n".data(using: .utf8)!)
        return nil
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: python)
    process.arguments = [
        script, "--threads", "\(ProcessInfo.processInfo.activeProcessorCount)", "--steps", "\(steps)", "--json",
    ]
    let pipe = Pipe()
    process.standardOutput = pipe
    do { try process.run() } catch { return nil }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let lastLine = String(decoding: data, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
    var result = try? JSONDecoder().decode(PeerResult.self, from: Data(lastLine.utf8))
    // ru_maxrss of children: the largest finished child so far, in KiB (the peer is our only child).
    var usage = rusage()
    if getrusage(__rusage_who_t(RUSAGE_CHILDREN.rawValue), &usage) == 0 { result?.peakRSS = usage.ru_maxrss * 1024 }
    return result
}

let arguments = Arguments()
let sgemm = sgemmGFLOPS()
RandomState.seed(0)
let generator = UNetGenerator()
let discriminator = PatchDiscriminator()
let trainer = Pix2PixTrainer(generator: generator, discriminator: discriminator)
var generatorRandom = SeededGenerator(seed: 1)
let shape = [1, arguments.size, arguments.size, 3]
let source = Tensor.randomUniform(shape, lowerBound: -1, upperBound: 1, generator: &generatorRandom)
let target = Tensor.randomUniform(shape, lowerBound: -1, upperBound: 1, generator: &generatorRandom)
let flops = forwardFLOPs(generator: generator, discriminator: discriminator, size: arguments.size)
// A training step: G forward, 3 D forwards, backward ≈ 2× forward for D (×3) and G (input
// gradient of D's first layer and of G's first layer are skipped, ignored here).
let stepFLOPs = 3 * flops.generator + 3 * 3 * flops.discriminator

/// Where a training step's time goes: the trainer's phases timed one by one (median of runs).
func profileStep(runs: Int) {
    var phases: [String: [Double]] = [:]
    func phase<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
        let start = DispatchTime.now().uptimeNanoseconds
        let result = try body()
        phases[name, default: []].append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        return result
    }
    let dOptimizer = Adam(for: discriminator, learningRate: 2e-4, beta1: 0.5)
    let gOptimizer = Adam(for: generator, learningRate: 2e-4, beta1: 0.5)
    let discriminatorNorms = discriminator.modules.compactMap { $0 as? BatchNorm }
    for _ in 0..<(runs + 2) {
        let fake = phase("1 G forward") { generator(source) }
        let dLoss = phase("2 D forward ×2 + loss") {
            // As the trainer: real and fake pairs as two independent sub-batches of one pass.
            for norm in discriminatorNorms { norm.independentSubBatches = 2 }
            defer { for norm in discriminatorNorms { norm.independentSubBatches = 1 } }
            let logits = discriminator(
                source: concatenate([source, source], axis: 0),
                target: concatenate([target, fake.detached()], axis: 0))
            let real = binaryCrossEntropy(
                logits: logits.slice(axis: 0, 0..<1), Tensor(shape: [1, 16, 16, 1], repeating: 1))
            let fakeLoss = binaryCrossEntropy(
                logits: logits.slice(axis: 0, 1..<2), Tensor(shape: [1, 16, 16, 1], repeating: 0))
            return (real + fakeLoss) * 0.5
        }
        phase("3 D backward") { dLoss.backward() }
        phase("4 D Adam update") { dOptimizer.update() }
        for p in discriminator.parameters { p.requiresGradient = false }
        let gLoss = phase("5 D forward (for G) + loss") {
            binaryCrossEntropy(
                logits: discriminator(source: source, target: fake), Tensor(shape: [1, 16, 16, 1], repeating: 1))
                + l1Loss(fake, target) * 100
        }
        phase("6 G backward (through D)") { gLoss.backward() }
        for p in discriminator.parameters { p.requiresGradient = true }
        phase("7 G Adam update") { gOptimizer.update() }
    }
    var total = 0.0
    for name in phases.keys.sorted() {
        let times = Array(phases[name]!.dropFirst(2)).sorted()
        let median = times[times.count / 2]
        total += median
        print(String(format: "  %-28@ %.3fs", name, median))
    }
    print(String(format: "  %-28@ %.3fs", "sum of medians", total))
}

/// Current resident set size, in bytes.
func currentRSS() -> Int { processMemory("VmRSS") }

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

if arguments.profile {
    profileStep(runs: arguments.steps)
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
}
var rounds: [Round] = []
for _ in 0..<(arguments.compareTorch ? arguments.rounds : 1) {
    let forward = timed(warmup: arguments.warmup, runs: arguments.steps) {
        _ = withoutGradient { generator(source) }
    }
    let step = try timed(warmup: arguments.warmup, runs: arguments.steps) {
        try trainer.step(source: source, target: target)
    }
    rounds.append(
        Round(forward: forward, step: step, peer: arguments.compareTorch ? runTorchPeer(steps: arguments.steps) : nil))
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
    ]
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
    print(String(format: "peak RSS %.2f GB", Double(rss) / 1e9))
    if let peer {
        print(
            "peer: pytorch \(peer.version)"
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
