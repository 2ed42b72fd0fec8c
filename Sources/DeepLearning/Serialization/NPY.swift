import Foundation

/// NumPy's `.npy` format: one array per file, readable with `np.load`.
///
/// Writing always produces format 1.0, dtype `'<f4'`, C order — what `np.save` writes for a
/// float32 array. Reading accepts float16/32/64, int8–64, uint8–64 and bool (converted to
/// `Float`), C or Fortran order, format versions 1.0–3.0. Big-endian, object (pickled) and
/// structured dtypes are rejected with a `SerializationError`.
///
/// Every size in the header is checked against the bytes actually present before anything
/// is allocated, so a corrupt or hostile file throws instead of trapping or exhausting memory.
public enum NPY {
    /// The complete `.npy` file for `tensor`: header, then the elements little-endian.
    public static func encode(_ tensor: Tensor) -> Data {
        var data = Data(NPYHeader.encode(shape: tensor.shape))
        tensor.withUnsafeBufferPointer { data.append(contentsOf: UnsafeRawBufferPointer($0)) }
        return data
    }

    /// Decodes a complete `.npy` file held in memory.
    ///
    /// - Parameters:
    ///   - bytes: The file's contents.
    ///   - source: Names the data in error messages (a path, or `"archive.npz (arr_0.npy)"`).
    /// - Throws: `SerializationError` if the data is not a valid `.npy` of a supported dtype,
    ///   or if its length differs from what the header's shape requires.
    public static func decode(_ bytes: Data, source: String) throws -> Tensor {
        try bytes.withUnsafeBytes { raw in
            let header = try NPYHeader.parse(raw, source: source)
            let available = raw.count - header.dataOffset
            guard available == header.dataByteCount else {
                throw dataLengthError(header, available: available, source: source)
            }
            return decodeData(UnsafeRawBufferPointer(rebasing: raw[header.dataOffset...]), header: header)
        }
    }

    /// Writes `tensor` to `url` as an `.npy` file, atomically (see `writeAtomically(_:to:)`).
    public static func write(_ tensor: Tensor, to url: URL) throws {
        try writeAtomically(to: url) { file in
            try file.write(NPYHeader.encode(shape: tensor.shape))
            try file.write(tensor)
        }
    }

    /// Reads the array in the `.npy` file at `url`, converted to `Float`.
    ///
    /// - Throws: `SerializationError` naming the file if it is missing, unreadable or invalid.
    public static func read(from url: URL) throws -> Tensor {
        try decode(readFileData(url), source: url.path)
    }

    static func dataLengthError(_ header: NPYHeader, available: Int, source: String) -> SerializationError {
        SerializationError(
            path: source,
            "shape \(describeShape(header.shape)) of \(header.elementType) needs \(header.dataByteCount) data bytes but \(available) follow the header"
        )
    }

    /// Converts validated data bytes (exactly `header.dataByteCount`) to a C-order tensor.
    static func decodeData(_ data: UnsafeRawBufferPointer, header: NPYHeader) -> Tensor {
        // Fortran order is the C-order layout of the reversed shape; read it so, then transpose.
        let storedShape = header.fortranOrder ? Array(header.shape.reversed()) : header.shape
        let tensor = Tensor(uninitializedShape: storedShape)
        if let base = data.baseAddress {
            header.elementType.convert(base, count: tensor.count, to: tensor.storage.pointer)
        }
        guard header.fortranOrder, header.shape.count > 1 else { return tensor }
        return tensor.permutedWithoutRecording(Array((0..<storedShape.count).reversed()))
    }
}
