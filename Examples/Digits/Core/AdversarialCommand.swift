import ArgumentParser
import DeepLearning
import Foundation
import Imaging

/// What `digits adversarial` measured, as written to `OUT/adversarial.json`.
public struct AdversarialReport: Codable, Equatable, Sendable {
    /// The recipe the attacked classifier was trained with.
    public let recipe: DigitsRecipe
    /// Clean (ε = 0) first, then FGSM at each ε, on the 359 test images.
    public let outcomes: [AttackOutcome]
}

extension DigitsCommand {
    /// `digits adversarial`: trains the classifier as `digits train` does, then measures it on
    /// FGSM adversarial versions of the test images and draws them with saliency maps.
    struct Adversarial: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train the classifier, then attack it with FGSM and draw saliency maps.",
            discussion: """
                Pixels are 0…1 (count / 16); each test image moves by ε per pixel in the sign of the \
                loss's gradient with respect to it, then is clipped to 0…1. Writes OUT/adversarial.png \
                (digits, their adversarial versions, saliency maps) and OUT/adversarial.json.
                """)

        @OptionGroup var training: TrainingOptions
        @Option(parsing: .upToNextOption, help: "FGSM perturbation sizes, in pixel units (pixels are 0…1).")
        var epsilons: [Float] = [0.05, 0.1, 0.2]
        @Option(help: "Folder for adversarial.png and adversarial.json (created if missing).")
        var out = "digits-adversarial"

        func validate() throws {
            guard !epsilons.isEmpty, epsilons.allSatisfy({ $0 > 0 && $0 <= 1 }) else {
                throw ValidationError("--epsilons must be one or more sizes in (0, 1]")
            }
        }

        func run() throws {
            let started = Date()
            let (result, test) = try training.train()
            let outcomes = try attackDigits(model: result.model, test: test, epsilons: epsilons, seed: training.seed)
            for outcome in outcomes {
                let name = outcome.epsilon == 0 ? "clean     " : String(format: "FGSM ε %.2f", outcome.epsilon)
                print(
                    String(
                        format: "%@  accuracy %6.2f%% (%3d of %d)  loss %.3f  (random signs: %6.2f%%)", name,
                        outcome.accuracy * 100, Int((outcome.accuracy * Float(test.count)).rounded()), test.count,
                        outcome.loss, outcome.randomSignAccuracy * 100))
            }
            let folder = URL(fileURLWithPath: out)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let picture = folder.appendingPathComponent("adversarial.png")
            try saveImage(try adversarialFigure(model: result.model, test: test, epsilons: epsilons), to: picture)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let report = AdversarialReport(recipe: training.recipe, outcomes: outcomes)
            try writeAtomically(try encoder.encode(report), to: folder.appendingPathComponent("adversarial.json"))
            print(
                String(
                    format: "wrote %@ and adversarial.json in %.1f s", picture.path, Date().timeIntervalSince(started)))
        }
    }
}
