import ArgumentParser
import DeepLearning
import Foundation
import TensorBoard

/// `digits`: trains the small CNN classifier on the UCI handwritten digits (`digits train`, the
/// default) or attacks it with adversarial examples (`digits adversarial`).
public struct DigitsCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "digits",
        abstract: "Train a small CNN on the 1,797 UCI handwritten digits (8×8) and report test accuracy.",
        discussion: """
            Every fifth image (359) is held out for testing; the other 1,438 train the network \
            (conv-BN-ReLU ×3 with max pooling, then two Linear layers) with Adam and a cosine \
            learning-rate decay, cross-entropy on the 10 classes. With no subcommand, `train` runs.
            """,
        subcommands: [Train.self, Adversarial.self],
        defaultSubcommand: Train.self)

    public init() {}

    /// `digits train`: trains and prints the test accuracy and confusion matrix.
    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train the classifier and print its test accuracy and confusion matrix.")

        @OptionGroup var training: TrainingOptions

        func run() throws {
            let started = Date()
            let (result, test) = try training.train()
            print(
                String(
                    format: "test accuracy %.2f%% (%d of %d) in %.1f s", result.testAccuracy * 100,
                    Int((result.testAccuracy * Float(test.count)).rounded()), test.count,
                    Date().timeIntervalSince(started)))
            print(confusionTable(result.confusion))
        }
    }
}

/// The options that train the classifier, shared by `digits train` and `digits adversarial`.
struct TrainingOptions: ParsableArguments {
    @Option(help: "Passes over the training images.")
    var epochs = 15
    @Option(name: .customLong("batch-size"), help: "Images per step.")
    var batchSize = 32
    @Option(name: .customLong("learning-rate"), help: "Adam's initial learning rate.")
    var learningRate: Float = 1e-3
    @Option(help: "Seed for weights, dropout and shuffling.")
    var seed: UInt64 = 0
    @Option(help: "A digits.csv.gz other than the bundled one.")
    var data: String?
    @Option(
        help:
            "Log each epoch's loss and accuracies to TensorBoard event files in this folder (`tensorboard --logdir DIR`)."
    )
    var tensorboard: String?

    /// The recipe these options give.
    var recipe: DigitsRecipe {
        DigitsRecipe(epochs: epochs, batchSize: batchSize, learningRate: learningRate, seed: seed)
    }

    func validate() throws {
        guard epochs > 0, batchSize > 0, learningRate > 0 else {
            throw ValidationError("--epochs, --batch-size and --learning-rate must be positive")
        }
    }

    /// Loads the data, checks the memory a run needs, trains with a progress bar per epoch, and
    /// returns the result with the test set it was measured on.
    func train() throws -> (result: DigitsResult, test: DigitsDataset) {
        let dataset = try DigitsDataset(contentsOf: data.map { URL(fileURLWithPath: $0) } ?? DigitsDataset.bundledFile)
        let (train, test) = dataset.split()
        print("training on \(train.count) digits, testing on \(test.count)")
        let memory = digitsMemory(recipe: recipe, testCount: test.count), budget = MemoryBudget.current()
        guard memory.total <= budget.bytes else {
            throw DigitsError(
                "digits: --batch-size \(batchSize) needs \(memory), and this process may use \(budget); lower --batch-size"
            )
        }
        print("memory: training needs \(memory); this process may use \(budget)")
        let board = try tensorboard.map { try SummaryWriter(logDirectory: URL(fileURLWithPath: $0)) }
        try board?.addHyperparameters([
            "epochs": .number(Double(epochs)), "batch_size": .number(Double(batchSize)),
            "learning_rate": .number(Double(learningRate)), "seed": .number(Double(seed)),
        ])
        var logError: Error?
        let result = try trainDigits(train: train, test: test, recipe: recipe) { epoch, loss, accuracy in
            do {
                try board?.addScalar("loss/train", loss, step: epoch)
                try board?.addScalar("accuracy/train", accuracy, step: epoch)
            } catch {
                logError = logError ?? error
            }
            let width = 24, filled = width * epoch / epochs
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            print(
                String(
                    format: "%@ epoch %2d/%d  loss %.4f  train accuracy %.2f%%", bar, epoch, epochs, loss,
                    accuracy * 100))
            fflush(stdout)
        }
        if let logError { throw logError }
        try board?.addScalar("accuracy/test", result.testAccuracy, step: epochs)
        return (result, test)
    }
}
