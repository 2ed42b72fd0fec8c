import DeepLearning
import Foundation
import Imaging
import SwiftProtobuf

// TensorBoard event files (PyTorch's `torch.utils.tensorboard.SummaryWriter`, Keras's
// `TensorBoard` callback): one `Event` protocol buffer per record (Generated/summary.pb.swift,
// from Tools/tensorboard/summary.proto), framed as TFRecords — the length as a little-endian
// UInt64, its masked CRC32C, the bytes, their masked CRC32C. TensorBoard reads every file named
// `*tfevents*` in a folder.

/// Writes scalars, images, histograms and text to a TensorBoard event file in a folder.
///
/// ```swift
/// let writer = try SummaryWriter(logDirectory: runFolder.appendingPathComponent("tensorboard"))
/// try writer.addScalar("loss/generator", 0.42, step: 10)
/// try writer.addImage("samples", grid, step: 10)          // [H, W, 3] in 0…1
/// try writer.flush()
/// ```
///
/// Every record goes to the file as it is added (one `write`), so a crash loses at most the
/// record being written; TensorBoard skips a truncated last record. A run resumed at step s
/// opens a writer with `purgeStep: s`: readers then drop what the interrupted run had logged at
/// steps ≥ s (TensorBoard's restart purge), so no step appears twice.
public final class SummaryWriter {
    /// The folder (TensorBoard's `--logdir`, or a run under it).
    public let directory: URL
    /// This writer's event file in it.
    public let file: URL
    private let handle: FileHandle

    /// Creates the folder if needed and a new event file in it.
    ///
    /// - Parameters:
    ///   - logDirectory: the folder.
    ///   - purgeStep: when resuming at this step, readers discard earlier events at steps ≥ it
    ///     (PyTorch's `purge_step`); nil (the default) for a new run.
    /// - Throws: `SummaryWriterError` naming the folder when it cannot be created or written.
    public init(logDirectory: URL, purgeStep: Int? = nil) throws {
        directory = logDirectory
        do {
            try FileManager.default.createDirectory(at: logDirectory, withIntermediateDirectories: true)
        } catch {
            throw SummaryWriterError(
                "\(logDirectory.path): cannot create the TensorBoard log folder (\(error.localizedDescription))")
        }
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "host"
        var name = "", counter = 0
        repeat {
            name = "events.out.tfevents.\(Int(Date().timeIntervalSince1970)).\(host).\(getpid()).\(counter)"
            counter += 1
        } while FileManager.default.fileExists(atPath: logDirectory.appendingPathComponent(name).path)
        file = logDirectory.appendingPathComponent(name)
        guard FileManager.default.createFile(atPath: file.path, contents: nil),
            let handle = FileHandle(forWritingAtPath: file.path)
        else {
            throw SummaryWriterError("\(logDirectory.path): cannot write the TensorBoard log folder (creating \(name))")
        }
        self.handle = handle
        var version = Tensorboard_Event()
        version.wallTime = Date().timeIntervalSince1970
        version.fileVersion = "brain.Event:2"
        try write(version)
        if let purgeStep {
            var start = Tensorboard_Event()
            start.wallTime = Date().timeIntervalSince1970
            start.step = Int64(purgeStep)
            start.sessionLog.status = .start
            try write(start)
        }
    }

    deinit { try? handle.close() }

    /// A scalar (TensorBoard's Scalars tab).
    public func addScalar(_ tag: String, _ value: Float, step: Int) throws {
        var entry = Tensorboard_Summary.Value()
        entry.tag = tag
        entry.simpleValue = value
        try write([entry], step: step)
    }

    /// An image (the Images tab), stored as PNG.
    ///
    /// - Parameter image: `[H, W, 3]` (RGB) or `[H, W, 1]` (gray), values in 0…1 (clamped).
    public func addImage(_ tag: String, _ image: Tensor, step: Int) throws {
        guard image.rank == 3, [1, 3].contains(image.shape[2]) else {
            throw SummaryWriterError("addImage(\(tag)): needs [H, W, 3] or [H, W, 1] in 0…1, got \(image.shape)")
        }
        try addImage(
            tag, png: try encodeImage(image * 255, format: .png), height: image.shape[0], width: image.shape[1],
            channels: image.shape[2], step: step)
    }

    /// An image already encoded as PNG (no second copy of a large picture).
    ///
    /// - Parameters:
    ///   - png: the PNG file's bytes.
    ///   - height, width: its size.
    ///   - channels: 3 (RGB, the default) or 1 (gray).
    public func addImage(_ tag: String, png: Data, height: Int, width: Int, channels: Int = 3, step: Int) throws {
        var picture = Tensorboard_Summary.Image()
        picture.height = Int32(height)
        picture.width = Int32(width)
        picture.colorspace = Int32(channels)
        picture.encodedImageString = png
        var entry = Tensorboard_Summary.Value()
        entry.tag = tag
        entry.image = picture
        try write([entry], step: step)
    }

