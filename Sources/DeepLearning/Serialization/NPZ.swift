import Foundation
import ZIPFoundation

/// NumPy's `.npz` format: a ZIP archive of `.npy` files, one per named array, as written by
/// `np.savez` (stored) and `np.savez_compressed` (deflate) and read by `np.load`.
///
/// Array `name` is the archive entry `name.npy`. Arrays are streamed: an array is decoded
/// chunk by chunk straight into its tensor, never held twice in memory, so a dataset cache
/// like the seed's `maps_256.npz` (`arr_0` satellite, `arr_1` map) loads in one pass.
public enum NPZ {
    /// Writes `arrays` to `url` as an `.npz` archive, atomically (see `writeAtomically(_:to:)`).
    ///
    /// - Parameters:
    ///   - arrays: Names (unique, non-empty) and tensors, stored in this order as `name.npy`.
    ///   - url: The file to write (replaced atomically if it exists).
    ///   - compressed: `true` (default) deflates like `np.savez_compressed`; `false` stores
    ///     like `np.savez`.
    public static func write(_ arrays: [(name: String, tensor: Tensor)], to url: URL, compressed: Bool = true) throws {
        var seen = Set<String>()
        for (name, _) in arrays {
            guard !name.isEmpty, seen.insert(name).inserted else {
                throw SerializationError(path: url.path, name.isEmpty ? "array names must not be empty" : "array name '\(name)' appears twice")
            }
        }
        try writeAtomically(to: url, producingFileAt: { temporaryURL in
            let archive = try Archive(url: temporaryURL, accessMode: .create)
            for (name, tensor) in arrays {
                let header = NPYHeader.encode(shape: tensor.shape)
                let total = header.count + tensor.count * MemoryLayout<Float>.size
                try archive.addEntry(with: name + ".npy", type: .file, uncompressedSize: Int64(total),
                                     compressionMethod: compressed ? .deflate : .none,
                                     bufferSize: 1 << 20) { position, size in
                    npyChunk(header: header, tensor: tensor, range: Int(position)..<(Int(position) + size))
                }
            }
        })
    }

    /// The bytes `range` of the `.npy` file made of `header` followed by `tensor`'s elements.
    private static func npyChunk(header: [UInt8], tensor: Tensor, range: Range<Int>) -> Data {
        var chunk = Data(capacity: range.count)
        if range.lowerBound < header.count {
            chunk.append(contentsOf: header[range.lowerBound..<min(range.upperBound, header.count)])
        }
        let dataRange = max(range.lowerBound - header.count, 0)..<(range.upperBound - header.count)
        if !dataRange.isEmpty {
            tensor.withUnsafeBufferPointer { elements in
                let bytes = UnsafeRawBufferPointer(elements)
                chunk.append(contentsOf: bytes[dataRange])
            }
        }
        return chunk
    }

    /// Reads every array of the `.npz` file at `url`, keyed by name (entry name minus `.npy`).
    ///
    /// - Throws: `SerializationError` naming the file (and entry) if it is missing, not a ZIP
    ///   archive, or holds an invalid `.npy`.
    public static func read(from url: URL) throws -> [String: Tensor] {
        try read(from: url, only: nil)
    }

    /// Reads only the arrays `names` from the `.npz` file at `url`; other entries are skipped
    /// without being decompressed.
    ///
    /// - Throws: `SerializationError` naming a requested array the archive lacks (and listing
    ///   those it has), or any error of `read(from:)`.
    public static func read(from url: URL, names: [String]) throws -> [String: Tensor] {
        try read(from: url, only: Set(names))
    }

    private static func read(from url: URL, only wanted: Set<String>?) throws -> [String: Tensor] {
        let path = url.path
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              let fileSize = (attributes[.size] as? NSNumber)?.intValue else {
            throw SerializationError(path: path, "no such file")
        }
        let archive: Archive
        do {
            archive = try Archive(url: url, accessMode: .read)
        } catch {
            throw SerializationError(path: path, "not a valid NPZ (ZIP) archive (\(error))")
        }
        var arrays: [String: Tensor] = [:]
        var available: [String] = []
        for entry in archive where entry.type == .file {
            let name = entry.path.hasSuffix(".npy") ? String(entry.path.dropLast(4)) : entry.path
            available.append(name)
            guard wanted?.contains(name) ?? true else { continue }
            guard arrays[name] == nil else { throw SerializationError(path: path, "array '\(name)' appears twice") }
            arrays[name] = try readEntry(entry, of: archive, source: "\(path) (\(entry.path))", fileSize: fileSize)
        }
        if let wanted {
            let missing = wanted.filter { arrays[$0] == nil }.sorted()
            guard missing.isEmpty else {
                throw SerializationError(path: path, "no array named \(missing.map { "'\($0)'" }.joined(separator: ", ")) (the archive has: \(available.joined(separator: ", ")))")
            }
        }
        return arrays
    }

