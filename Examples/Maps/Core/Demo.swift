import ArgumentParser
import Foundation
import Pix2Pix

/// `maps` / `maps demo`: the whole pipeline in one command on built-in synthetic data.
public struct Demo: ParsableCommand {
    public static let configuration = CommandConfiguration(
        abstract:
            "The whole pipeline on synthetic data: synthesize, train a small pix2pix, evaluate, report (default).",
        discussion: """
            Trains a smaller configuration than the paper's so it finishes in minutes on 2 cores: \
            128×128 images, U-Net depth 7 (unet_128) with 32 base filters, a 3-layer (70×70) \
            PatchGAN with 32 filters, λ = 100, Adam 2e-4/0.5, batch 1.
            """)

    @Option(name: .shortAndLong, help: "Folder for the dataset and the run.")
    var output: String = "maps-demo"
    @Option(name: .shortAndLong, help: "Use this dataset instead of synthesizing one.")
    var data: String?
    @Option(help: "Training steps.")
    var steps: Int = 1500
    @Option(name: .customLong("image-size"), help: "Training image side, a multiple of 128 (the U-Net's 2^7).")
    var imageSize: Int = 128
    @Option(help: "Training pairs to synthesize.")
    var count: Int = 100
    @Option(help: "Random seed for weights, dropout and shuffling.")
    var seed: UInt64 = 42
    @Option(help: "Matrix products (as `maps train --precision`).")
    var precision = PrecisionOption.fp32

    public init() {}

    public func validate() throws {
        let multiple = GeneratorArchitecture.unet.inputSideMultiple(depth: 7)
        guard imageSize > 0, imageSize % multiple == 0 else {
            throw ValidationError(
                "--image-size \(imageSize) must be a positive multiple of \(multiple) (the demo's U-Net of depth 7)")
        }
    }

    public func run() throws {
        if let ranks = ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"].flatMap(Int.init), ranks > 1 {
            throw MapsError(
                "maps demo runs in one process (every rank would write the same dataset); under mpirun use maps train")
        }
        let root = URL(fileURLWithPath: output)
        let start = Date()
        let dataPath: String
        if let data {
            dataPath = data
        } else {
            let folder = root.appendingPathComponent("data")
            if FileManager.default.fileExists(atPath: folder.appendingPathComponent("train").path) {
                say("using the synthetic dataset already in \(folder.path)")
            } else {
                try synthesizeDataset(at: folder, train: count, validation: 12, seed: 1, tileSize: 600)
            }
            dataPath = folder.path
        }
        let run = RunDirectory(url: root.appendingPathComponent("run"))
        let options = RunOptions(
            data: dataPath, imageSize: imageSize, jitter: false, seed: seed, depth: 7, ngf: 32, ndf: 32,
            discriminatorLayers: 3, epochs: 1000, steps: steps,
            sampleEvery: Swift.max(steps / 10, 1), checkpointEvery: Swift.max(steps / 5, 1),
            precision: precision)
        let resume = FileManager.default.fileExists(atPath: run.checkpoint.path)
        try train(run: run, options: options, resume: resume)
        let report = try evaluate(run: run, data: dataPath, limit: nil, mode: .paper)
        say("\n" + report.table)
        say(
            String(
                format: "\ndemo finished in %@. Open %@", ProgressBar.duration(Date().timeIntervalSince(start)),
                run.report.path))
    }
}
