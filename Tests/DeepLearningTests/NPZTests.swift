@testable import DeepLearning
import Foundation
import XCTest

final class NPZTests: XCTestCase {
    let arrays: [(name: String, tensor: Tensor)] = [
        ("arr_0", serializationRamp([2, 3, 4])), ("arr_1", serializationRamp([5]) * 2),
        ("empty", Tensor.zeros([0, 2])),
    ]

    func testRoundTripCompressedAndStoredIsBitExact() throws {
        let directory = try serializationTemporaryDirectory(self)
        for compressed in [true, false] {
            let url = directory.appendingPathComponent("a\(compressed).npz")
            try NPZ.write(arrays, to: url, compressed: compressed)
            let loaded = try NPZ.read(from: url)
            XCTAssertEqual(Set(loaded.keys), ["arr_0", "arr_1", "empty"])
            for (name, tensor) in arrays { assertSerializedBitExact(loaded[name], tensor) }
        }
        let compressedSize =
            try FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent("atrue.npz").path)[.size]
            as! Int
        let storedSize =
            try FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent("afalse.npz").path)[.size]
            as! Int
        XCTAssertLessThan(compressedSize, storedSize, "compressed: true must deflate")
    }

    func testReadsNumPySavezAndSavezCompressed() throws {
        for name in ["compressed.npz", "stored.npz"] {
            let loaded = try NPZ.read(from: serializationFixture(name))
            XCTAssertEqual(Set(loaded.keys), ["arr_0", "arr_1"], name)
            assertSerializedBitExact(loaded["arr_0"], serializationRamp([2, 3, 4]))
            assertSerializedBitExact(
                loaded["arr_1"], Tensor(shape: [3, 2, 2], scalars: (0..<12).map { 255 - Float($0) }))
        }
    }

    func testReadingSelectedNamesSkipsOthersAndNamesTheMissingOne() throws {
        let url = serializationFixture("compressed.npz")
        let only = try NPZ.read(from: url, names: ["arr_1"])
        XCTAssertEqual(Array(only.keys), ["arr_1"])
        assertSerializationError(
            try NPZ.read(from: url, names: ["arr_0", "arr_2"]),
            mentioning: "no array named 'arr_2' (the archive has: arr_0, arr_1)", path: url.path)
    }

    func testRejectsDuplicateNames() throws {
        let url = try serializationTemporaryDirectory(self).appendingPathComponent("d.npz")
        assertSerializationError(
            try NPZ.write([("a", Tensor(1)), ("a", Tensor(2))], to: url), mentioning: "appears twice", path: url.path)
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
    }

    func testCorruptArchivesThrowInsteadOfTrapping() throws {
        let directory = try serializationTemporaryDirectory(self)
        let good = try Data(contentsOf: serializationFixture("compressed.npz"))
        let stored = try Data(contentsOf: serializationFixture("stored.npz"))
        var flipped = stored
        flipped[flipped.count / 4] ^= 0xff  // inside arr_0's data: caught by size checks or the CRC
        let cases: [(String, Data)] = [
            ("zero-length", Data()), ("not a zip", Data("hello, this is not a zip archive".utf8)),
            ("truncated", good.prefix(good.count / 2)), ("truncated stored", stored.prefix(stored.count - 30)),
            ("flipped byte", flipped),
        ]
        for (label, bytes) in cases {
            let url = directory.appendingPathComponent("\(label).npz")
            try bytes.write(to: url)
            XCTAssertThrowsError(try NPZ.read(from: url), label) { error in
                XCTAssertTrue(error is SerializationError, "\(label): \(error)")
                XCTAssertTrue("\(error)".hasPrefix(url.path), "\(label): \(error)")
            }
        }
        // A valid archive whose entry is a lying .npy (header shape [2, 3] float32, 8 data bytes).
        let lying = serializationFixture("lying_entry.npz")
        assertSerializationError(try NPZ.read(from: lying), mentioning: "needs 24 data bytes but 8", path: lying.path)
    }

    func testExportForNumPy() throws {
        try exportForPythonCheck { directory in
            let pair = [
                (name: "arr_0", tensor: serializationRamp([2, 3, 4])),
                (name: "arr_1", tensor: serializationRamp([5]) * 2),
            ]
            try NPZ.write(pair, to: directory.appendingPathComponent("swift_compressed.npz"))
            try NPZ.write(pair, to: directory.appendingPathComponent("swift_stored.npz"), compressed: false)
        }
    }
}

/// Regression inputs for the NPZ reader's own zip handling (Fuzz/ found a hang inside
/// ZIPFoundation's extraction; NPZ now validates the layout and inflates bounded ranges itself).
final class NPZLayoutRegressionTests: XCTestCase {
    func testEntryDataPastTheEndOfTheFileIsAnErrorNotAHang() throws {
        let url = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/serialization/hang-data-past-end.npz")
        XCTAssertThrowsError(try NPZ.read(from: url)) { error in
            XCTAssertTrue(
                "\(error)".contains("hang-data-past-end.npz") && "\(error)".contains("past the end"), "\(error)")
        }
    }

    func testATruncatedDeflateStreamIsAnError() throws {
        // A valid archive whose deflate data is cut short (sizes patched to match the cut).
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("npz-trunc-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let good = directory.appendingPathComponent("good.npz")
        var generator = SeededGenerator(seed: 3)
        try NPZ.write([(name: "arr_0", tensor: Tensor.randomNormal([64, 64], generator: &generator))], to: good)
        var bytes = [UInt8](try Data(contentsOf: good))
        func u16(_ i: Int) -> Int { Int(bytes[i]) | Int(bytes[i + 1]) << 8 }
        func u32(_ i: Int) -> Int { u16(i) | u16(i + 2) << 16 }
        func put32(_ i: Int, _ v: Int) { for k in 0..<4 { bytes[i + k] = UInt8((v >> (8 * k)) & 0xFF) } }
        let dataStart = 30 + u16(26) + u16(28), compressed = u32(18)
        let cut = compressed / 2
        bytes.removeSubrange((dataStart + cut)..<(dataStart + compressed))
        put32(18, cut)
        var directory0 = 0
        for i in stride(from: bytes.count - 22, through: 0, by: -1) where u32(i) == 0x0605_4B50 {
            directory0 = u32(i + 16) - (compressed - cut); put32(i + 16, directory0); break
        }
        put32(directory0 + 20, cut)
        let broken = directory.appendingPathComponent("truncated-stream.npz")
        try Data(bytes).write(to: broken)
        XCTAssertThrowsError(try NPZ.read(from: broken)) { error in
            XCTAssertTrue("\(error)".contains("truncated-stream.npz"), "\(error)")
        }
    }
}
