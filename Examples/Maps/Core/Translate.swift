import ArgumentParser
import DeepLearning
import Foundation
import Imaging
import Pix2Pix

/// `maps translate`: satellite images → maps with a trained run.
public struct Translate: ParsableCommand {
    public static let configuration = CommandConfiguration(
        abstract: "Translate an image or a folder of images with a trained run; writes PNGs.",
        discussion: """
            Any size works: the generator is fully convolutional, and sides that are not a multiple of \
            2^depth are resized to the next multiple and back. A 2:1 side-by-side dataset file is \
            recognised with --side-by-side (its source half is translated).
            """)

    @Option(name: .shortAndLong, help: "Run folder written by `maps train`.")
    var checkpoint: String
    @Option(name: .shortAndLong, help: "An image, or a folder of .jpg/.png images.")
    var input: String
    @Option(name: .shortAndLong, help: "Folder for the translated PNGs.")
    var output: String
    @Option(help: "paper (dropout and batch statistics, as pix2pix) or deterministic (eval mode).")
    var mode: String = "paper"
    @Flag(
        name: .customLong("side-by-side"),
        help: "Inputs are A|B pairs: translate the source half (per the run's direction).")
    var sideBySide = false

    public init() {}

    public func validate() throws {
        guard InferenceMode(rawValue: mode) != nil else {
            throw ValidationError("--mode must be paper or deterministic")
        }
    }

    public func run() throws {
        let run = RunDirectory(url: URL(fileURLWithPath: checkpoint))
        let (generator, options) = try run.loadGenerator()
        let inputURL = URL(fileURLWithPath: input)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: inputURL.path, isDirectory: &isDirectory) else {
            throw MapsError("\(inputURL.path): no such file or directory")
        }
        let files: [URL]
        if isDirectory.boolValue {
            files = ((try? FileManager.default.contentsOfDirectory(atPath: inputURL.path)) ?? []).sorted()
                .filter { ["jpg", "jpeg", "png"].contains(($0 as NSString).pathExtension.lowercased()) }
                .map { inputURL.appendingPathComponent($0) }
            guard !files.isEmpty else {
                throw MapsError("\(inputURL.path): directory holds no .jpg, .jpeg or .png images")
            }
        } else {
            files = [inputURL]
        }
        let outputURL = URL(fileURLWithPath: output)
        try FileManager.default.createDirectory(at: outputURL, withIntermediateDirectories: true)
        let direction = Direction(rawValue: options.direction) ?? .aToB
        for file in files {
            var image = try loadImage(at: file)
            if sideBySide {
                let (h, w) = (image.shape[0], image.shape[1])
                guard w == 2 * h else {
                    throw MapsError("\(file.path): image is \(w)×\(h), expected a 2:1 side-by-side pair")
                }
                image = crop(image, top: 0, left: direction == .aToB ? 0 : h, height: h, width: h)
            }
            let translated = translateImage(
                image, generator: generator, multiple: options.sizeMultiple,
                mode: InferenceMode(rawValue: mode)!)
            let target = outputURL.appendingPathComponent(file.deletingPathExtension().lastPathComponent + ".png")
            try saveImage(translated, to: target)
            say("\(file.lastPathComponent) → \(target.path)")
        }
    }
}

/// Translates one `[H, W, 3]` 0…255 image of any size; returns `[H, W, 3]` 0…255.
func translateImage(_ image: Tensor, generator: Layer, multiple: Int, mode: InferenceMode) -> Tensor {
    let (h, w) = (image.shape[0], image.shape[1])
    let (ph, pw) = ((h + multiple - 1) / multiple * multiple, (w + multiple - 1) / multiple * multiple)
    let input = ph == h && pw == w ? image : resize(image, height: ph, width: pw)
    var output = generator.translate(toUnitRange(input), mode: mode)
    if ph != h || pw != w { output = resize(output, height: h, width: w) }
    return fromUnitRange(output)
}
