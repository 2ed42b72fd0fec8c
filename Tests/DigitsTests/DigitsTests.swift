import DeepLearning
import DigitsCore
import Foundation
import XCTest

/// The digits example: its data, its split, a short training run, and bad files.
final class DigitsTests: XCTestCase {
    func testTheBundledDatasetIsTheUCIDigitsAndTheSplitIsFixed() throws {
        let digits = try DigitsDataset(contentsOf: DigitsDataset.bundledFile)
        XCTAssertEqual(digits.count, 1_797)
        XCTAssertEqual(digits.images.shape, [1_797, 8, 8, 1])
        XCTAssertEqual(Set(digits.labels), Set(0...9))
        XCTAssertEqual(digits.images.scalars.max(), 1)
        XCTAssertEqual(Array(digits.labels.prefix(10)), Array(0...9), "scikit-learn's order")
        let (train, test) = digits.split()
        XCTAssertEqual([train.count, test.count], [1_438, 359])
        XCTAssertEqual(test.labels.first, digits.labels[4])
        XCTAssertEqual(DigitsNet().parameterCount, 45_418)
    }

    /// A short run (3 epochs on 640 images, ≈ 3 s in a debug build) must learn: its loss falls and
    /// it fits its training images. (Its test accuracy is not checked: batch norm's running
    /// statistics, with Keras's momentum 0.99, need the full run's ~700 steps to settle.)
    func testAShortTrainingRunLearnsTheDigits() throws {
        let (train, test) = try DigitsDataset(contentsOf: DigitsDataset.bundledFile).split()
        var losses: [Float] = [], trainingAccuracy: Float = 0
        let result = try trainDigits(
            train: train.subset(Array(0..<640)), test: test, recipe: DigitsRecipe(epochs: 3, batchSize: 32, seed: 1)
        ) { _, loss, accuracy in
            losses.append(loss)
            trainingAccuracy = accuracy
        }
        XCTAssertEqual(losses.count, 3)
        XCTAssertLessThan(losses[2], 0.5 * losses[0], "\(losses)")
        XCTAssertGreaterThan(trainingAccuracy, 0.8)
        XCTAssertEqual(result.confusion.joined().reduce(0, +), test.count)
    }

    /// The full recipe (15 epochs, ≈ 3 s in release, a minute or more in debug) reaches 97 % on
    /// the held-out digits. Opt-in: `DIGITS_FULL_RUN=1 swift test --filter DigitsTests`.
    func testTheFullRecipeReaches97PercentOnTheHeldOutDigits() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["DIGITS_FULL_RUN"] == "1", "opt-in long run")
        let (train, test) = try DigitsDataset(contentsOf: DigitsDataset.bundledFile).split()
        let result = try trainDigits(train: train, test: test, recipe: DigitsRecipe())
        XCTAssertGreaterThanOrEqual(result.testAccuracy, 0.97)
    }

    func testBadFilesAreErrorsNamingTheFileAndLine() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("digits-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let notGzip = folder.appendingPathComponent("plain.csv.gz")
        try Data("1,2,3\n".utf8).write(to: notGzip)  // zlib reads uncompressed files transparently
        XCTAssertThrowsError(try DigitsDataset(contentsOf: notGzip)) { error in
            XCTAssertEqual("\(error)", "\(notGzip.path): line 1 is not 65 comma-separated integers")
        }
        let badLabel = folder.appendingPathComponent("label.csv.gz")
        try Data((Array(repeating: "0", count: 64) + ["12"]).joined(separator: ",").utf8).write(to: badLabel)
        XCTAssertThrowsError(try DigitsDataset(contentsOf: badLabel)) { error in
            XCTAssertEqual("\(error)", "\(badLabel.path): line 1 has label 12, not a digit 0…9")
        }
        XCTAssertThrowsError(try DigitsDataset(contentsOf: folder.appendingPathComponent("missing.csv.gz"))) { error in
            XCTAssertTrue("\(error)".hasSuffix("missing.csv.gz: no such file"), "\(error)")
        }
    }
}