    /// Decompresses one entry through an `NPYStreamDecoder`, checking sizes and the CRC.
    private static func readEntry(_ entry: Entry, of archive: Archive, source: String, fileSize: Int) throws -> Tensor {
        guard entry.compressedSize <= UInt64(fileSize), entry.uncompressedSize <= UInt64(Int.max / 2) else {
            throw SerializationError(path: source, "entry sizes (\(entry.compressedSize) compressed, \(entry.uncompressedSize) uncompressed) exceed the \(fileSize)-byte archive")
        }
        // Deflate expands at most ~1032:1, so anything claiming more is corrupt or a zip bomb.
        let maximumSize = entry.isCompressed ? Int(entry.compressedSize) * 1032 + 1024 : Int(entry.compressedSize)
        guard Int(entry.uncompressedSize) <= maximumSize else {
            throw SerializationError(path: source, "entry claims \(entry.uncompressedSize) bytes from \(entry.compressedSize) compressed bytes, which deflate cannot produce")
        }
        var decoder = NPYStreamDecoder(source: source, declaredSize: Int(entry.uncompressedSize))
        let checksum: CRC32
        do {
            checksum = try archive.extract(entry, bufferSize: 1 << 20) { chunk in try decoder.consume(chunk) }
        } catch let error as SerializationError {
            throw error
        } catch {
            throw SerializationError(path: source, "cannot decompress entry (\(error))")
        }
        let tensor = try decoder.finish()
        guard checksum == entry.checksum else {
            throw SerializationError(path: source, "CRC-32 mismatch (stored \(entry.checksum), computed \(checksum)): the archive is corrupt")
        }
        return tensor
    }
}

/// Decodes an `.npy` arriving in chunks. The header is buffered (at most
/// `NPYHeader.maximumHeaderLength`); float32 C-order data is then copied straight into the
/// tensor, other dtypes are collected and converted at the end.
struct NPYStreamDecoder {
    let source: String
    /// Total bytes the container says the `.npy` has; the header's shape must agree before
    /// anything is allocated.
    let declaredSize: Int
    private var headerBytes: [UInt8] = []
    private var header: NPYHeader?
    private var tensor: Tensor?
    private var rawData = Data()
    private var received = 0

    init(source: String, declaredSize: Int) {
        self.source = source
        self.declaredSize = declaredSize
    }

    mutating func consume(_ chunk: Data) throws {
        guard let header else {
            headerBytes.append(contentsOf: chunk)
            let offset = try headerBytes.withUnsafeBytes { try NPYHeader.dataOffset($0, source: source) }
            guard let offset, headerBytes.count >= offset else { return }
            try begin(with: headerBytes.withUnsafeBytes { try NPYHeader.parse($0, source: source) })
            let rest = Data(headerBytes[offset...])
            headerBytes = []
            try consume(rest)
            return
        }
        guard received + chunk.count <= header.dataByteCount else {
            throw NPY.dataLengthError(header, available: received + chunk.count, source: source)
        }
        if let tensor {
            chunk.withUnsafeBytes { bytes in
                UnsafeMutableRawPointer(tensor.storage.pointer).advanced(by: received).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
            }
        } else {
            rawData.append(chunk)
        }
        received += chunk.count
    }

    private mutating func begin(with parsed: NPYHeader) throws {
        guard parsed.dataOffset + parsed.dataByteCount == declaredSize else {
            throw NPY.dataLengthError(parsed, available: declaredSize - parsed.dataOffset, source: source)
        }
        header = parsed
        if parsed.elementType == .float32 && !parsed.fortranOrder {
            tensor = Tensor(uninitializedShape: parsed.shape)
        } else {
            rawData.reserveCapacity(parsed.dataByteCount)
        }
    }

    /// The decoded tensor; throws if the data ended before the header's shape was filled.
    mutating func finish() throws -> Tensor {
        guard let header else {
            throw SerializationError(path: source, "truncated NPY: \(headerBytes.count) bytes end inside the header")
        }
        guard received == header.dataByteCount else { throw NPY.dataLengthError(header, available: received, source: source) }
        if let tensor { return tensor }
        return rawData.withUnsafeBytes { NPY.decodeData($0, header: header) }
    }
}
