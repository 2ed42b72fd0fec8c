@testable import DeepLearning
import Foundation
import XCTest

/// `i * 0.25 - 3`, the `ramp` of Tools/fixtures/serialization_fixtures.py (exact in Float).
func serializationRamp(_ shape: [Int]) -> Tensor {
    let count = shape.reduce(1, *)
    return Tensor(shape: shape, scalars: (0..<count).map { Float($0) * 0.25 - 3 })
}

/// A fixture written by Tools/fixtures/serialization_fixtures.py.
func serializationFixture(_ name: String) -> URL {
    Bundle.module.resourceURL!.appendingPathComponent("Fixtures/serialization/\(name)")
}

/// A fresh empty directory, removed when the test ends.
func serializationTemporaryDirectory(_ test: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("serialization-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}

/// Asserts `body` throws a `SerializationError` whose description names `path` and contains `fragment`.
func assertSerializationError<T>(_ body: @autoclosure () throws -> T, mentioning fragment: String, path: String,
                                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try body(), file: file, line: line) { error in
        guard let error = error as? SerializationError else {
            return XCTFail("expected SerializationError, got \(error)", file: file, line: line)
        }
        XCTAssertTrue(error.description.hasPrefix(path), "\(error) does not start with \(path)", file: file, line: line)
        XCTAssertTrue(error.description.contains(fragment), "\(error) does not mention '\(fragment)'", file: file, line: line)
    }
}

/// Bit-for-bit equality, NaN payloads and signed zeros included.
func assertSerializedBitExact(_ actual: Tensor?, _ expected: Tensor, file: StaticString = #filePath, line: UInt = #line) {
    guard let actual else { return XCTFail("missing tensor", file: file, line: line) }
    XCTAssertEqual(actual.shape, expected.shape, file: file, line: line)
    XCTAssertEqual(actual.scalars.map(\.bitPattern), expected.scalars.map(\.bitPattern), file: file, line: line)
}

/// When `SERIALIZATION_EXPORT_DIR` is set, tests also write their outputs there so that
/// `serialization_fixtures.py --check DIR` can read them back with numpy / safetensors.
func exportForPythonCheck(_ write: (URL) throws -> Void) throws {
    guard let directory = ProcessInfo.processInfo.environment["SERIALIZATION_EXPORT_DIR"] else { return }
    let url = URL(fileURLWithPath: directory)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    try write(url)
}

final class NPYTests: XCTestCase {
    func testRoundTripIsBitExactIncludingSpecialValues() throws {
        let special = Tensor(shape: [2, 3], scalars: [0, -0.0, .infinity, -.infinity, .nan, .leastNonzeroMagnitude])
        for tensor in [special, serializationRamp([2, 3, 4]), Tensor(3.5), Tensor.zeros([0, 3]), serializationRamp([7])] {
            assertSerializedBitExact(try NPY.decode(NPY.encode(tensor), source: "memory"), tensor)
        }
        let url = try serializationTemporaryDirectory(self).appendingPathComponent("a.npy")
        try NPY.write(special, to: url)
        assertSerializedBitExact(try NPY.read(from: url), special)
    }

    func testHeaderMatchesNumPyAndAlignsDataTo64Bytes() {
        let bytes = NPY.encode(serializationRamp([2, 3]))
        // Byte-identical to np.save(np.zeros((2, 3), np.float32)): 128-byte header, then data.
        let header = String(decoding: bytes[10..<128], as: UTF8.self)
        XCTAssertEqual(header, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" + String(repeating: " ", count: 58) + "\n")
        XCTAssertEqual(Array(bytes[6..<10]), [1, 0, 118, 0])
        XCTAssertEqual(bytes.count, 128 + 24)
        XCTAssertTrue(String(decoding: NPY.encode(Tensor([1]))[10..<64], as: UTF8.self).contains("'shape': (1,)"))
    }

    func testReadsNumPyFilesOfEverySupportedDtype() throws {
        assertSerializedBitExact(try NPY.read(from: serializationFixture("f4.npy")), serializationRamp([2, 3, 4]))
        assertSerializedBitExact(try NPY.read(from: serializationFixture("f4_fortran.npy")), serializationRamp([2, 3, 4]))
        let thirds = (0..<15).map { Float(Double($0) / 3 - 2) }
        assertSerializedBitExact(try NPY.read(from: serializationFixture("f8.npy")), Tensor(shape: [3, 5], scalars: thirds))
        assertSerializedBitExact(try NPY.read(from: serializationFixture("f2.npy")), Tensor([1.5, -0.25, 65504, 0x1p-24, .infinity]))
        assertSerializedBitExact(try NPY.read(from: serializationFixture("i4.npy")), Tensor(shape: [2, 2], scalars: [-7, 0, 3, 2_147_483_648]))  // Int32.max rounds up in Float
        _ = ()
        assertSerializedBitExact(try NPY.read(from: serializationFixture("i8.npy")), Tensor([-2, 0, 7, 1_099_511_627_776]))
        assertSerializedBitExact(try NPY.read(from: serializationFixture("u1.npy")), Tensor(shape: [2, 2], scalars: [0, 1, 128, 255]))
        assertSerializedBitExact(try NPY.read(from: serializationFixture("b1.npy")), Tensor([1, 0, 1]))
        assertSerializedBitExact(try NPY.read(from: serializationFixture("scalar.npy")), Tensor(3.5))
        assertSerializedBitExact(try NPY.read(from: serializationFixture("empty.npy")), Tensor.zeros([0, 3]))
    }

    func testRejectsBigEndianAndObjectArraysClearly() {
        let bigEndian = serializationFixture("f4_bigendian.npy")
        assertSerializationError(try NPY.read(from: bigEndian), mentioning: "big-endian", path: bigEndian.path)
        let object = serializationFixture("object.npy")
        assertSerializationError(try NPY.read(from: object), mentioning: "object arrays", path: object.path)
    }

    func testCorruptFilesThrowInsteadOfTrapping() throws {
        let good = NPY.encode(serializationRamp([2, 3]))
        func header(_ dict: String) -> Data {
            var bytes = Data(NPYHeader.magic + [1, 0, UInt8(dict.utf8.count & 0xff), UInt8(dict.utf8.count >> 8)])
            bytes.append(contentsOf: Array(dict.utf8))
            return bytes
        }
        let cases: [(String, Data, String)] = [
            ("zero-length", Data(), "shorter than"),
            ("truncated preamble", good.prefix(9), "truncated NPY preamble"),
            ("truncated data", good.prefix(good.count - 1), "needs 24 data bytes but 23"),
            ("trailing data", good + Data([0]), "but 25"),
            ("wrong magic", Data("PK\u{3}\u{4}not npy at all".utf8), "magic"),
            ("bad version", Data(NPYHeader.magic + [9, 0, 0, 0, 0, 0]), "version 9.0"),
            ("lying header length", Data(NPYHeader.magic + [1, 0, 0xff, 0xff]) + Data(repeating: 32, count: 50), "runs past the end"),
            ("huge v2 header length", Data(NPYHeader.magic + [2, 0, 0xff, 0xff, 0xff, 0x7f, 0]), "implausible"),
            ("huge dims", header("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4611686018427387904), }"), "too large"),
            ("overflowing integer", header("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }"), "fits in 64 bits"),
            ("negative dim", header("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 3), }"), "non-negative"),
            ("missing shape", header("{'descr': '<f4', 'fortran_order': False, }"), "lacks 'shape'"),
            ("not a dict", header("['descr']"), "not a dict"),
            ("garbage header", header("{'descr': '<f4', 'fortran_order': Fals"), "malformed"),
            ("unterminated string", header("{'descr': '<f4"), "unterminated string"),
            ("structured dtype", header("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }"), "structured"),
            ("unknown dtype", header("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }"), "unsupported NPY dtype"),
            ("deep nesting", header(String(repeating: "(", count: 5000)), "nesting too deep"),
        ]
        for (label, bytes, fragment) in cases {
            assertSerializationError(try NPY.decode(bytes, source: "case \(label)"), mentioning: fragment, path: "case \(label)")
        }
        let missing = URL(fileURLWithPath: "/nonexistent/dir/x.npy")
        assertSerializationError(try NPY.read(from: missing), mentioning: "cannot read", path: missing.path)
    }

    func testExportForNumPy() throws {
        try exportForPythonCheck { directory in
            try NPY.write(serializationRamp([2, 3, 4]), to: directory.appendingPathComponent("swift_f4.npy"))
            try NPY.write(Tensor(3.5), to: directory.appendingPathComponent("swift_scalar.npy"))
        }
    }
}

final class NPZTests: XCTestCase {
    let arrays: [(name: String, tensor: Tensor)] = [
        ("arr_0", serializationRamp([2, 3, 4])), ("arr_1", serializationRamp([5]) * 2), ("empty", Tensor.zeros([0, 2])),
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
        let compressedSize = try FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent("atrue.npz").path)[.size] as! Int
        let storedSize = try FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent("afalse.npz").path)[.size] as! Int
        XCTAssertLessThan(compressedSize, storedSize, "compressed: true must deflate")
    }

    func testReadsNumPySavezAndSavezCompressed() throws {
        for name in ["compressed.npz", "stored.npz"] {
            let loaded = try NPZ.read(from: serializationFixture(name))
            XCTAssertEqual(Set(loaded.keys), ["arr_0", "arr_1"], name)
            assertSerializedBitExact(loaded["arr_0"], serializationRamp([2, 3, 4]))
            assertSerializedBitExact(loaded["arr_1"], Tensor(shape: [3, 2, 2], scalars: (0..<12).map { 255 - Float($0) }))
        }
    }

    func testReadingSelectedNamesSkipsOthersAndNamesTheMissingOne() throws {
        let url = serializationFixture("compressed.npz")
        let only = try NPZ.read(from: url, names: ["arr_1"])
        XCTAssertEqual(Array(only.keys), ["arr_1"])
        assertSerializationError(try NPZ.read(from: url, names: ["arr_0", "arr_2"]), mentioning: "no array named 'arr_2' (the archive has: arr_0, arr_1)", path: url.path)
    }

    func testRejectsDuplicateNames() throws {
        let url = try serializationTemporaryDirectory(self).appendingPathComponent("d.npz")
        assertSerializationError(try NPZ.write([("a", Tensor(1)), ("a", Tensor(2))], to: url), mentioning: "appears twice", path: url.path)
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
            let pair = [(name: "arr_0", tensor: serializationRamp([2, 3, 4])), (name: "arr_1", tensor: serializationRamp([5]) * 2)]
            try NPZ.write(pair, to: directory.appendingPathComponent("swift_compressed.npz"))
            try NPZ.write(pair, to: directory.appendingPathComponent("swift_stored.npz"), compressed: false)
        }
    }
}

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
        XCTAssertThrowsError(try writeAtomically(to: url) { file in
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
            assertSerializationError(try NPY.write(Tensor([1]), to: missing), mentioning: "cannot create temporary file", path: missing.path)
            assertSerializationError(try NPZ.write([("arr_0", Tensor([8]))], to: missing), mentioning: "write failed", path: missing.path)
        } else {
            assertSerializationError(try NPZ.write([("arr_0", Tensor([8]))], to: url), mentioning: "", path: url.path)
            assertSerializationError(try NPY.write(Tensor([8]), to: url), mentioning: "cannot create temporary file", path: url.path)
        }
        assertSerializedBitExact(try NPZ.read(from: url)["arr_0"], Tensor([7]))
    }
}

