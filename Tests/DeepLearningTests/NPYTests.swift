@testable import DeepLearning
import Foundation
import XCTest

final class NPYTests: XCTestCase {
    func testRoundTripIsBitExactIncludingSpecialValues() throws {
        let special = Tensor(shape: [2, 3], scalars: [0, -0.0, .infinity, -.infinity, .nan, .leastNonzeroMagnitude])
        for tensor in [
            special, serializationRamp([2, 3, 4]), Tensor(3.5), Tensor.zeros([0, 3]), serializationRamp([7]),
        ] {
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
        XCTAssertEqual(
            header,
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" + String(repeating: " ", count: 58) + "\n")
        XCTAssertEqual(Array(bytes[6..<10]), [1, 0, 118, 0])
        XCTAssertEqual(bytes.count, 128 + 24)
        XCTAssertTrue(String(decoding: NPY.encode(Tensor([1]))[10..<64], as: UTF8.self).contains("'shape': (1,)"))
    }

    func testReadsNumPyFilesOfEverySupportedDtype() throws {
        assertSerializedBitExact(try NPY.read(from: serializationFixture("f4.npy")), serializationRamp([2, 3, 4]))
        assertSerializedBitExact(
            try NPY.read(from: serializationFixture("f4_fortran.npy")), serializationRamp([2, 3, 4]))
        let thirds = (0..<15).map { Float(Double($0) / 3 - 2) }
        assertSerializedBitExact(
            try NPY.read(from: serializationFixture("f8.npy")), Tensor(shape: [3, 5], scalars: thirds))
        assertSerializedBitExact(
            try NPY.read(from: serializationFixture("f2.npy")), Tensor([1.5, -0.25, 65504, 0x1p-24, .infinity]))
        assertSerializedBitExact(
            try NPY.read(from: serializationFixture("i4.npy")),
            Tensor(shape: [2, 2], scalars: [-7, 0, 3, 2_147_483_648]))  // Int32.max rounds up in Float
        _ = ()
        assertSerializedBitExact(
            try NPY.read(from: serializationFixture("i8.npy")), Tensor([-2, 0, 7, 1_099_511_627_776]))
        assertSerializedBitExact(
            try NPY.read(from: serializationFixture("u1.npy")), Tensor(shape: [2, 2], scalars: [0, 1, 128, 255]))
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
            (
                "lying header length", Data(NPYHeader.magic + [1, 0, 0xff, 0xff]) + Data(repeating: 32, count: 50),
                "runs past the end"
            ),
            ("huge v2 header length", Data(NPYHeader.magic + [2, 0, 0xff, 0xff, 0xff, 0x7f, 0]), "implausible"),
            (
                "huge dims",
                header(
                    "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4611686018427387904), }"),
                "too large"
            ),
            (
                "overflowing integer",
                header("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }"),
                "fits in 64 bits"
            ),
            ("negative dim", header("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 3), }"), "non-negative"),
            ("missing shape", header("{'descr': '<f4', 'fortran_order': False, }"), "lacks 'shape'"),
            ("not a dict", header("['descr']"), "not a dict"),
            ("garbage header", header("{'descr': '<f4', 'fortran_order': Fals"), "malformed"),
            ("unterminated string", header("{'descr': '<f4"), "unterminated string"),
            (
                "structured dtype", header("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }"),
                "structured"
            ),
            (
                "unknown dtype", header("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }"),
                "unsupported NPY dtype"
            ),
            ("deep nesting", header(String(repeating: "(", count: 5000)), "nesting too deep"),
        ]
        for (label, bytes, fragment) in cases {
            assertSerializationError(
                try NPY.decode(bytes, source: "case \(label)"), mentioning: fragment, path: "case \(label)")
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