    /// A histogram of `values` (the Histograms and Distributions tabs) in `bins` equal buckets
    /// between their minimum and maximum (default 30). NaN and infinities are left out.
    public func addHistogram(_ tag: String, _ values: Tensor, step: Int, bins: Int = 30) throws {
        precondition(bins >= 1, "addHistogram: bins \(bins) must be ≥ 1")
        let finite = values.scalars.filter(\.isFinite).map(Double.init)
        var histogram = Tensorboard_HistogramProto()
        if let low = finite.min(), let high = finite.max() {
            let width = (high - low) / Double(bins)
            var counts = [Double](repeating: 0, count: bins)
            for value in finite {
                let bin = width > 0 ? Swift.min(bins - 1, Int((value - low) / width)) : 0
                counts[bin] += 1
            }
            histogram.min = low
            histogram.max = high
            histogram.num = Double(finite.count)
            histogram.sum = finite.reduce(0, +)
            histogram.sumSquares = finite.reduce(0) { $0 + $1 * $1 }
            histogram.bucketLimit = (1...bins).map { $0 == bins ? high : low + Double($0) * width }
            histogram.bucket = counts
        }
        var entry = Tensorboard_Summary.Value()
        entry.tag = tag
        entry.histo = histogram
        try write([entry], step: step)
    }

    /// Text (the Text tab; Markdown is rendered).
    public func addText(_ tag: String, _ text: String, step: Int) throws {
        var tensor = Tensorboard_TensorProto()
        tensor.dtype = .dtString
        var dimension = Tensorboard_TensorShapeProto.Dim()
        dimension.size = 1
        tensor.tensorShape.dim = [dimension]
        tensor.stringVal = [Data(text.utf8)]
        var entry = Tensorboard_Summary.Value()
        entry.tag = tag
        entry.metadata.pluginData.pluginName = "text"
        entry.tensor = tensor
        try write([entry], step: step)
    }

    /// The run's hyperparameters for TensorBoard's HParams tab (PyTorch's `add_hparams`, Keras's
    /// `hp.hparams`): the tab lists each run's values next to its scalars.
    public func addHyperparameters(_ values: [String: HyperparameterValue], step: Int = 0) throws {
        var start = Tensorboard_SessionStartInfo()
        start.startTimeSecs = Date().timeIntervalSince1970
        for (name, value) in values {
            var entry = Google_Protobuf_Value()
            switch value {
            case .number(let number): entry.numberValue = number
            case .string(let string): entry.stringValue = string
            case .bool(let bool): entry.boolValue = bool
            }
            start.hparams[name] = entry
        }
        var data = Tensorboard_HParamsPluginData()
        data.version = 0
        data.sessionStartInfo = start
        var entry = Tensorboard_Summary.Value()
        entry.tag = "_hparams_/session_start_info"
        entry.metadata.pluginData.pluginName = "hparams"
        entry.metadata.pluginData.content = try data.serializedData()
        try write([entry], step: step)
    }

    /// Forces what was written to the disk (fsync).
    public func flush() throws {
        do { try handle.synchronize() } catch {
            throw SummaryWriterError("\(file.path): cannot flush the TensorBoard log (\(error.localizedDescription))")
        }
    }

    private func write(_ values: [Tensorboard_Summary.Value], step: Int) throws {
        var event = Tensorboard_Event()
        event.wallTime = Date().timeIntervalSince1970
        event.step = Int64(step)
        event.summary.value = values
        try write(event)
    }

    private func write(_ event: Tensorboard_Event) throws {
        let payload = try event.serializedData()
        var record = Data(capacity: payload.count + 16)
        var length = UInt64(payload.count).littleEndian
        let lengthBytes = withUnsafeBytes(of: &length) { Data($0) }
        record.append(lengthBytes)
        record.appendLittleEndian(maskedCRC32C(lengthBytes))
        record.append(payload)
        record.appendLittleEndian(maskedCRC32C(payload))
        do { try handle.write(contentsOf: record) } catch {
            throw SummaryWriterError("\(file.path): cannot write the TensorBoard log (\(error.localizedDescription))")
        }
    }
}

/// A hyperparameter's value: TensorBoard's HParams tab takes numbers, strings and booleans.
public enum HyperparameterValue: Equatable, Sendable {
    case number(Double)
    case string(String)
    case bool(Bool)
}

/// A TensorBoard log that cannot be created or written, naming the folder or file.
public struct SummaryWriterError: Error, CustomStringConvertible {
    /// What failed, naming the path.
    public let description: String
    init(_ description: String) { self.description = description }
}

extension Data {
    fileprivate mutating func appendLittleEndian(_ value: UInt32) {
        var little = value.littleEndian
        Swift.withUnsafeBytes(of: &little) { append(contentsOf: $0) }
    }
}

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) masked as TFRecords mask it:
/// rotated right by 15 bits plus 0xA282EAD8.
func maskedCRC32C(_ data: Data) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in data { crc = crc32cTable[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
    crc = ~crc
    return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
}

private let crc32cTable: [UInt32] = (0..<256).map { index in
    var crc = UInt32(index)
    for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
    return crc
}
