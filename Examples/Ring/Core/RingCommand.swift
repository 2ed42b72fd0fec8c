import ArgumentParser
import DeepLearning
import Foundation
import Imaging

/// `ring`: a WGAN with the gradient penalty (Gulrajani et al. 2017) and the same WGAN without it,
/// on a ring of 8 Gaussians; reports how many modes each covers and plots their samples.
public struct RingCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "ring",
        abstract: "WGAN-GP against a WGAN without the penalty on a ring of 8 Gaussians.",
        subcommands: [Train.self],
        defaultSubcommand: Train.self)

    public init() {}

    /// `ring train`: trains both runs and writes OUT/ring.png and OUT/report.json.
    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train WGAN-GP and baselines from the same weights; plot and report every run.",
            discussion: """
                A mode is covered when at least 1/32 of 2,000 generated points lie within 3σ of its \
                centre. Writes OUT/ring.png (gradient penalty left, then the baselines; gray real points, \
                orange generated ones, a green circle on each covered centre, red on the others) and \
                OUT/report.json.
                """)

        @Option(help: "Generator updates per run (each after --critic-iterations critic updates).")
        var steps = 4_000
        @Option(
            parsing: .upToNextOption,
            help: "The runs without the penalty, from the same weights: weightClipping (c = 0.01), none.")
        var baselines: [LipschitzConstraint] = [.weightClipping]
        @Option(name: .customLong("batch-size"), help: "Points per update.")
        var batchSize = 256
        @Option(name: .customLong("critic-iterations"), help: "Critic updates per generator update.")
        var criticIterations = 5
        @Option(name: .customLong("learning-rate"), help: "Adam's learning rate (β = 0.5, 0.9) for both networks.")
        var learningRate: Float = 1e-4
        @Option(help: "Units per hidden layer of the generator and the critic.")
        var width = 128
        @Option(help: "Seed for the weights, data and noise.")
        var seed: UInt64 = 0
        @Option(help: "Folder for ring.png and report.json (created if missing).")
        var out = "ring-run"

        func validate() throws {
            guard steps > 0, batchSize > 0, criticIterations > 0, width > 0, learningRate > 0 else {
                throw ValidationError(
                    "--steps, --batch-size, --critic-iterations, --learning-rate and --width must be positive")
            }
            guard !baselines.isEmpty, !baselines.contains(.gradientPenalty) else {
                throw ValidationError("--baselines must be one or both of weightClipping and none")
            }
        }

        func run() throws {
            let ring = RingOfGaussians()
            let recipe = WGANRecipe(
                steps: steps, batchSize: batchSize, criticIterations: criticIterations, learningRate: learningRate,
                width: width, seed: seed)
            var runs: [RingRunReport] = [], panels: [RingPanel] = []
            for constraint in [LipschitzConstraint.gradientPenalty] + baselines {
                let (trainer, report) = try trainRing(ring: ring, recipe: recipe, constraint: constraint) {
                    step, last in
                    print(
                        String(
                            format: "%@ step %5d/%d  W estimate %8.4f  E(‖∇D‖ − 1)² %.4f", constraint.rawValue, step,
                            steps, last.wassersteinEstimate, last.gradientNormDeviation))
                    fflush(stdout)
                }
                print(
                    String(
                        format:
                            "%@: %d of %d modes covered, %.1f%% of points within 3σ of a mode, mean ‖∇D‖ %.3f, in %.1f s",
                        constraint.rawValue, report.coverage.covered, ring.modes, report.coverage.nearAnyMode * 100,
                        report.gradientNorm, report.seconds))
                runs.append(report)
                panels.append(
                    RingPanel(real: trainer.real(1_000), generated: trainer.sample(1_000), coverage: report.coverage))
            }
            let folder = URL(fileURLWithPath: out)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try saveImage(ringPlot(panels, ring: ring), to: folder.appendingPathComponent("ring.png"))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let report = RingReport(ring: ring, recipe: recipe, runs: runs)
            try writeAtomically(try encoder.encode(report), to: folder.appendingPathComponent("report.json"))
            print("wrote \(folder.path)/ring.png and report.json")
        }
    }
}

extension LipschitzConstraint: ExpressibleByArgument {}
