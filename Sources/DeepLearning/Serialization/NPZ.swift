import CDeflate
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
                throw SerializationError(
                    path: url.path,
                    name.isEmpty ? "array names must not be empty" : "array name '\(name)' appears twice")
            }
        }
        try writeAtomically(
            to: url,
            producingFileAt: { temporaryURL in
                let archive = try Archive(url: temporaryURL, accessMode: .create)
                for (name, tensor) in arrays {
                    let header = NPYHeader.encode(shape: tensor.shape)
                    let total = header.count + tensor.count * MemoryLayout<Float>.size
                    try archive.addEntry(
                        with: name + ".npy", type: .file, uncompressedSize: Int64(total),
                        compressionMethod: compressed ? .deflate : .none,
                        bufferSize: 1 << 20
                    ) { position, size in
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
            let fileSize = (attributes[.size] as? NSNumber)?.intValue
        else {
            throw SerializationError(path: path, "no such file")
        }
        let (data, entries) = try validateLayout(of: url, fileSize: fileSize)
        var arrays: [String: Tensor] = [:]
        var available: [String] = []
        for entry in entries where !entry.path.hasSuffix("/") {
            let name = entry.path.hasSuffix(".npy") ? String(entry.path.dropLast(4)) : entry.path
            available.append(name)
            guard wanted?.contains(name) ?? true else { continue }
            guard arrays[name] == nil else { throw SerializationError(path: path, "array '\(name)' appears twice") }
            arrays[name] = try readEntry(entry, in: data, source: "\(path) (\(entry.path))", fileSize: fileSize)
        }
        if let wanted {
            let missing = wanted.filter { arrays[$0] == nil }.sorted()
            guard missing.isEmpty else {
                throw SerializationError(
                    path: path,
                    "no array named \(missing.map { "'\($0)'" }.joined(separator: ", ")) (the archive has: \(available.joined(separator: ", ")))"
                )
            }
        }
        return arrays
    }

    /// Checks, before ZIPFoundation reads anything, that every entry's data lies inside the
    /// file: its local header (at the offset the central directory gives) must fit, and the
    /// data that follows it — placed by the local header's own name and extra-field lengths —
    /// must end within the file. ZIPFoundation trusts those numbers and, given an entry whose
    /// data starts past the end of the file, reads empty chunks for ever (found by fuzzing:
    /// a hang, `Fuzz/corpus`'s NPZ with a lying local header). ZIP64 entries (only written
    /// by numpy for arrays over 4 GiB) are rejected with a clear message.
    static func validateLayout(of url: URL, fileSize: Int, kind: String = "NPZ") throws -> (Data, [ZipEntry]) {
        let path = url.path
        guard let data = try? Data(contentsOf: url, options: .alwaysMapped) else {
            throw SerializationError(path: path, "cannot read file")
        }
        var found: [ZipEntry] = []
        func fail(_ problem: String) -> SerializationError {
            SerializationError(path: path, "not a valid \(kind) (ZIP) archive (\(problem))")
        }
        try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            func u16(_ at: Int) -> Int { Int(bytes.loadUnaligned(fromByteOffset: at, as: UInt16.self).littleEndian) }
            func u32(_ at: Int) -> Int { Int(bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self).littleEndian) }
            // End of central directory: 22 bytes plus a comment of at most 65,535 bytes.
            guard bytes.count >= 22 else { throw fail("shorter than a zip end record") }
            var end = -1
            var position = bytes.count - 22
            while position >= Swift.max(0, bytes.count - 22 - 65_535) {
                if u32(position) == 0x0605_4B50 { end = position; break }
                position -= 1
            }
            guard end >= 0 else { throw fail("no end-of-central-directory record") }
            let entries = u16(end + 10), directorySize = u32(end + 12), directoryOffset = u32(end + 16)
            guard directoryOffset != 0xFFFF_FFFF, entries != 0xFFFF else {
                throw fail("ZIP64 archives are not supported")
            }
            guard directoryOffset + directorySize <= end else { throw fail("central directory outside the file") }
            var cursor = directoryOffset
            for _ in 0..<entries {
                guard cursor + 46 <= end, u32(cursor) == 0x0201_4B50 else { throw fail("damaged central directory") }
                let compressedSize = u32(cursor + 20), uncompressedSize = u32(cursor + 24)
                let nameLength = u16(cursor + 28), extraLength = u16(cursor + 30), commentLength = u16(cursor + 32)
                let localOffset = u32(cursor + 42)
                guard compressedSize != 0xFFFF_FFFF, uncompressedSize != 0xFFFF_FFFF, localOffset != 0xFFFF_FFFF else {
                    throw fail("ZIP64 entries are not supported")
                }
                guard localOffset + 30 <= fileSize, u32(localOffset) == 0x0403_4B50 else {
                    throw fail("an entry's local header lies outside the file")
                }
                let dataStart = localOffset + 30 + u16(localOffset + 26) + u16(localOffset + 28)
                guard dataStart + compressedSize <= fileSize else {
                    throw fail(
                        "an entry's data (\(compressedSize) bytes at offset \(dataStart)) runs past the end of the \(fileSize)-byte file"
                    )
                }
                guard cursor + 46 + nameLength <= end else { throw fail("damaged central directory") }
                let name = String(
                    decoding: UnsafeRawBufferPointer(rebasing: bytes[(cursor + 46)..<(cursor + 46 + nameLength)]),
                    as: UTF8.self)
                found.append(
                    ZipEntry(
                        path: name, method: u16(cursor + 10), checksum: UInt32(u32(cursor + 16)),
                        compressedSize: compressedSize, uncompressedSize: uncompressedSize, dataStart: dataStart))
                cursor += 46 + nameLength + extraLength + commentLength
            }
        }
        return (data, found)
    }

    /// Decompresses one entry through an `NPYStreamDecoder`, checking sizes and the CRC.
    private static func readEntry(_ entry: ZipEntry, in data: Data, source: String, fileSize: Int) throws -> Tensor {
        var decoder = NPYStreamDecoder(source: source, declaredSize: entry.uncompressedSize)
        try streamEntry(entry, in: data, source: source, fileSize: fileSize) { try decoder.consume(Data($0)) }
        return try decoder.finish()
    }

    /// Feeds the decompressed bytes of one entry (stored or deflate) to `consume` in chunks,
    /// after checking its sizes against the archive, and checks its CRC-32 at the end.
    static func streamEntry(
        _ entry: ZipEntry, in data: Data, source: String, fileSize: Int,
        consume: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        guard entry.compressedSize <= fileSize, entry.uncompressedSize <= Int.max / 2 else {
            throw SerializationError(
                path: source,
                "entry sizes (\(entry.compressedSize) compressed, \(entry.uncompressedSize) uncompressed) exceed the \(fileSize)-byte archive"
            )
        }
        guard entry.method == 0 || entry.method == 8 else {
            throw SerializationError(
                path: source, "unsupported zip compression method \(entry.method) (only stored and deflate are read)")
        }
        // Deflate expands at most ~1032:1, so anything claiming more is corrupt or a zip bomb.
        let maximumSize = entry.method == 8 ? entry.compressedSize * 1032 + 1024 : entry.compressedSize
        guard entry.uncompressedSize <= maximumSize else {
            throw SerializationError(
                path: source,
                "entry claims \(entry.uncompressedSize) bytes from \(entry.compressedSize) compressed bytes, which deflate cannot produce"
            )
        }
        var checksum: UInt = 0
        try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            let start = bytes.baseAddress!.advanced(by: entry.dataStart)
            func emit(_ chunk: UnsafeRawBufferPointer) throws {
                guard !chunk.isEmpty else { return }
                checksum = crc32(checksum, chunk.bindMemory(to: Bytef.self).baseAddress, uInt(chunk.count))
                try consume(chunk)
            }
            if entry.method == 0 {
                var offset = 0
                while offset < entry.compressedSize {
                    let length = Swift.min(1 << 20, entry.compressedSize - offset)
                    try emit(UnsafeRawBufferPointer(start: start + offset, count: length))
                    offset += length
                }
                return
            }
            // Inflate exactly the entry's compressed bytes; a stream that has not ended when
            // they run out is an error (ZIPFoundation's Linux reader looped for ever there).
            var stream = z_stream()
            guard inflateInit2_(&stream, -MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
                throw SerializationError(path: source, "cannot initialise zlib")
            }
            defer { inflateEnd(&stream) }
            stream.next_in = UnsafeMutablePointer(mutating: start.assumingMemoryBound(to: Bytef.self))
            stream.avail_in = uInt(entry.compressedSize)
            let output = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
            defer { output.deallocate() }
            while true {
                stream.next_out = output.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.avail_out = uInt(output.count)
                let status = inflate(&stream, Z_NO_FLUSH)
                try emit(UnsafeRawBufferPointer(rebasing: output[0..<(output.count - Int(stream.avail_out))]))
                if status == Z_STREAM_END { break }
                guard status == Z_OK else {
                    let reason =
                        status == Z_BUF_ERROR
                        ? "the deflate stream is truncated" : "the deflate stream is corrupt (zlib \(status))"
                    throw SerializationError(path: source, "cannot decompress entry: \(reason)")
                }
            }
        }
        guard UInt32(truncatingIfNeeded: checksum) == entry.checksum else {
            throw SerializationError(
                path: source,
                "CRC-32 mismatch (stored \(entry.checksum), computed \(UInt32(truncatingIfNeeded: checksum))): the archive is corrupt"
            )
        }
    }
}

/// One entry of a zip central directory, as `NPZ` reads it.
struct ZipEntry {
    let path: String
    /// 0 = stored, 8 = deflate.
    let method: Int
    let checksum: UInt32
    let compressedSize: Int
    let uncompressedSize: Int
    /// Offset of the entry's data in the file (after its local header).
    let dataStart: Int
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
                UnsafeMutableRawPointer(tensor.storage.pointer).advanced(by: received).copyMemory(
                    from: bytes.baseAddress!, byteCount: bytes.count)
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
        guard received == header.dataByteCount else {
            throw NPY.dataLengthError(header, available: received, source: source)
        }
        if let tensor { return tensor }
        return rawData.withUnsafeBytes { NPY.decodeData($0, header: header) }
    }
}
