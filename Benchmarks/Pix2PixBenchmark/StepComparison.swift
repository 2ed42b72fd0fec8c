// The parts the single-step modes (--r1, --cyclegan) share: timing our step against a peer's in
// alternating rounds, and a per-op profile of our step.
@_spi(Benchmarks) import DeepLearning
import Foundation

/// Times `step` (after warm-up) and, with --compare-torch, `peer` right after it, for the rounds
/// asked, and prints both, the median of the per-round speed ratios and the peak-RSS ratio.
func compareSteps(
    _ title: String, arguments: Arguments, machine: MachineDescription, step: () throws -> Void,
    peer: () -> PeerStep?
) throws {
    var ours: [(min: Double, median: Double)] = [], peers: [PeerStep] = []
    for _ in 0..<(arguments.compareTorch ? arguments.rounds : 1) {
        ours.append(try timed(warmup: arguments.warmup, runs: arguments.steps, step))
        if arguments.compareTorch, let result = peer() { peers.append(result) }
    }
    func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
    let rss = peakRSS()
    print("machine: \(machine.summary)")
    print(title)
    print(
        String(
            format: "ours     min %.3fs  median %.3fs  peak RSS %.2f GB", ours.map(\.min).min()!,
            median(ours.map(\.median)), Double(rss) / 1e9))
    guard let last = peers.last else { return }
    let ratios = zip(ours, peers).map { $1.median / $0.median }
    let peerRSS = peers.map(\.peakRSS).max()!
    print(
        String(
            format: "pytorch %@  min %.3fs  median %.3fs  peak RSS %.2f GB", last.version, peers.map(\.min).min()!,
            median(peers.map(\.median)), Double(peerRSS) / 1e9))
    print(
        String(format: "ours is %.2f× faster, at %.2f× its peak RSS", median(ratios), Double(rss) / Double(peerRSS))
            + "  (per round: " + ratios.map { String(format: "%.2f", $0) }.joined(separator: ", ") + ")")
}

/// Where `step`'s time goes, per recorded op (forward and pullback, ms per step, the largest
/// first), after warm-up.
func profileStep(_ label: String, arguments: Arguments, _ step: () throws -> Void) throws {
    for _ in 0..<arguments.warmup { try step() }
    OpProfiler.start(detailed: CommandLine.arguments.contains("--detailed"))
    var wall = 0.0
    for _ in 0..<arguments.steps {
        OpProfiler.mark()
        wall += try seconds(step)
    }
    let n = Double(arguments.steps)
    for e in OpProfiler.stop().sorted(by: { $0.forward + $0.backward > $1.forward + $1.backward }) {
        print(
            String(
                format: "%@ %6d %9.1fms %9.1fms", e.op.padding(toLength: 100, withPad: " ", startingAt: 0),
                e.calls / arguments.steps, e.forward / n * 1e3, e.backward / n * 1e3))
    }
    print(
        String(
            format: "wall %.1f ms per %@ (forward and backward columns count nested ops twice)", wall / n * 1e3, label))
}