final class SafeTensorsTests: XCTestCase {
    func testRoundTripIsBitExactWithMetadataAndAlignedData() throws {
        let url = try serializationTemporaryDirectory(self).appendingPathComponent("a.safetensors")
        let special = Tensor(shape: [2, 2], scalars: [-0.0, .nan, .infinity, .leastNonzeroMagnitude])
        let tensors = [(name: "z.weight", tensor: serializationRamp([2, 3])), (name: "a.bias", tensor: special),
                       (name: "scalar", tensor: Tensor(2.5)), (name: "empty", tensor: Tensor.zeros([0, 4]))]
        try SafeTensors.write(tensors, metadata: ["epoch": "3", "note": "ünïcode"], to: url)
        let (loaded, metadata) = try SafeTensors.read(from: url)
        XCTAssertEqual(metadata, ["epoch": "3", "note": "ünïcode"])
        XCTAssertEqual(Set(loaded.keys), Set(tensors.map(\.name)))
        for (name, tensor) in tensors { assertSerializedBitExact(loaded[name], tensor) }
        let bytes = try Data(contentsOf: url)
        let headerLength = bytes.withUnsafeBytes { Int($0.loadUnaligned(as: UInt64.self)) }
        XCTAssertEqual(headerLength % 8, 0, "data section must start 8-byte aligned")
        XCTAssertEqual(bytes.count, 8 + headerLength + (6 + 4 + 1) * 4)
    }

