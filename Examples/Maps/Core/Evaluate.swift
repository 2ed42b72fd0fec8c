import ArgumentParser
import DeepLearning
import Foundation
import Imaging
import Pix2Pix

/// `maps evaluate`: the model's metrics on a dataset, next to two baselines.
public struct Evaluate: ParsableCommand {
    public static let configuration = CommandConfiguration(
        abstract: "Pixel accuracy, RMSE, PSNR and SSIM of a trained run vs the identity and mean-colour baselines.")

    @Option(name: .shortAndLong, help: "Run folder written by `maps train`.")
    var checkpoint: String
    @Option(name: .shortAndLong, help: "Dataset folder (its val/ split is used when present) or NPZ.")
    var data: String
    @Option(help: "Evaluate at most this many pairs.")
    var limit: Int?
    @Option(help: "paper (dropout and batch statistics) or deterministic.")
    var mode = InferenceMode.paper
    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    public init() {}

    public func run() throws {
        let run = RunDirectory(url: URL(fileURLWithPath: checkpoint))
        let report = try evaluate(run: run, data: data, limit: limit, mode: mode)
        if json {
            say(String(decoding: try metricsJSON(report, pretty: false), as: UTF8.self))
        } else {
            say(report.table)
        }
    }
}

/// Evaluates a run on the validation split of `data`, writes RUN_DIR/metrics.json and refreshes the report.
func evaluate(run: RunDirectory, data path: String, limit: Int?, mode: InferenceMode) throws -> EvaluationReport {
    let (generator, options) = try run.loadGenerator()
    let data = try MapsData(path: path, imageSize: options.imageSize, direction: options.direction)
    let count = Swift.min(limit ?? Int.max, data.validation.count)
    guard count > 0 else { throw MapsError("\(path): no pairs to evaluate") }
    // Mean-colour baseline: the average target colour of (up to 64) training pairs.
    var colorSum = [Double](repeating: 0, count: 3)
    let colorPairs = Swift.min(64, data.train.count)
    for index in 0..<colorPairs {
        let target = fromUnitRange(try data.train.pair(at: index).target).scalars
        for (i, v) in target.enumerated() { colorSum[i % 3] += Double(v) }
    }
    let pixelsPerImage = Double(options.imageSize * options.imageSize) * Double(colorPairs)
    let meanColor = colorSum.map { Float($0 / Swift.max(pixelsPerImage, 1)) }
    var model: [ImageMetrics] = [], identity: [ImageMetrics] = [], flat: [ImageMetrics] = []
    for index in 0..<count {
        let pair = resized(try data.validation.pair(at: index), to: options.imageSize)
        let target = fromUnitRange(pair.target), source = fromUnitRange(pair.source)
        let generated = translateImage(source, generator: generator, multiple: options.sizeMultiple, mode: mode)
        model.append(try ImageMetrics(predictions: generated, targets: target))
        identity.append(try ImageMetrics(predictions: source, targets: target))
        let constant = Tensor(shape: target.shape, scalars: (0..<target.count).map { meanColor[$0 % 3] })
        flat.append(try ImageMetrics(predictions: constant, targets: target))
    }
    let report = EvaluationReport(
        model: .combined(model), identity: .combined(identity), meanColor: .combined(flat),
        mode: mode.rawValue, data: "\(count) pairs of \(path)")
    try writeAtomically(try metricsJSON(report), to: run.metrics)
    try Report.write(run: run, options: options)
    return report
}

/// Metrics as JSON, keys sorted, an infinite PSNR (identical images) as "inf": metrics.json
/// (`pretty`) or one line for `--json`.
func metricsJSON<Metrics: Encodable>(_ metrics: Metrics, pretty: Bool = true) throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys] : [.sortedKeys]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(
        positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return try encoder.encode(metrics)
}
