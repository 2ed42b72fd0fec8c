// distributed-benchmark: what data-parallel training over MPI costs on this machine.
//
//   mpirun -np 2 distributed-benchmark --allreduce            # allreduce time and bandwidth, 4 KB–245 MB
//   distributed-benchmark --step [--threads 2]                 # one process: the baseline step
//   mpirun -np 2 distributed-benchmark --step --threads 1 [--no-overlap] [--bucket-mb 25]
//
// --step times Pix2PixTrainer.step on the seed's models (batch 1 per rank at --size 256, random
// data) after --warmup steps: steps per second, and under mpirun the seconds the communication
// thread spent in allreduces (gradient buckets and synchronised batch norm) and the seconds the
// step waited for them after its backward passes (the communication not hidden behind
// backward). --threads N sets the library's and OpenBLAS's threads per process (default: the
// CPUs mpirun bound the process to).
// Docs/Distributed.md has the figures and the scaling model built on them.
import COpenBLAS
import DeepLearning
import Distributed
import Foundation
import Pix2Pix

let arguments = CommandLine.arguments.dropFirst()
func value(_ name: String, _ fallback: Int) -> Int {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.endIndex, let v = Int(arguments[i + 1]) else {
        return fallback
    }
    return v
}
let group = try ProcessGroup.fromEnvironment()
let rank = group?.rank ?? 0, size = group?.size ?? 1
func report(_ line: String) {
    if rank == 0 {
        print(line)
        fflush(stdout)
    }
}
if arguments.contains("--threads") {
    Parallelism.setThreads(includingBLAS: value("--threads", 1))
} else {
    group?.fitThreadsToAffinity()
}
func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

if arguments.contains("--allreduce") {
    guard let group else {
        print("--allreduce needs mpirun -np N")
        exit(2)
    }
    report("allreduce over \(size) processes (sum of float32, in place); bus bandwidth = 2(N−1)/N · bytes / time")
    report("      KB |   ms (min of 5) | algorithm GB/s | bus GB/s")
    // 4 KB: a synchronised batch norm's statistics; 25 MB: a gradient bucket; 245 MB: pix2pix's gradients.
    for kilobytes in [4, 64, 1024, 4096, 25600, 65536, 251_392] {
        let count = kilobytes * 1024 / 4
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
        buffer.initialize(repeating: 1)
        try group.allReduceSum(buffer)
        var best = Double.infinity
        for _ in 0..<5 {
            try group.barrier()
            let start = now()
            try group.allReduceSum(buffer)
            best = min(best, now() - start)
        }
        buffer.deallocate()
        let bytes = Double(count * 4)
        report(
            String(
                format: "%8d | %15.3f | %14.3f | %8.3f", kilobytes, best * 1e3, bytes / best / 1e9,
                2 * Double(size - 1) / Double(size) * bytes / best / 1e9))
    }
    try group.finalize()
    exit(0)
}

guard arguments.contains("--step") else {
    print(
        "usage: [mpirun -np N] distributed-benchmark --allreduce | --step [--threads N] [--no-overlap] [--bucket-mb 25]"
    )
    exit(2)
}
let imageSize = value("--size", 256), steps = value("--steps", 8), warmup = value("--warmup", 2)
let bucket = Double(value("--bucket-mb", 25)), overlap = !arguments.contains("--no-overlap")
RandomState.seed(0)
let generator = UNetGenerator(), discriminator = PatchDiscriminator()
let trainer = Pix2PixTrainer(generator: generator, discriminator: discriminator)
var parallel: (generator: DataParallel, discriminator: DataParallel)?
if let group, size > 1 {
    trainer.batchNormSynchronization = group
    let pair = (
        generator: try DataParallel(generator, group: group, bucketMegabytes: bucket, overlap: overlap),
        discriminator: try DataParallel(discriminator, group: group, bucketMegabytes: bucket, overlap: overlap)
    )
    trainer.synchronizers = (pair.generator, pair.discriminator)
    parallel = pair
}
var data = SeededGenerator(seed: UInt64(1 + rank))
let source = Tensor.randomUniform([1, imageSize, imageSize, 3], lowerBound: -1, upperBound: 1, generator: &data)
let target = Tensor.randomUniform([1, imageSize, imageSize, 3], lowerBound: -1, upperBound: 1, generator: &data)
for _ in 0..<warmup { try trainer.step(source: source, target: target) }
let busyBefore = group?.communicationSeconds ?? 0
let waitBefore = (parallel?.generator.waitingSeconds ?? 0) + (parallel?.discriminator.waitingSeconds ?? 0)
let start = now()
for _ in 0..<steps { try trainer.step(source: source, target: target) }
let wall = (now() - start) / Double(steps)
let busy = ((group?.communicationSeconds ?? 0) - busyBefore) / Double(steps)
let waiting =
    ((parallel?.generator.waitingSeconds ?? 0) + (parallel?.discriminator.waitingSeconds ?? 0) - waitBefore)
    / Double(steps)
let gradientFloats = generator.parameterCount + discriminator.parameterCount
report(
    "\(size) process(es) × \(Parallelism.threads) thread(s), batch 1 per process at \(imageSize)², \(steps) steps"
        + (size > 1 ? ", buckets of \(Int(bucket)) MB, overlap \(overlap ? "on" : "off")" : ""))
report(
    String(
        format: "step %.3f s → %.2f steps/s, %.2f images/s; gradients %.1f MB per step", wall, 1 / wall,
        Double(size) / wall, Double(gradientFloats * 4) / 1e6))
if size > 1 {
    report(
        String(
            format: "communication thread busy %.3f s per step (%.0f%% of the step); step waited %.3f s (%.0f%%)",
            busy, 100 * busy / wall, waiting, 100 * waiting / wall))
    if let parallel {
        report("buckets (floats): G \(parallel.generator.bucketSizes), D \(parallel.discriminator.bucketSizes)")
    }
}
try group?.finalize()
