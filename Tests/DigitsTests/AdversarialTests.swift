import DeepLearning
import DigitsCore
import Foundation
import XCTest

/// `digits adversarial`: FGSM and saliency maps, both gradients with respect to the input image.
final class AdversarialTests: XCTestCase {
    /// A one-epoch run (≈ 5 s in a debug build): the loss rises with ε at every step, and the
    /// command writes its report and a picture of 10 digits by (clean, 3 × FGSM, saliency).
    func testTheAdversarialCommandRaisesTheLossWithEpsilonAndWritesItsFiles() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("adversarial-\(UUID())")
        defer { try? FileManager.default.removeItem(at: folder) }
        var command = try DigitsCommand.parseAsRoot(["adversarial", "--epochs", "1", "--out", folder.path])
        try command.run()
        let report = try JSONDecoder().decode(
            AdversarialReport.self, from: Data(contentsOf: folder.appendingPathComponent("adversarial.json")))
        XCTAssertEqual(report.outcomes.map(\.epsilon), [0, 0.05, 0.1, 0.2])
        XCTAssertEqual(report.recipe.epochs, 1)
        for (smaller, larger) in zip(report.outcomes, report.outcomes.dropFirst()) {
            XCTAssertGreaterThan(larger.loss, smaller.loss, "\(report.outcomes)")
        }
        for outcome in report.outcomes {
            XCTAssertTrue((0...1).contains(outcome.accuracy) && (0...1).contains(outcome.randomSignAccuracy))
        }
        XCTAssertEqual(report.outcomes[0].randomSignAccuracy, report.outcomes[0].accuracy)
        let png = try Data(contentsOf: folder.appendingPathComponent("adversarial.png"))
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        // IHDR: width and height, big-endian, at bytes 16 and 20. Tiles are 86 px with 6 px gaps.
        let size = [16, 20].map { start in png[start..<(start + 4)].reduce(0) { $0 << 8 | Int($1) } }
        XCTAssertEqual(size, [10 * 92 + 6, 5 * 92 + 6])
    }

    /// On a fresh network in evaluation mode (piecewise linear in its input), the saliency of the
    /// most salient pixels is |∂ true logit / ∂ pixel| by central differences, and FGSM moves
    /// each pixel by at most ε and keeps it in 0…1.
    func testSaliencyIsTheTrueLogitsSlopeAndFGSMStaysWithinEpsilon() throws {
        RandomState.seed(5)
        let model = DigitsNet()
        model.setTraining(false)
        let digits = try DigitsDataset(contentsOf: DigitsDataset.bundledFile).subset([0, 1, 2])
        let saliency = try saliencyMaps(of: model, images: digits.images, labels: digits.labels).scalars
        XCTAssertEqual(saliency.count, 3 * 64)
        let image = 1, label = digits.labels[image], step: Float = 1e-2
        let salient = (0..<64).sorted { saliency[64 * image + $0] > saliency[64 * image + $1] }.prefix(3)
        for pixel in salient {
            func trueLogit(_ change: Float) -> Float {
                var pixels = digits.images.scalars
                pixels[64 * image + pixel] += change
                return withoutGradient { model(Tensor(shape: digits.images.shape, scalars: pixels)) }
                    .scalars[10 * image + label]
            }
            let slope = Swift.abs(trueLogit(step) - trueLogit(-step)) / (2 * step)
            XCTAssertEqual(saliency[64 * image + pixel], slope, accuracy: 0.05 * slope + 1e-3, "pixel \(pixel)")
        }
        let signs = try lossGradientSigns(of: model, images: digits.images, labels: digits.labels)
        XCTAssertTrue(signs.scalars.allSatisfy { [-1, 0, 1].contains($0) })
        XCTAssertGreaterThan(signs.scalars.filter { $0 != 0 }.count, 3 * 32)
        let attacked = fastGradientSignImages(digits.images, signs: signs, epsilon: 0.1).scalars
        for (before, after) in zip(digits.images.scalars, attacked) {
            XCTAssertTrue((0...1).contains(after) && Swift.abs(after - before) <= 0.1 + 1e-6, "\(before) → \(after)")
        }
    }

    /// The full recipe's classifier (≈ 3 s in release, a minute or more in debug) loses most of its
    /// accuracy to FGSM at ε = 0.2 but little to random signs of the same size. Opt-in:
    /// `DIGITS_FULL_RUN=1 swift test --filter DigitsTests`.
    func testTheFullRecipesClassifierFallsToFGSMButNotToNoiseOfTheSameSize() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["DIGITS_FULL_RUN"] == "1", "opt-in long run")
        let (train, test) = try DigitsDataset(contentsOf: DigitsDataset.bundledFile).split()
        let model = try trainDigits(train: train, test: test, recipe: DigitsRecipe()).model
        let outcomes = try attackDigits(model: model, test: test, epsilons: [0.2])
        XCTAssertGreaterThanOrEqual(outcomes[0].accuracy, 0.97)
        XCTAssertLessThan(outcomes[1].accuracy, 0.5, "\(outcomes)")
        XCTAssertGreaterThan(outcomes[1].randomSignAccuracy, 0.9, "\(outcomes)")
    }
}
