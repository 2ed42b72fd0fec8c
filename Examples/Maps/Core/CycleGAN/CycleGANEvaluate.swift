import ArgumentParser
import DeepLearning
import Foundation
import Imaging
import Pix2Pix

/// `maps cyclegan evaluate`: both directions' metrics on the aligned test pairs.
public struct CycleGANEvaluate: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Pixel accuracy, RMSE, PSNR and SSIM of both directions on testA/ and testB/ (paired by file name).",
        discussion: """
            A → B (satellite → map) is the direction GcGAN's pixel accuracy was defined for; B → A \
            is measured the same way. Each direction is shown next to the identity baseline (the \
            input itself as the prediction). With --predictions, scores translations made elsewhere \
            (DIR/AtoB/NAME.png from testA/NAME, DIR/BtoA/NAME.png from testB/NAME: a PyTorch run's, \
            say) with the same code.
            """)

    @Option(name: .shortAndLong, help: "Run folder written by `maps cyclegan train`.")
    var checkpoint: String?
    @Option(name: .shortAndLong, help: "Unpaired dataset folder with testA/ and testB/ (default: the run's).")
    var data: String?
    @Option(help: "Score the PNGs in DIR/AtoB and DIR/BtoA instead of translating with a run.")
    var predictions: String?
    @Option(help: "Evaluate at most this many pairs.")
    var limit: Int?
    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    public init() {}

    public func validate() throws {
        guard (checkpoint == nil) != (predictions == nil) else {
            throw ValidationError("give exactly one of --checkpoint RUN_DIR and --predictions DIR")
        }
        if predictions != nil && data == nil { throw ValidationError("--predictions needs --data") }
        if let limit, limit <= 0 { throw ValidationError("--limit must be positive, not \(limit)") }
    }

    public func run() throws {
        let evaluation: CycleGANEvaluation
        if let checkpoint {
            evaluation = try evaluateCycleGAN(
                run: CycleGANRunDirectory(url: URL(fileURLWithPath: checkpoint)), data: data, limit: limit)
        } else {
            evaluation = try scorePredictions(
                URL(fileURLWithPath: predictions!), data: try UnpairedMapsData(path: data!), limit: limit)
        }
        if json {
            say(String(decoding: try metricsJSON(evaluation, pretty: false), as: UTF8.self))
        } else {
            say(evaluation.table)
        }
    }
}

/// Both directions' metrics and their identity baselines, as RUN_DIR/metrics.json holds them.
struct CycleGANEvaluation: Codable {
    /// G_A(testA) against testB, and testA itself against testB.
    var aToB: ImageMetrics, identityAToB: ImageMetrics
    /// G_B(testB) against testA, and testB itself against testA.
    var bToA: ImageMetrics, identityBToA: ImageMetrics
    /// What was measured ("12 pairs of DIR").
    var data: String

    var rows: [(String, ImageMetrics)] {
        [
            ("A → B (G_A)", aToB), ("  identity", identityAToB), ("B → A (G_B)", bToA),
            ("  identity", identityBToA),
        ]
    }

    var table: String { metricsTable(rows) }
}

/// Measures `predict` on every test pair: each direction against the other side of the pair.
private func measure(
    _ pairs: [(a: URL, b: URL)], description: String,
    load: (URL) throws -> Tensor, predict: (_ input: Tensor, _ file: URL, _ towardsB: Bool) throws -> Tensor
) throws -> CycleGANEvaluation {
    var forward: [ImageMetrics] = [], backward: [ImageMetrics] = []
    var identityForward: [ImageMetrics] = [], identityBackward: [ImageMetrics] = []
    for (fileA, fileB) in pairs {
        let a = try load(fileA), b = try load(fileB)
        /// `prediction` against `target`, resized to the prediction's size when they differ.
        func metrics(_ prediction: Tensor, _ target: Tensor) throws -> ImageMetrics {
            try ImageMetrics(
                predictions: prediction,
                targets: target.shape == prediction.shape
                    ? target : resize(target, height: prediction.shape[0], width: prediction.shape[1]))
        }
        forward.append(try metrics(try predict(a, fileA, true), b))
        backward.append(try metrics(try predict(b, fileB, false), a))
        identityForward.append(try metrics(a, b))
        identityBackward.append(try metrics(b, a))
    }
    return CycleGANEvaluation(
        aToB: .combined(forward), identityAToB: .combined(identityForward), bToA: .combined(backward),
        identityBToA: .combined(identityBackward), data: description)
}

/// Evaluates a run on the test pairs of `data` (the run's data when nil), writes
/// RUN_DIR/metrics.json and refreshes the report.
func evaluateCycleGAN(run: CycleGANRunDirectory, data path: String?, limit: Int?) throws -> CycleGANEvaluation {
    let (generatorA, generatorB, options) = try run.loadGenerators()
    let data = try UnpairedMapsData(path: path ?? options.data)
    let pairs = Array(try data.testPairs().prefix(limit ?? Int.max))
    let evaluation = try measure(
        pairs, description: "\(pairs.count) test pairs of \(data.root.path) at \(options.imageSize)²",
        load: { try loadRGB($0, size: options.imageSize) },
        predict: { image, _, towardsB in
            translateImage(image, generator: towardsB ? generatorA : generatorB, multiple: 4, mode: .deterministic)
        })
    try writeAtomically(try metricsJSON(evaluation), to: run.metrics)
    try CycleGANReport.write(run: run, options: options)
    return evaluation
}

/// Scores translations made elsewhere: `folder/AtoB/NAME.png` against testB's NAME and
/// `folder/BtoA/NAME.png` against testA's, at the predictions' size.
func scorePredictions(_ folder: URL, data: UnpairedMapsData, limit: Int?) throws -> CycleGANEvaluation {
    let pairs = Array(try data.testPairs().prefix(limit ?? Int.max))
    return try measure(
        pairs, description: "\(pairs.count) test pairs of \(data.root.path), predictions from \(folder.path)",
        load: { try loadRGB($0) },
        predict: { _, file, towardsB in
            let url = folder.appendingPathComponent(towardsB ? "AtoB" : "BtoA")
                .appendingPathComponent(file.deletingPathExtension().lastPathComponent + ".png")
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw MapsError("\(url.path): missing; --predictions needs a PNG for every test pair")
            }
            return try loadRGB(url)
        })
}
