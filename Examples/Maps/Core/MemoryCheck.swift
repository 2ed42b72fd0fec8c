import DeepLearning
import Foundation
import Pix2Pix

// Whether a run fits in the memory this process may use, decided before the run starts
// (Docs/Reliability.md, "Running out of memory"): one training step or one translation is
// measured on a probe at a small image and scaled to the run's (`MemoryEstimate`), then held
// against the tightest limit in force (`MemoryBudget`). A run that cannot fit is refused with
// one line saying what it needs, what there is, and what to change — before anything is
// written — instead of growing until the kernel kills it.

/// The side of a probe's images: the smallest multiple of a generator's input `multiple` that
/// is at least 64 (the PatchGAN needs some pixels).
func probeImageSide(multiple: Int) -> Int {
    (Swift.max(64, multiple) + multiple - 1) / multiple * multiple
}

extension RunOptions {
    /// The side of the training probe's images: the run's own when smaller than
    /// `probeImageSide(multiple:)`.
    var probeSide: Int { Swift.min(imageSize, probeImageSide(multiple: sizeMultiple)) }

    /// The training memory of this run as a function of the image side, from probes: training
    /// steps on fresh models of this run's architecture (not the run's own: the probe trains
    /// them) at batch 1 and side `probeSide`, and then at twice the side when the run's images
    /// are larger, else at batch 2 when the run's batch is. Memory grows faster with the side
    /// than with the batch (measured: Docs/Reliability.md), so a run larger in both is
    /// estimated from the sides: an upper bound.
    func trainingMemory() -> (Int) -> MemoryEstimate {
        var probes = [(batch: 1, side: probeSide)]
        if imageSize > probeSide {
            probes.append((1, 2 * probeSide))
        } else if batch > 1 {
            probes.append((2, probeSide))
        }
        let (generator, discriminator) = makeModels()
        let trainer = Pix2PixTrainer(
            generator: generator, discriminator: discriminator,
            options: .init(
                l1Weight: l1Weight, ganLoss: ganLoss, learningRate: learningRate,
                // Every probe step applies the run's penalty (its twice-differentiated D pass).
                gradientPenalty: gradientPenalty.map { GradientPenalty($0.kind, weight: $0.weight, every: 1) }))
        trainer.precision = precision.matrixPrecision.isSupported ? precision.matrixPrecision : .float32
        var random = SeededGenerator(seed: 0)
        let profile = MemoryProfile.measuring(
            parameters: generator.parameters + discriminator.parameters,
            probeElements: probes.map { $0.batch * $0.side * $0.side }
        ) { probe in
            let shape = [probes[probe].batch, probes[probe].side, probes[probe].side, 3]
            _ = try? trainer.step(
                source: Tensor.randomUniform(shape, lowerBound: -1, upperBound: 1, generator: &random),
                target: Tensor.randomUniform(shape, lowerBound: -1, upperBound: 1, generator: &random))
        }
        let batch = self.batch, jitter = self.jitter
        return { imageSize in
            let pixels = imageSize * imageSize
            // Held besides the step: the batch in use, the loader's two ready and one being
            // loaded (one worker, `maps train --workers 1`; with jitter, the enlarged pairs it
            // crops from), and the three validation pairs of the sample grids.
            let pairs = Double(batch) * (4 + (jitter ? 1.25 : 0)) + 3
            return profile.estimate(elements: batch * pixels, data: Int(pairs * 2 * Double(pixels) * 3 * 4))
        }
    }
}

/// Refuses, with one line, a `maps` run whose estimated peak memory exceeds what the process
/// may use.
///
/// - Parameters:
///   - estimate: the estimate at the run's image size.
///   - budget: what the process may use.
///   - command: the command's name for the message ("maps train").
///   - what: the run in words ("--image-size 16384, --batch-size 1").
///   - largestFitting: the largest setting that fits, in words, or nil when none does.
///   - options: the options a user can lower, in words.
/// - Throws: `MapsError` when the estimate exceeds the budget.
func requireMemory(
    _ estimate: MemoryEstimate, within budget: MemoryBudget, command: String, for what: String,
    largestFitting: String?, lower options: String
) throws {
    guard estimate.total > budget.bytes else { return }
    let advice = largestFitting.map { "\($0) should fit; " } ?? ""
    throw MapsError(
        "\(command): \(what) needs \(estimate), and this process may use \(describeBytes(budget.bytes)) (\(budget.source)); \(advice)lower \(options)"
    )
}

/// Checks that one training step of `options` fits, and returns the line to print with the
/// run's other facts. When it does not fit, the message names the largest `--image-size`
/// whose estimate is within 80 % of the budget (the estimates are good to about 20 %,
/// Docs/Reliability.md).
func checkTrainingMemory(_ options: RunOptions, command: String) throws -> String {
    let memory = options.trainingMemory()
    let estimate = memory(options.imageSize)
    let multiple = options.sizeMultiple
    let budget = MemoryBudget.current()
    let fitting = stride(from: options.imageSize - multiple, through: multiple, by: -multiple)
        .first { Double(memory($0).total) <= 0.8 * Double(budget.bytes) }
    try requireMemory(
        estimate, within: budget, command: command,
        for: "--image-size \(options.imageSize) at --batch-size \(options.batch)",
        largestFitting: fitting.map { "--image-size \($0)" },
        lower: "--image-size, --batch-size or --ngf/--ndf")
    return "memory: a training step needs \(estimate); this process may use \(budget)"
}

/// The memory of translating one image of a given height and width with `generator`, from
/// probes: translations of `multiple`-sided images of at least 64 and twice that (inference
/// keeps nothing for backward and changes no state of the generator, so the probe may use the
/// run's own). The data held besides: the decoded image, its resized input, the output and its
/// resized copy, and the images of the pipeline's neighbouring stages.
func translationMemory(_ generator: Layer, multiple: Int, mode: InferenceMode) -> (Int, Int) -> MemoryEstimate {
    let side = probeImageSide(multiple: multiple)
    let sides = [side, 2 * side]
    var random = SeededGenerator(seed: 0)
    let profile = MemoryProfile.measuring(parameters: [], probeElements: sides.map { $0 * $0 }) { probe in
        _ = generator.translate(Tensor.zeros([sides[probe], sides[probe], 3]), mode: mode, generator: &random)
    }
    return { height, width in
        let padded = ((height + multiple - 1) / multiple * multiple) * ((width + multiple - 1) / multiple * multiple)
        return profile.estimate(elements: padded, data: (4 * height * width + 2 * padded) * 3 * 4)
    }
}
