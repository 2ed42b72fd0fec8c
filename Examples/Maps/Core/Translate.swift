import ArgumentParser
import DeepLearning
import Foundation
import Imaging
import KerasHDF5
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
    var checkpoint: String?
    @Option(
        name: .customLong("pytorch-checkpoint"),
        help:
            "Instead of a run: a generator saved by junyanz's pytorch-CycleGAN-and-pix2pix (latest_net_G.pth: unet_256, unet_128, resnet_9blocks, resnet_6blocks), read without Python."
    )
    var pytorchCheckpoint: String?
    @Option(
        name: .customLong("keras-model"),
        help:
            "Instead of a run: the seed's Keras generator saved as HDF5 (model_109600.h5), read through libhdf5 without TensorFlow."
    )
    var kerasModel: String?
    @Option(name: .shortAndLong, help: "An image, or a folder of .jpg/.png images.")
    var input: String
    @Option(name: .shortAndLong, help: "Folder for the translated PNGs.")
    var output: String
    @Option(help: "paper (dropout and batch statistics, as pix2pix) or deterministic (eval mode).")
    var mode = InferenceMode.paper
    @Flag(
        name: .customLong("side-by-side"),
        help: "Inputs are A|B pairs: translate the source half (per the run's direction).")
    var sideBySide = false

    public init() {}

    public func validate() throws {
        guard [checkpoint, pytorchCheckpoint, kerasModel].compactMap({ $0 }).count == 1 else {
            throw ValidationError(
                "give exactly one of --checkpoint RUN_DIR, --pytorch-checkpoint FILE and --keras-model FILE")
        }
    }

    /// The generator, the multiple its input sides must be, and which half of a pair is the
    /// source. Keras and PyTorch checkpoints are the seed's and junyanz's AtoB models.
    private func loadGenerator() throws -> (generator: Layer, multiple: Int, direction: Direction) {
        if let checkpoint {
            let (generator, options) = try RunDirectory(url: URL(fileURLWithPath: checkpoint)).loadGenerator()
            return (generator, options.sizeMultiple, options.direction)
        }
        let generator: Layer
        if let kerasModel {
            let url = URL(fileURLWithPath: kerasModel)
            let layers = try KerasModelFile(contentsOf: url).layers.map { ($0.name, $0.weights.map(\.tensor)) }
            generator = try UNetGenerator.fromKeras(layers, source: url.path)
        } else if let pytorchCheckpoint {
            generator = try pix2pixGenerator(pytorchCheckpoint: URL(fileURLWithPath: pytorchCheckpoint))
        } else {
            throw ValidationError(
                "give exactly one of --checkpoint RUN_DIR, --pytorch-checkpoint FILE and --keras-model FILE")
        }
        let multiple = GeneratorArchitecture.inputSideMultiple(
            unetDepth: (generator as? UNetGenerator)?.configuration.depth)
        return (generator, multiple, .aToB)
    }

    public func run() throws {
        let (generator, multiple, direction) = try loadGenerator()
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
        let memory = translationMemory(generator, multiple: multiple, mode: mode)
        let outputURL = URL(fileURLWithPath: output)
        try FileManager.default.createDirectory(at: outputURL, withIntermediateDirectories: true)
        let start = DispatchTime.now().uptimeNanoseconds
        let translated = try translatePipelined(
            files,
            decode: { file in
                var image = try loadImage(at: file)
                if sideBySide {
                    let (h, w) = (image.shape[0], image.shape[1])
                    guard w == 2 * h else {
                        throw MapsError("\(file.path): image is \(w)×\(h), expected a 2:1 side-by-side pair")
                    }
                    image = crop(image, top: 0, left: direction == .aToB ? 0 : h, height: h, width: h)
                }
                let (h, w) = (image.shape[0], image.shape[1])
                try requireMemory(
                    memory(h, w), within: MemoryBudget.current(), command: "maps translate",
                    for: "\(file.path) (\(w)×\(h))", largestFitting: nil, lower: "the image's size")
                return image
            },
            translate: { image in
                translateImage(image, generator: generator, multiple: multiple, mode: mode)
            },
            encode: { file, image in
                let target = outputURL.appendingPathComponent(file.deletingPathExtension().lastPathComponent + ".png")
                try saveImage(image, to: target)
                say("\(file.lastPathComponent) → \(target.path)")
            })
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        say(
            String(
                format: "translated %d image%@ in %.2f s (%.2f images/s)", translated, translated == 1 ? "" : "s",
                seconds, Double(translated) / seconds))
    }
}

/// Runs `decode`, `translate` and `encode` over `files` as a three-stage pipeline: one thread
/// decodes up to two images ahead, the calling thread translates (the generator's own kernels
/// use all cores), one thread resizes and encodes the finished images, so the JPEG decoding and
/// PNG encoding of neighbouring images overlap the forward passes. Images are translated and
/// written in order. The first error (a file that does not decode, a write that fails) stops
/// the pipeline after the images before it are written, and is rethrown. Returns how many
/// images were written.
func translatePipelined(
    _ files: [URL], decode: @escaping (URL) throws -> Tensor, translate: (Tensor) -> Tensor,
    encode: @escaping (URL, Tensor) throws -> Void
) throws -> Int {
    let decoded = Handoff<(URL, Tensor)>(capacity: 2), finished = Handoff<(URL, Tensor)>(capacity: 2)
    let failure = FirstError()
    let decoderDone = DispatchSemaphore(value: 0)
    let decoder = Thread {
        for file in files {
            do {
                guard decoded.put((file, try decode(file))) else { break }
            } catch {
                failure.record(error)
                break
            }
        }
        decoded.close()
        decoderDone.signal()
    }
    final class Count: @unchecked Sendable { var value = 0 }  // the encoder's; read after it is done
    let written = Count()
    let encoderDone = DispatchSemaphore(value: 0)
    let encoder = Thread {
        while let (file, image) = finished.take() {
            do {
                try encode(file, image)
                written.value += 1
            } catch {
                failure.record(error)
                finished.close()
                decoded.close()
                break
            }
        }
        encoderDone.signal()
    }
    decoder.start()
    encoder.start()
    // Every image decoded before a decoding failure is still translated and written; a
    // failed write closes `finished`, which stops this loop.
    while let (file, image) = decoded.take() {
        guard finished.put((file, translate(image))) else { break }
    }
    decoded.close()  // stops the decoder early after a failed write
    finished.close()
    encoderDone.wait()
    decoderDone.wait()
    if let error = failure.error { throw error }
    return written.value
}

/// A bounded first-in first-out queue between two threads. `put` blocks while it is full and
/// `take` while it is empty; after `close`, `put` refuses (returns false) and `take` returns
/// what is left, then nil.
final class Handoff<Element>: @unchecked Sendable {  // guarded by `condition`
    private let condition = NSCondition()
    private var items: [Element] = []
    private var closed = false
    private let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    func put(_ item: Element) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while items.count >= capacity && !closed { condition.wait() }
        guard !closed else { return false }
        items.append(item)
        condition.broadcast()
        return true
    }

    func take() -> Element? {
        condition.lock()
        defer { condition.unlock() }
        while items.isEmpty && !closed { condition.wait() }
        guard !items.isEmpty else { return nil }
        condition.broadcast()
        return items.removeFirst()
    }

    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}

/// The first error any stage of a pipeline met.
final class FirstError: @unchecked Sendable {  // guarded by `lock`
    private let lock = NSLock()
    private var first: Error?

    var error: Error? { lock.withLock { first } }

    func record(_ error: Error) { lock.withLock { if first == nil { first = error } } }
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
