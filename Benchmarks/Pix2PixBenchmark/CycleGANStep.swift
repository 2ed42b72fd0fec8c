// pix2pix-benchmark --cyclegan: one CycleGAN training step at 256², batch 1 (junyanz's recipe and
// networks), ours against PyTorch fp32 (Benchmarks/Peers/torch_cyclegan.py), and the peak RSS of
// each (this mode runs before anything else is built, so the figure is the step's).
import CycleGAN
@_spi(Benchmarks) import DeepLearning
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
    if arguments.profileOps {
        // Where a step's time goes, per recorded op (forward and pullback), in ms per step.
        for _ in 0..<arguments.warmup { try trainer.step(a: a, b: b) }
        OpProfiler.start(detailed: CommandLine.arguments.contains("--detailed"))
        var wall = 0.0
        for _ in 0..<arguments.steps {
            OpProfiler.mark()
            wall += try seconds { try trainer.step(a: a, b: b) }
        }
        let n = Double(arguments.steps)
        for e in OpProfiler.stop().sorted(by: { $0.forward + $0.backward > $1.forward + $1.backward }) {
            print(
                String(
                    format: "%@ %6d %9.1fms %9.1fms", e.op.padding(toLength: 100, withPad: " ", startingAt: 0),
                    e.calls / arguments.steps, e.forward / n * 1e3, e.backward / n * 1e3))
        }
        print(String(format: "wall %.1f ms per step", wall / n * 1e3))
        return
    }
    var ours: [(min: Double, median: Double)] = [], peers: [(min: Double, median: Double)] = []
    var version = "", peerRSS = 0
    for _ in 0..<(arguments.compareTorch ? arguments.rounds : 1) {
        ours.append(try timed(warmup: arguments.warmup, runs: arguments.steps) { try trainer.step(a: a, b: b) })
        if arguments.compareTorch, let peer = runTorchCycleGANPeer(steps: arguments.steps, size: arguments.size) {
            peers.append((peer.min, peer.median))
            (version, peerRSS) = (peer.version, Swift.max(peerRSS, peer.peakRSS))
        }
    }
    func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
    print("machine: \(machine.summary)")
    print("CycleGAN step (ResNet-9 ×2, 70×70 PatchGAN ×2, instance norm), batch 1 at \(arguments.size)²")
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
        String(
            format: "ours is %.2f× faster, at %.2f× its peak RSS", median(ratios), Double(peakRSS()) / Double(peerRSS))
            + "  (per round: " + ratios.map { String(format: "%.2f", $0) }.joined(separator: ", ") + ")")
}

private func runTorchCycleGANPeer(
    steps: Int, size: Int
) -> (version: String, min: Double, median: Double, peakRSS: Int)? {
    let env = ProcessInfo.processInfo.environment
    let peers = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../Peers")
        .standardized
    let venvPython = peers.appendingPathComponent(".venv/bin/python").path
    let python =
        env["PEER_PYTHON"] ?? (FileManager.default.fileExists(atPath: venvPython) ? venvPython : "/usr/bin/python3")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: python)
    process.arguments = [
        peers.appendingPathComponent("torch_cyclegan.py").path, "--threads",
        "\(ProcessInfo.processInfo.activeProcessorCount)", "--steps", "\(steps)", "--size", "\(size)", "--json",
    ]
    let pipe = Pipe()
    process.standardOutput = pipe
    do { try process.run() } catch { return nil }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    struct Result: Decodable {
        let version: String
        let cyclegan_step_s: PeerResult.Times
    }
    let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
    guard let result = try? JSONDecoder().decode(Result.self, from: Data(line.utf8)) else { return nil }
    var usage = rusage()
    let rss = getrusage(__rusage_who_t(RUSAGE_CHILDREN.rawValue), &usage) == 0 ? usage.ru_maxrss * 1024 : 0
    return (result.version, result.cyclegan_step_s.min, result.cyclegan_step_s.median, rss)
}
