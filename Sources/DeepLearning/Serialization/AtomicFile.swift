import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes `data` to `url` atomically: a crash or error never leaves a half-written file
/// under the final name, and an existing file is replaced only once the new one is complete.
///
/// The bytes go to a temporary file in the same directory (so the rename stays on one file
/// system), which is `fsync`ed, renamed over `url`, and the directory is `fsync`ed so the
/// rename itself survives a power loss.
///
/// - Throws: `SerializationError` naming `url` if any step fails; the temporary file is removed.
public func writeAtomically(_ data: Data, to url: URL) throws {
    try writeAtomically(to: url) { writer in
        try data.withUnsafeBytes { try writer.write($0) }
    }
}

/// Streams bytes into the temporary file of an atomic write.
struct AtomicFileWriter {
    fileprivate let descriptor: Int32
    fileprivate let finalPath: String

    /// Appends `bytes`, retrying short writes and `EINTR`.
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard var pointer = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let written = posixWrite(descriptor, pointer, min(remaining, 1 << 30))
            if written < 0 {
                if errno == EINTR { continue }
                throw SerializationError(
                    path: finalPath,
                    "write failed (\(String(cString: strerror(errno)))); any previous version of the file is unchanged")
            }
            pointer += written
            remaining -= written
        }
    }

    /// Appends `bytes`.
    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Appends the raw little-endian bytes of a tensor's elements.
    func write(_ tensor: Tensor) throws {
        try tensor.withUnsafeBufferPointer { try write(UnsafeRawBufferPointer($0)) }
    }
}

/// `write(2)`, named apart from `AtomicFileWriter.write` so the call inside it resolves.
private func posixWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}

/// Atomic write whose content `body` streams through a writer (large tensors are written
/// straight from their storage, without building one `Data` of the whole file).
func writeAtomically(to url: URL, _ body: (AtomicFileWriter) throws -> Void) throws {
    try writeAtomically(
        to: url,
        producingFileAt: { temporaryURL in
            let descriptor = open(temporaryURL.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard descriptor >= 0 else {
                throw SerializationError(
                    path: url.path,
                    "cannot create temporary file in \(url.deletingLastPathComponent().path) (\(String(cString: strerror(errno))))"
                )
            }
            defer { close(descriptor) }
            try body(AtomicFileWriter(descriptor: descriptor, finalPath: url.path))
        })
}

/// Atomic write for content another library writes to a path (ZIPFoundation for NPZ):
/// `produce` creates the file at the temporary URL it is given; this function then
/// `fsync`s it, renames it over `url` and `fsync`s the directory.
func writeAtomically(to url: URL, producingFileAt produce: (URL) throws -> Void) throws {
    let directory = url.deletingLastPathComponent()
    let temporaryURL = directory.appendingPathComponent(
        ".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    var renamed = false
    defer { if !renamed { unlink(temporaryURL.path) } }
    do {
        try produce(temporaryURL)
    } catch let error as SerializationError {
        throw error
    } catch {
        throw SerializationError(path: url.path, "write failed (\((error as NSError).localizedDescription))")
    }
    try syncPath(temporaryURL.path, reportingAs: url.path)
    guard rename(temporaryURL.path, url.path) == 0 else {
        throw SerializationError(
            path: url.path, "cannot rename temporary file into place (\(String(cString: strerror(errno))))")
    }
    renamed = true
    // The new name is durable only once the directory entry is flushed too.
    try syncPath(directory.path, reportingAs: url.path)
}

/// `fsync`s a file or directory by path.
private func syncPath(_ path: String, reportingAs reportedPath: String) throws {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else {
        throw SerializationError(
            path: reportedPath, "cannot open \(path) to sync it (\(String(cString: strerror(errno))))")
    }
    defer { close(descriptor) }
    guard fsync(descriptor) == 0 else {
        throw SerializationError(path: reportedPath, "fsync of \(path) failed (\(String(cString: strerror(errno))))")
    }
}
