import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes `data` to `url` so that a crash at any moment leaves either the old file or the new
/// one, never a mixture: write a temporary file in the same directory, fsync it, rename it
/// over the target (atomic on POSIX file systems), then fsync the directory so the rename
/// itself is durable.
///
/// - Throws: `SerializationError` naming the file; the previous file is then untouched.
public func writeAtomically(_ data: Data, to url: URL) throws {
    let directory = url.deletingLastPathComponent()
    let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
    guard descriptor >= 0 else {
        throw SerializationError(file: url.path, "cannot create a file in \(directory.path) (\(String(cString: strerror(errno))))")
    }
    var failure: String?
    data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
        var offset = 0
        while offset < bytes.count {
            let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                failure = "write failed (\(String(cString: strerror(errno))))"
                return
            }
            offset += written
        }
    }
    if failure == nil && fsync(descriptor) != 0 { failure = "fsync failed (\(String(cString: strerror(errno))))" }
    close(descriptor)
    if failure == nil && rename(temporary.path, url.path) != 0 {
        failure = "cannot replace the file (\(String(cString: strerror(errno))))"
    }
    if let failure {
        unlink(temporary.path)
        throw SerializationError(file: url.path, failure)
    }
    let directoryDescriptor = open(directory.path, O_RDONLY)
    if directoryDescriptor >= 0 {
        fsync(directoryDescriptor)
        close(directoryDescriptor)
    }
}

/// Reads a whole file, memory-mapped when possible, with an error naming it.
func readFile(_ url: URL) throws -> Data {
    do {
        return try Data(contentsOf: url, options: .alwaysMapped)
    } catch {
        let reason = FileManager.default.fileExists(atPath: url.path) ? "cannot be read" : "no such file"
        throw SerializationError(file: url.path, reason)
    }
}

/// Multiplies sizes, returning `nil` on overflow or when the product passes `limit`.
func checkedProduct(_ values: [Int], limit: Int = Int.max) -> Int? {
    var product = 1
    for value in values {
        guard value >= 0 else { return nil }
        let (result, overflow) = product.multipliedReportingOverflow(by: value)
        if overflow || result > limit { return nil }
        product = result
    }
    return product
}
