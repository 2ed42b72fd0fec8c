import DeepLearning
import Foundation

/// The training recipe of the digits example (the PyTorch twin in Tools/digits uses the same).
public struct DigitsRecipe: Codable, Equatable, Sendable {
    /// Passes over the training set (default 15).
    public var epochs = 15
    /// Images per step (default 32).
    public var batchSize = 32
    /// Adam's learning rate (default 1e-3, β = (0.9, 0.999)), decayed by cosine to 0.
    public var learningRate: Float = 1e-3
    /// Seeds the weights, dropout and shuffling (default 0).
    public var seed: UInt64 = 0

    public init(epochs: Int = 15, batchSize: Int = 32, learningRate: Float = 1e-3, seed: UInt64 = 0) {
        (self.epochs, self.batchSize, self.learningRate, self.seed) = (epochs, batchSize, learningRate, seed)
    }
}

/// What one training run produced.
public struct DigitsResult {
    /// The trained network.
    public let model: DigitsNet
    /// Fraction of the test images classified correctly.
    public let testAccuracy: Float
    /// `confusion[true][predicted]` counts on the test set.
    public let confusion: [[Int]]
    /// Mean training loss of each epoch.
    public let epochLosses: [Float]
}

/// The peak memory of `trainDigits` with `recipe` and `testCount` test images, estimated before
/// training from probes on a fresh net (`MemoryProfile`): training steps at batch
/// min(batch size, 16) and twice that, scaled to the recipe's batch, and the closing evaluation,
/// which runs the whole test set as one batch (inference at batches 16 and 32, scaled). The
/// larger of the two; the dataset is loaded already, so it is part of the memory held between
/// steps.
public func digitsMemory(recipe: DigitsRecipe, testCount: Int) -> MemoryEstimate {
    let model = DigitsNet()
    let optimizer = Adam(for: model, learningRate: recipe.learningRate)
    let first = Swift.min(recipe.batchSize, 16)
    let batches = recipe.batchSize > first ? [first, 2 * first] : [first]
    let training = MemoryProfile.measuring(parameters: model.parameters, probeElements: batches) { probe in
        let images = Tensor.zeros([batches[probe], 8, 8, 1])
        if let loss = try? crossEntropy(model(images), labels: [Int](repeating: 0, count: batches[probe])) {
            loss.backward()
            optimizer.update()
        }
    }
    model.setTraining(false)
    let evaluation = MemoryProfile.measuring(parameters: [], probeElements: [16, 32]) { probe in
        _ = withoutGradient { model(Tensor.zeros([16 << probe, 8, 8, 1])) }
    }
    let step = training.estimate(elements: recipe.batchSize, data: 0)
    let test = evaluation.estimate(elements: testCount, data: 0)
    return test.total > step.total ? test : step
}

/// Trains `DigitsNet` on `train` with `recipe` and measures it on `test`; `progress` is called
/// after every epoch with (epoch, mean loss, training accuracy).
public func trainDigits(
    train: DigitsDataset, test: DigitsDataset, recipe: DigitsRecipe,
    progress: (Int, Float, Float) -> Void = { _, _, _ in }
) throws -> DigitsResult {
    RandomState.seed(recipe.seed)
    let model = DigitsNet()
    let optimizer = Adam(for: model, learningRate: recipe.learningRate)
    let stepsPerEpoch = (train.count + recipe.batchSize - 1) / recipe.batchSize
    let schedule = CosineDecay(base: recipe.learningRate, totalSteps: recipe.epochs * stepsPerEpoch)
    // A fresh permutation per epoch from the seed (torch.utils.data's RandomSampler with a
    // seeded generator); 8×8 images need no background workers.
    let loader = DataLoader(
        train, batchSize: recipe.batchSize, sampler: RandomSampler(count: train.count, seed: recipe.seed &+ 1),
        collate: DigitsDataset.collate)
    var epochLosses: [Float] = []
    for epoch in 0..<recipe.epochs {
        model.setTraining(true)
        var lossSum = 0.0, correct = 0, step = 0
        let batches = try loader.epoch(epoch)
        while let batch = try batches.next() {
            optimizer.learningRate = schedule.learningRate(at: epoch * stepsPerEpoch + step)
            let logits = model(batch.images)
            let loss = try crossEntropy(logits, labels: batch.labels)
            loss.backward()
            optimizer.update()
            lossSum += Double(loss.scalar) * Double(batch.count)
            correct += zip(logits.argmax(), batch.labels).filter { $0 == $1 }.count
            step += 1
        }
        epochLosses.append(Float(lossSum / Double(train.count)))
        progress(epoch + 1, epochLosses.last!, Float(correct) / Float(train.count))
    }
    model.setTraining(false)
    let predicted = withoutGradient { model(test.images) }.argmax()
    var confusion = [[Int]](repeating: [Int](repeating: 0, count: 10), count: 10)
    for (truth, guess) in zip(test.labels, predicted) { confusion[truth][guess] += 1 }
    let hits = zip(test.labels, predicted).filter { $0 == $1 }.count
    return DigitsResult(
        model: model, testAccuracy: Float(hits) / Float(Swift.max(test.count, 1)), confusion: confusion,
        epochLosses: epochLosses)
}

/// The confusion matrix as text: rows are the true digits, columns the predicted ones.
public func confusionTable(_ confusion: [[Int]]) -> String {
    var lines = ["true\\pred " + (0..<10).map { String(format: "%4d", $0) }.joined()]
    for (digit, row) in confusion.enumerated() {
        lines.append(String(format: "%9d ", digit) + row.map { String(format: "%4d", $0) }.joined())
    }
    return lines.joined(separator: "\n")
}
