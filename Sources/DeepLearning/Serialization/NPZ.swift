import Foundation
import ZIPFoundation

/// NumPy's `.npz` format: a zip archive of `.npy` files, compressed with deflate like
/// `np.savez_compressed` (or stored like `np.savez`).
///
/// The seed's dataset cache is one: `maps_256.npz` with `arr_0` (satellite) and `arr_1` (map).
public enum NPZ {
    /// Writes the arrays as `<name>.npy` entries, atomically.
    public static func write(_ arrays: [(name: String, tensor: Tensor)], to url: URL, compressed: Bool = true) throws {
        let data: Data
        do {
            let archive = try Archive(data: Data(), accessMode: .create)
            for (name, tensor) in arrays {
                let bytes = NPY.encode(tensor)
                try archive.addEntry(with: name + ".npy", type: .file, uncompressedSize: Int64(bytes.count),
                                     compressionMethod: compressed ? .deflate : .none) { position, size in
                    bytes.subdata(in: Int(position)..<(Int(position) + size))
                }
            }
            guard let archived = archive.data else { throw SerializationError(file: url.path, "zip archive was not produced") }
            data = archived
        } catch let error as SerializationError {
            throw error
        } catch {
            throw SerializationError(file: url.path, "cannot build the zip archive (\(error))")
        }
        try writeAtomically(data, to: url)
    }

    /// Reads every array of an `.npz` file, keyed by name without `.npy`.
    public static func read(from url: URL) throws -> [String: Tensor] {
        try read(from: url, names: nil)
    }

    /// Reads the named arrays (all when `names` is nil).
    ///
    /// - Throws: `SerializationError` naming the file and the missing or corrupt array.
    public static func read(from url: URL, names: [String]?) throws -> [String: Tensor] {
        let data = try readFile(url)
        guard data.count >= 4, data.prefix(4) == Data([0x50, 0x4B, 0x03, 0x04]) || data.prefix(4) == Data([0x50, 0x4B, 0x05, 0x06]) else {
            throw SerializationError(file: url.path, "not an .npz file (not a zip archive)")
        }
        let archive: Archive
        do {
            archive = try Archive(data: data, accessMode: .read)
        } catch {
            throw SerializationError(file: url.path, "not a readable zip archive (\(error))")
        }
        var result: [String: Tensor] = [:]
        for entry in archive where entry.type == .file && entry.path.hasSuffix(".npy") {
            let name = String(entry.path.dropLast(4))
            if let names, !names.contains(name) { continue }
            // The declared size bounds what we accept, so a zip bomb cannot exhaust memory.
            let declared = Int(entry.uncompressedSize)
            guard declared <= maximumElementCount * 8 + (1 << 20), declared <= max(data.count, 1) * 1100 + (1 << 20) else {
                throw SerializationError(file: url.path, "entry \(entry.path) declares \(declared) bytes, implausibly large")
            }
            var bytes = Data()
            bytes.reserveCapacity(declared)
            do {
                _ = try archive.extract(entry, skipCRC32: false) { chunk in
                    guard bytes.count + chunk.count <= declared else {
                        throw SerializationError(file: url.path, "entry \(entry.path) is larger than it declares")
                    }
                    bytes.append(chunk)
                }
            } catch let error as SerializationError {
                throw error
            } catch {
                throw SerializationError(file: url.path, "entry \(entry.path) is corrupt (\(error))")
            }
            result[name] = try NPY.decode(bytes, source: "\(url.path)[\(entry.path)]")
        }
        if let names {
            for name in names where result[name] == nil {
                let present = archive.map { String($0.path.dropLast(4)) }.sorted().joined(separator: ", ")
                throw SerializationError(file: url.path, "no array '\(name)' (it has: \(present.isEmpty ? "nothing" : present))")
            }
        }
        return result
    }
}
