// Two gradients with respect to the input image, on the trained digits classifier:
//   FGSM (Goodfellow et al. 2015):  x′ = clip(x + ε·sign(∇ₓ loss(f(x), y)), 0, 1)
//   saliency (Simonyan et al. 2014): |∇ₓ f(x)_y|, the true class's logit
// Both make the images a leaf with `requiringGradient()` and ask `gradients(of:withRespectTo:)`
// for their gradient; the network's parameters are read as usual and get no gradient.
import DeepLearning

/// The classifier's accuracy and loss on one version of the test images.
public struct AttackOutcome: Codable, Equatable, Sendable {
    /// The perturbation's size ε in pixel units (pixels are 0…1); 0 for the clean images.
    public let epsilon: Float
    /// Fraction of the images classified correctly.
    public let accuracy: Float
    /// Mean cross-entropy.
    public let loss: Float
    /// The accuracy when each pixel moves by ε in a random direction instead (then clipped to
    /// 0…1): noise as large as the attack's, to tell the gradient's effect from the noise's.
    public let randomSignAccuracy: Float
}

/// sign(∇ₓ crossEntropy(model(x), labels)) for each image: the direction, per pixel, in which
/// the loss rises fastest to first order. `[N, 8, 8, 1]` of −1, 0 and 1.
///
/// Runs `model` as it is (call `setTraining(false)` first to attack the deployed network: batch
/// norm's running statistics, no dropout).
///
/// - Throws: `LabelError` when `labels` do not fit the logits; `GradientError` if the loss does not
///   depend on the images.
public func lossGradientSigns(of model: DigitsNet, images: Tensor, labels: [Int]) throws -> Tensor {
    let input = images.requiringGradient()
    let loss = try crossEntropy(model(input), labels: labels)
    let slope = try gradients(of: loss, withRespectTo: [input])[0]
    // The library has no sign op; the signs are a constant of the attack, so no gradient is lost.
    return Tensor(shape: slope.shape, scalars: slope.scalars.map { $0 > 0 ? 1 : $0 < 0 ? -1 : 0 })
}

/// FGSM adversarial images: `images + epsilon·signs`, clipped to the pixel range 0…1.
///
/// - Parameters:
///   - images: `[N, 8, 8, 1]`, pixels 0…1.
///   - signs: from `lossGradientSigns(of:images:labels:)`, shaped like `images`.
///   - epsilon: the largest change of any pixel (the L∞ radius).
public func fastGradientSignImages(_ images: Tensor, signs: Tensor, epsilon: Float) -> Tensor {
    (images + signs * epsilon).clamped(to: 0, 1)
}

/// |∂ logit of the true class / ∂ pixel| for each image (`[N, 8, 8, 1]`, ≥ 0): which pixels the
/// classifier's evidence for the right digit is most sensitive to.
///
/// - Throws: `GradientError` if the logits do not depend on the images.
public func saliencyMaps(of model: DigitsNet, images: Tensor, labels: [Int]) throws -> Tensor {
    let input = images.requiringGradient()
    let logits = model(input)  // [N, 10]
    let classes = logits.shape[1]
    var trueClass = [Float](repeating: 0, count: logits.count)
    for (row, label) in labels.enumerated() { trueClass[row * classes + label] = 1 }
    // Samples do not interact in evaluation mode, so the sum's gradient is each sample's own.
    let evidence = (logits * Tensor(shape: logits.shape, scalars: trueClass)).sum()
    return try gradients(of: evidence, withRespectTo: [input])[0].abs()
}

/// The accuracy and mean loss of `model` on the test images, clean (ε = 0, first) and under
/// FGSM at each of `epsilons`, with the accuracy under random signs of the same size (seeded by
/// `seed`). Puts `model` in evaluation mode.
///
/// - Throws: `LabelError` or `GradientError` as `lossGradientSigns(of:images:labels:)`.
public func attackDigits(
    model: DigitsNet, test: DigitsDataset, epsilons: [Float], seed: UInt64 = 0
) throws -> [AttackOutcome] {
    model.setTraining(false)
    let signs = try lossGradientSigns(of: model, images: test.images, labels: test.labels)
    var random = SeededGenerator(seed: seed)
    let randomSigns = Tensor(
        shape: signs.shape, scalars: (0..<signs.count).map { _ in Bool.random(using: &random) ? 1 : -1 })
    func measure(_ images: Tensor) throws -> (accuracy: Float, loss: Float) {
        let logits = withoutGradient { model(images) }
        return (accuracy(logits, labels: test.labels), try crossEntropy(logits, labels: test.labels).scalar)
    }
    return try ([0] + epsilons).map { epsilon in
        let attacked = try measure(fastGradientSignImages(test.images, signs: signs, epsilon: epsilon))
        let noisy = try measure(fastGradientSignImages(test.images, signs: randomSigns, epsilon: epsilon))
        return AttackOutcome(
            epsilon: epsilon, accuracy: attacked.accuracy, loss: attacked.loss, randomSignAccuracy: noisy.accuracy)
    }
}