    func testReadsFilesWrittenByTheSafetensorsPackage() throws {
        let (numpy, metadata) = try SafeTensors.read(from: serializationFixture("numpy.safetensors"))
        XCTAssertEqual(metadata, ["format": "np", "epoch": "3"])
        assertSerializedBitExact(numpy["weight"], serializationRamp([2, 3]))
        assertSerializedBitExact(numpy["bias"], serializationRamp([3]))
        assertSerializedBitExact(numpy["half"], serializationRamp([2, 2]))  // exact in float16 too
        assertSerializedBitExact(numpy["double"], Tensor([Float(-2.0), Float(1.0 / 3 - 2)]))
        assertSerializedBitExact(numpy["count"], Tensor([-1, 5, 8_589_934_592]))
        let (torch, _) = try SafeTensors.read(from: serializationFixture("torch.safetensors"))
        assertSerializedBitExact(torch["bf16"], serializationRamp([4]))  // -3, -2.75, -2.5, -2.25 are exact in bfloat16
        assertSerializedBitExact(torch["conv.kernel"], serializationRamp([2, 2, 1, 3]))
    }

    /// A file with the given JSON header and `dataBytes` zero bytes of data.
    private func file(header: String, dataBytes: Int, lengthOverride: UInt64? = nil) -> Data {
        let json = Array(header.utf8)
        let length = lengthOverride ?? UInt64(json.count)
        return Data((0..<8).map { UInt8((length >> (8 * UInt64($0))) & 0xff) } + json) + Data(count: dataBytes)
    }

