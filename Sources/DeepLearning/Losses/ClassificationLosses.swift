// Losses over integer class labels: cross-entropy on logits and the negative log-likelihood on
// log-probabilities, with PyTorch's class weights and label smoothing. Classes are the last axis
// (`[N, C]`, or `[N, H, W, C]` for per-pixel labels), as everywhere in this NHWC library;
// PyTorch puts them on axis 1.

/// A class label outside `0..<classes`, or a label list that does not fit the predictions.
public struct LabelError: Error, CustomStringConvertible, Equatable {
    /// What is wrong, naming the label, its position and the class count.
    public let message: String
    /// Creates the error.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Cross-entropy of `logits` against integer `labels` (PyTorch's `F.cross_entropy`):
/// `nllLoss(logSoftmax(logits), labels, …)`, with optional label smoothing.
///
/// With smoothing ε the target distribution is `(1 − ε)·onehot + ε/C`; with class weights `w`
/// each sample's terms are weighted by the weights of the classes involved, and `.mean` divides
/// by `Σᵢ w[labelᵢ]` (PyTorch's weighted mean), otherwise by the number of samples.
///
/// - Parameters:
///   - logits: `[…, C]`: one row of C unnormalised scores per sample (any leading shape).
///   - labels: one class index in `0..<C` per row, in row-major order of the leading axes.
///   - weights: `[C]` per-class weights, or `nil` (the default) for 1.
///   - labelSmoothing: ε in [0, 1], default 0.
///   - reduction: `.mean` (default), `.sum`, or `.none` for per-sample losses shaped like the
///     leading axes.
/// - Throws: `LabelError` naming the first label outside `0..<C`, or when the number of labels
///   is not the number of rows; `ShapeError` for weights that are not `[C]`.
/// - Returns: a scalar (or the per-sample losses), differentiable w.r.t. `logits`.
public func crossEntropy(
    _ logits: Tensor, labels: [Int], weights: Tensor? = nil, labelSmoothing: Float = 0,
    reduction: Reduction = .mean
) throws -> Tensor {
    precondition(logits.rank >= 1, "crossEntropy: logits must have a class axis; got \(describeShape(logits.shape))")
    precondition(
        labelSmoothing >= 0 && labelSmoothing <= 1, "crossEntropy: labelSmoothing \(labelSmoothing) is not in [0, 1]")
    try validate(
        labels, rows: logits.count / Swift.max(logits.shape[logits.rank - 1], 1),
        classes: logits.shape[logits.rank - 1], weights: weights, function: "crossEntropy")
    return weightedNegativeLogLikelihood(
        logits.logSoftmax(), labels: labels, weights: weights, smoothing: labelSmoothing, reduction: reduction)
}

/// The negative log-likelihood of integer `labels` under `logProbabilities` (PyTorch's
/// `F.nll_loss`): `−w[y]·log p[y]` per row, `.mean` dividing by `Σᵢ w[labelᵢ]`.
///
/// - Parameters:
///   - logProbabilities: `[…, C]`, e.g. from `logSoftmax`.
///   - labels: one class index in `0..<C` per row.
///   - weights: `[C]` per-class weights, or `nil` for 1.
///   - reduction: `.mean` (default), `.sum` or `.none`.
/// - Throws: `LabelError` or `ShapeError` as `crossEntropy`.
public func nllLoss(
    _ logProbabilities: Tensor, labels: [Int], weights: Tensor? = nil, reduction: Reduction = .mean
) throws -> Tensor {
    precondition(
        logProbabilities.rank >= 1,
        "nllLoss: log-probabilities must have a class axis; got \(describeShape(logProbabilities.shape))")
    let classes = logProbabilities.shape[logProbabilities.rank - 1]
    try validate(
        labels, rows: logProbabilities.count / Swift.max(classes, 1), classes: classes, weights: weights,
        function: "nllLoss")
    return weightedNegativeLogLikelihood(
        logProbabilities, labels: labels, weights: weights, smoothing: 0, reduction: reduction)
}

/// The fraction of rows of `logits` (`[…, C]`) whose largest score is at the row's label.
public func accuracy(_ logits: Tensor, labels: [Int]) -> Float {
    let predicted = logits.argmax()
    precondition(
        predicted.count == labels.count,
        "accuracy: \(labels.count) labels for \(predicted.count) rows of \(describeShape(logits.shape))")
    guard !labels.isEmpty else { return 0 }
    return Float(zip(predicted, labels).filter { $0 == $1 }.count) / Float(labels.count)
}

private func validate(_ labels: [Int], rows: Int, classes: Int, weights: Tensor?, function: String) throws {
    guard labels.count == rows else {
        throw LabelError("\(function): \(labels.count) labels for \(rows) rows of \(classes) classes")
    }
    if let index = labels.firstIndex(where: { $0 < 0 || $0 >= classes }) {
        throw LabelError("\(function): label \(labels[index]) at position \(index) is outside 0..<\(classes)")
    }
    if let weights, weights.shape != [classes] {
        throw ShapeError("\(function): class weights \(describeShape(weights.shape)) must be [\(classes)]")
    }
}

/// Σᵢ [(1 − ε)·w[yᵢ]·(−lp[i, yᵢ]) + (ε/C)·Σ_c w[c]·(−lp[i, c])], divided by Σᵢ w[yᵢ] for
/// `.mean`: PyTorch's weighted, label-smoothed NLL, as one op on the log-probabilities.
private func weightedNegativeLogLikelihood(
    _ logProbabilities: Tensor, labels: [Int], weights: Tensor?, smoothing: Float, reduction: Reduction
) -> Tensor {
    let classes = logProbabilities.shape[logProbabilities.rank - 1], rows = labels.count
    let w = weights?.scalars ?? [Float](repeating: 1, count: classes)
    let spread = smoothing / Float(Swift.max(classes, 1))
    var perRow = [Float](repeating: 0, count: rows)
    logProbabilities.withPointer { lp in
        for i in 0..<rows {
            let row = lp + i * classes
            var smooth: Float = 0
            if spread != 0 { for c in 0..<classes { smooth -= w[c] * row[c] } }
            perRow[i] = -(1 - smoothing) * w[labels[i]] * row[labels[i]] + spread * smooth
        }
    }
    let denominator: Float
    switch reduction {
    case .mean: denominator = labels.reduce(Float(0)) { $0 + w[$1] }
    case .sum, .none: denominator = 1
    }
    let output =
        reduction == .none
        ? Tensor(shape: Array(logProbabilities.shape.dropLast()), scalars: perRow)
        : Tensor(Float(perRow.reduce(0.0) { $0 + Double($1) }) / denominator)
    let shape = logProbabilities.shape
    return Tensor.recording(output, inputs: [logProbabilities]) { gradient, _ in
        if GradientMode.isRecording {
            // Linear in the log-probabilities: ∂ = the per-element weights times ∂loss, recorded.
            let weights = Tensor(shape: shape, repeating: 0)
            weights.withPointer { dx in
                for i in 0..<rows {
                    let row = dx + i * classes
                    for c in 0..<classes { row[c] = -spread * w[c] / denominator }
                    row[labels[i]] -= (1 - smoothing) * w[labels[i]] / denominator
                }
            }
            return [weights * (reduction == .none ? gradient.reshaped(to: gradient.shape + [1]) : gradient)]
        }
        let inputGradient = Tensor(uninitializedShape: shape)
        let upstream = gradient.scalars
        inputGradient.withPointer { dx in
            for i in 0..<rows {
                let g = (reduction == .none ? upstream[i] : upstream[0]) / denominator
                let row = dx + i * classes
                for c in 0..<classes { row[c] = -g * spread * w[c] }
                row[labels[i]] -= g * (1 - smoothing) * w[labels[i]]
            }
        }
        return [inputGradient]
    }
}
