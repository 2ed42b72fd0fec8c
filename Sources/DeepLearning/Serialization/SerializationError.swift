import Foundation

/// A file (or in-memory buffer) that cannot be read or written: truncated, corrupt, hostile,
/// of an unsupported dtype, or not matching the model it is loaded into.
///
/// The description always starts with the file, then the problem:
/// `maps_256.npz (arr_1.npy): shape [3, 256, 256] needs 786432 bytes of '<f4' data but 1024 follow the header`.
public struct SerializationError: Error, CustomStringConvertible, Equatable {
    /// The file path, or for in-memory data the `source` name the caller gave.
    public var path: String
    /// What is wrong, without the path.
    public var message: String

    /// Creates an error about `path`.
    public init(path: String, _ message: String) {
        self.path = path
        self.message = message
    }

    /// `"<path>: <message>"`.
    public var description: String { "\(path): \(message)" }
}

extension SerializationError: LocalizedError {
    /// Same as `description`, so `localizedDescription` shows the path and problem.
    public var errorDescription: String? { description }
}

/// Product of `shape` times `itemSize`, or `nil` if a dimension is negative or the product
/// overflows. Every reader calls this before allocating, so a header claiming a
/// `[1 << 40, 1 << 40]` array fails cleanly instead of trapping.
package func checkedByteCount(shape: [Int], itemSize: Int) -> Int? {
    var total = itemSize
    for dimension in shape {
        guard dimension >= 0 else { return nil }
        let (product, overflow) = total.multipliedReportingOverflow(by: dimension)
        guard !overflow else { return nil }
        total = product
    }
    return total
}

/// Reads a whole file, memory-mapped when possible, turning Foundation's error into a
/// `SerializationError` that names the file.
func readFileData(_ url: URL) throws -> Data {
    do {
        return try Data(contentsOf: url, options: .alwaysMapped)
    } catch {
        let reason = (error as NSError).localizedDescription
        throw SerializationError(path: url.path, "cannot read file (\(reason))")
    }
}