    func testCorruptFilesThrowInsteadOfTrapping() throws {
        let good = #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        let cases: [(String, Data, String)] = [
            ("zero-length", Data(), "shorter than the 8-byte"),
            ("truncated length", Data([1, 0, 0]), "shorter than the 8-byte"),
            ("length past end", file(header: good, dataBytes: 8, lengthOverride: 1000), "runs past the end"),
            ("huge length", file(header: good, dataBytes: 8, lengthOverride: UInt64.max), "exceeds the 100 MB"),
            ("truncated data", file(header: good, dataBytes: 7), "outside the 7-byte data section"),
            ("trailing data", file(header: good, dataBytes: 9), "data section has 9 bytes but the tensors cover 8"),
            ("not json", file(header: "{not json", dataBytes: 0), "not a JSON object"),
            ("json array", file(header: "[1, 2]", dataBytes: 0), "not a JSON object"),
            ("deep json", file(header: #"{"a":"# + String(repeating: "[", count: 100_000), dataBytes: 0), "not a JSON object"),
            ("deep valid json", file(header: #"{"a":"# + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}", dataBytes: 0), "not a JSON object"),
            ("unknown dtype", file(header: #"{"w":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}"#, dataBytes: 8), "unsupported dtype 'C64'"),
            ("missing dtype", file(header: #"{"w":{"shape":[1],"data_offsets":[0,4]}}"#, dataBytes: 4), "missing dtype"),
            ("negative dim", file(header: #"{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, dataBytes: 8), "non-negative"),
            ("fractional dim", file(header: #"{"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}"#, dataBytes: 8), "non-negative integers"),
            ("shape/bytes mismatch", file(header: #"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, dataBytes: 8), "does not fill"),
            ("huge dims", file(header: #"{"w":{"dtype":"F32","shape":[4611686018427387904,4611686018427387904],"data_offsets":[0,8]}}"#, dataBytes: 8), "does not fill"),
            ("offsets outside", file(header: #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#, dataBytes: 8), "outside"),
            ("reversed offsets", file(header: #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, dataBytes: 8), "0 ≤ begin ≤ end"),
            ("overlap", file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, dataBytes: 12), "overlaps"),
            ("hole", file(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#, dataBytes: 12), "belong to no tensor"),
            ("bad metadata", file(header: #"{"__metadata__":{"a":1}}"#, dataBytes: 0), "__metadata__"),
        ]
        for (label, bytes, fragment) in cases {
            assertSerializationError(try SafeTensors.decode(bytes, source: "case \(label)"), mentioning: fragment, path: "case \(label)")
        }
        XCTAssertNoThrow(try SafeTensors.decode(file(header: good, dataBytes: 8), source: "control"))
        let url = try serializationTemporaryDirectory(self).appendingPathComponent("truncated.safetensors")
        try SafeTensors.write([("w", serializationRamp([4]))], to: url)
        try Data(contentsOf: url).dropLast(3).write(to: url)
        assertSerializationError(try SafeTensors.read(from: url), mentioning: "outside", path: url.path)
    }

    func testRejectsInvalidNamesOnWrite() throws {
        let url = try serializationTemporaryDirectory(self).appendingPathComponent("n.safetensors")
        assertSerializationError(try SafeTensors.write([("a", Tensor(1)), ("a", Tensor(2))], to: url), mentioning: "appears twice", path: url.path)
        assertSerializationError(try SafeTensors.write([("__metadata__", Tensor(1))], to: url), mentioning: "reserved", path: url.path)
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
    }

    func testExportForSafetensorsPackage() throws {
        try exportForPythonCheck { directory in
            try SafeTensors.write([("weight", serializationRamp([2, 3])), ("bias", serializationRamp([3]))],
                                  metadata: ["note": "from swift"], to: directory.appendingPathComponent("swift.safetensors"))
        }
    }
}

final class SerializationMutationTests: XCTestCase {
    /// Random byte flips, truncations and insertions of valid files: every reader must either
    /// decode or throw a `SerializationError` — never trap, never another error type.
    func testRandomlyCorruptedFilesNeverTrap() throws {
        var generator = SeededGenerator(seed: 2024)
        func mutated(_ data: Data) -> Data {
            var bytes = [UInt8](data)
            switch generator.next() % 3 {
            case 0:
                for _ in 0..<(1 + Int(generator.next() % 4)) {
                    bytes[Int(generator.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: generator.next())
                }
            case 1: bytes = Array(bytes.prefix(Int(generator.next() % UInt64(bytes.count))))
            default: bytes.insert(UInt8(truncatingIfNeeded: generator.next()), at: Int(generator.next() % UInt64(bytes.count)))
            }
            return Data(bytes)
        }
        func expectSerializationErrorOrSuccess(_ label: String, _ body: () throws -> Void) {
            do { try body() } catch { XCTAssertTrue(error is SerializationError, "\(label): \(type(of: error)) \(error)") }
        }
        let npy = try Data(contentsOf: serializationFixture("f8.npy"))
        let safetensors = try Data(contentsOf: serializationFixture("numpy.safetensors"))
        for round in 0..<300 {
            expectSerializationErrorOrSuccess("npy \(round)") { _ = try NPY.decode(mutated(npy), source: "npy") }
            expectSerializationErrorOrSuccess("safetensors \(round)") { _ = try SafeTensors.decode(mutated(safetensors), source: "st") }
        }
        let directory = try serializationTemporaryDirectory(self)
        for name in ["compressed.npz", "stored.npz"] {
            let npz = try Data(contentsOf: serializationFixture(name))
            for round in 0..<60 {
                let url = directory.appendingPathComponent("\(round)-\(name)")
                try mutated(npz).write(to: url)
                expectSerializationErrorOrSuccess("\(name) \(round)") { _ = try NPZ.read(from: url) }
            }
        }
    }
}


/// Regression inputs for the NPZ reader's own zip handling (Fuzz/ found a hang inside
/// ZIPFoundation's extraction; NPZ now validates the layout and inflates bounded ranges itself).
final class NPZLayoutRegressionTests: XCTestCase {
    func testEntryDataPastTheEndOfTheFileIsAnErrorNotAHang() throws {
        let url = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/serialization/hang-data-past-end.npz")
        XCTAssertThrowsError(try NPZ.read(from: url)) { error in
            XCTAssertTrue("\(error)".contains("hang-data-past-end.npz") && "\(error)".contains("past the end"), "\(error)")
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
        for i in stride(from: bytes.count - 22, through: 0, by: -1) where u32(i) == 0x0605_4B50 { directory0 = u32(i + 16) - (compressed - cut); put32(i + 16, directory0); break }
        put32(directory0 + 20, cut)
        let broken = directory.appendingPathComponent("truncated-stream.npz")
        try Data(bytes).write(to: broken)
        XCTAssertThrowsError(try NPZ.read(from: broken)) { error in
            XCTAssertTrue("\(error)".contains("truncated-stream.npz"), "\(error)")
        }
    }
}
