// pix2pix-benchmark --loader DIR: pairs/s of the data pipeline alone (JPEG decode, split, jitter
// 286 → 256 and mirror, collate; batch 1, shuffled), ours against PyTorch's DataLoader with PIL.
import DeepLearning
import Foundation
import Imaging

func benchmarkLoader(folder: String, workers: Int, arguments: Arguments, machine: MachineDescription) throws {
    let pairs = try PairedImageDataset(directory: URL(fileURLWithPath: folder), imageSize: 256)
    let samples = PairedSamples(pairs, jitter: Jitter())
    let loader = DataLoader(
        samples, batchSize: 1, sampler: RandomSampler(count: samples.count, seed: 1), workers: workers, seed: 2,
        collate: PairedSamples.collate)
    func epochs(_ range: Range<Int>) throws -> Int {
        var loaded = 0
        for epoch in range {
            let batches = try loader.epoch(epoch)
            while let batch = try batches.next() { loaded += batch.source.shape[0] }
        }
        return loaded
    }
    var ours: [Double] = [], peers: [Double] = []
    var version = ""
    for _ in 0..<(arguments.compareTorch ? arguments.rounds : 1) {
        _ = try epochs(0..<1)  // warm-up, as the peer
        let started = Date()
        let loaded = try epochs(1..<3)
        ours.append(Double(loaded) / Date().timeIntervalSince(started))
        if arguments.compareTorch, let peer = runTorchLoaderPeer(folder: folder, workers: workers) {
            peers.append(peer.rate)
            version = peer.version
        }
    }
    func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
    print("machine: \(machine.summary)")
    print("loader: \(samples.count) pairs from \(folder), jitter 286 → 256 and mirror, batch 1, \(workers) workers")
    print(String(format: "ours     %.1f pairs/s (median of %d)", median(ours), ours.count))
    guard !peers.isEmpty else { return }
    let ratios = zip(ours, peers).map { $0 / $1 }
    print(String(format: "pytorch %@ DataLoader + PIL  %.1f pairs/s", version, median(peers)))
    print(
        String(format: "ours is %.2f× faster", median(ratios)) + "  (per round: "
            + ratios.map { String(format: "%.2f", $0) }.joined(separator: ", ") + ")")
}

/// Runs Benchmarks/Peers/torch_loader.py on the same folder with the same workers.
private func runTorchLoaderPeer(folder: String, workers: Int) -> (version: String, rate: Double)? {
    struct Result: Decodable {
        let version: String
        let images_per_s: Double
    }
    // The peer loads on one thread plus its worker processes: no --threads.
    return runPeer(script: "torch_loader.py", [folder, "--workers", "\(workers)"], threads: false, as: Result.self)
        .map { ($0.result.version, $0.result.images_per_s) }
}
