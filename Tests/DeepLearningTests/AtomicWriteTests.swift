@testable import DeepLearning
import Foundation
import XCTest

final class AtomicWriteTests: XCTestCase {
    func testWritingOverAnExistingFileReplacesItAndLeavesNoTemporaryFiles() throws {
        let directory = try serializationTemporaryDirectory(self)
        let url = directory.appendingPathComponent("x.bin")
        try writeAtomically(Data("old".utf8), to: url)
        try writeAtomically(Data("new contents".utf8), to: url)
        XCTAssertEqual(try Data(contentsOf: url), Data("new contents".utf8))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["x.bin"])
    }

    func testFailedWriteLeavesTheOldFileIntact() throws {
        let directory = try serializationTemporaryDirectory(self)
        let url = directory.appendingPathComponent("model.npy")
        try NPY.write(Tensor([1, 2]), to: url)
        // A write that fails half-way (duplicate name found only by NPZ's validation, and a
        // producer that throws after writing bytes) must not touch the existing file.
        struct Interrupted: Error {}
        XCTAssertThrowsError(
            try writeAtomically(to: url) { file in
                try file.write([1, 2, 3])
                throw Interrupted()
            })
        assertSerializedBitExact(try NPY.read(from: url), Tensor([1, 2]))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["model.npy"])
    }

    func testUnwritableDirectoryThrowsNamingTheFileAndKeepsTheOldOne() throws {
        let directory = try serializationTemporaryDirectory(self)
        let url = directory.appendingPathComponent("keep.npz")
        try NPZ.write([("arr_0", Tensor([7]))], to: url)
        try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: directory.path)
        defer { try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory.path) }
        if getuid() == 0 {
            // root ignores directory permissions; a missing directory still exercises the error path.
            let missing = directory.appendingPathComponent("no/such/dir/x.npy")
            assertSerializationError(
                try NPY.write(Tensor([1]), to: missing), mentioning: "cannot create temporary file", path: missing.path)
            assertSerializationError(
                try NPZ.write([("arr_0", Tensor([8]))], to: missing), mentioning: "write failed", path: missing.path)
        } else {
            assertSerializationError(try NPZ.write([("arr_0", Tensor([8]))], to: url), mentioning: "", path: url.path)
            assertSerializationError(
                try NPY.write(Tensor([8]), to: url), mentioning: "cannot create temporary file", path: url.path)
        }
        assertSerializedBitExact(try NPZ.read(from: url)["arr_0"], Tensor([7]))
    }
}
