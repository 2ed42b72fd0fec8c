// pix2pix-benchmark --profile: a training step's phases timed one by one.
@_spi(Benchmarks) import DeepLearning
import Foundation
import Pix2Pix

/// Where a training step's time goes: the trainer's phases timed one by one (median of runs).
func profileStep(
    generator: UNetGenerator, discriminator: PatchDiscriminator, source: Tensor, target: Tensor, runs: Int
) {
    let batch = source.shape[0]
    var phases: [String: [Double]] = [:]
    func phase<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
        let start = DispatchTime.now().uptimeNanoseconds
        let result = try body()
        phases[name, default: []].append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        return result
    }
    let dOptimizer = Adam(for: discriminator, learningRate: 2e-4, beta1: 0.5)
    let gOptimizer = Adam(for: generator, learningRate: 2e-4, beta1: 0.5)
    for _ in 0..<(runs + 2) {
        let fake = phase("1 G forward") { generator(source) }
        let dLoss = phase("2 D forward ×2 + loss") {
            // As the trainer: real and fake pairs as two independent sub-batches of one pass.
            let logits = BatchNorm.withIndependentSubBatches(2) {
                discriminator(
                    source: concatenate([source, source], axis: 0),
                    target: concatenate([target, fake.detached()], axis: 0))
            }
            let real = logits.slice(axis: 0, 0..<batch), fake = logits.slice(axis: 0, batch..<(2 * batch))
            let realLoss = binaryCrossEntropy(logits: real, Tensor(shape: real.shape, repeating: 1))
            let fakeLoss = binaryCrossEntropy(logits: fake, Tensor(shape: fake.shape, repeating: 0))
            return (realLoss + fakeLoss) * 0.5
        }
        phase("3 D backward") { dLoss.backward() }
        phase("4 D Adam update") { dOptimizer.update() }
        for p in discriminator.parameters { p.requiresGradient = false }
        let gLoss = phase("5 D forward (for G) + loss") {
            let logits = discriminator(source: source, target: fake)
            return binaryCrossEntropy(logits: logits, Tensor(shape: logits.shape, repeating: 1))
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
