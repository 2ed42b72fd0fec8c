@testable import DeepLearning
import Foundation
import XCTest

final class SafeTensorsTests: XCTestCase {
    func testRoundTripIsBitExactWithMetadataAndAlignedData() throws {
        let url = try serializationTemporaryDirectory(self).appendingPathComponent("a.safetensors")
        let special = Tensor(shape: [2, 2], scalars: [-0.0, .nan, .infinity, .leastNonzeroMagnitude])
        let tensors = [
            (name: "z.weight", tensor: serializationRamp([2, 3])), (name: "a.bias", tensor: special),
            (name: "scalar", tensor: Tensor(2.5)), (name: "empty", tensor: Tensor.zeros([0, 4])),
        ]
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

    /// Every tensor carries a CRC-32 in the metadata: one flipped byte anywhere in a tensor's data
    /// is an error naming that tensor and the file, not a silently wrong weight.
    func testAFlippedByteInATensorIsAnErrorNamingTheTensorAndTheFile() throws {
        let url = try serializationTemporaryDirectory(self).appendingPathComponent("checked.safetensors")
        let tensors = [
            (name: "encoder.0.conv.kernel", tensor: serializationRamp([4, 4, 3, 8])),
            (name: "encoder.0.conv.bias", tensor: serializationRamp([8])),
        ]
        try SafeTensors.write(tensors, metadata: ["epoch": "1"], to: url)
        let original = try Data(contentsOf: url)
        let headerLength = original.withUnsafeBytes { Int($0.loadUnaligned(as: UInt64.self)) }
        let dataStart = 8 + headerLength
        for (name, byte) in [
            ("encoder.0.conv.kernel", 0), ("encoder.0.conv.kernel", 4 * 4 * 3 * 8 * 4 - 1),
            ("encoder.0.conv.bias", 4 * 4 * 3 * 8 * 4 + 5),
        ] {
            var corrupt = original
            corrupt[dataStart + byte] ^= 0x10
            try corrupt.write(to: url)
            assertSerializationError(
                try SafeTensors.read(from: url), mentioning: "tensor '\(name)': checksum mismatch",
                path: url.path)
        }
        // The intact file loads, and the checksums are the writer's business, not the caller's metadata.
        try original.write(to: url)
        XCTAssertEqual(try SafeTensors.read(from: url).metadata, ["epoch": "1"])
        let header = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: original.subdata(in: 8..<dataStart)) as? [String: Any])
        let recorded = try XCTUnwrap((header["__metadata__"] as? [String: String])?["crc32"])
        XCTAssertEqual(
            try JSONSerialization.jsonObject(with: Data(recorded.utf8)) as? [String: String],
            referenceChecksums(tensors))
        XCTAssertThrowsError(try SafeTensors.write(tensors, metadata: ["crc32": "x"], to: url))
    }

    /// CRC-32 (zlib's: reflected polynomial 0xEDB88320, bit by bit) of each tensor's little-endian
    /// bytes: the reference the writer's checksums are checked against.
    private func referenceChecksums(_ tensors: [(name: String, tensor: Tensor)]) -> [String: String] {
        var result: [String: String] = [:]
        for (name, tensor) in tensors {
            var crc: UInt32 = 0xFFFF_FFFF
            for value in tensor.scalars {
                for shift in stride(from: 0, to: 32, by: 8) {
                    crc ^= (value.bitPattern >> UInt32(shift)) & 0xFF
                    for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
                }
            }
            let digits = String(crc ^ 0xFFFF_FFFF, radix: 16)
            result[name] = String(repeating: "0", count: 8 - digits.count) + digits
        }
        return result
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
            (
                "deep json", file(header: #"{"a":"# + String(repeating: "[", count: 100_000), dataBytes: 0),
                "not a JSON object"
            ),
            (
                "deep valid json",
                file(
                    header: #"{"a":"# + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
                        + "}", dataBytes: 0), "not a JSON object"
            ),
            (
                "unknown dtype", file(header: #"{"w":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}"#, dataBytes: 8),
                "unsupported dtype 'C64'"
            ),
            (
                "missing dtype", file(header: #"{"w":{"shape":[1],"data_offsets":[0,4]}}"#, dataBytes: 4),
                "missing dtype"
            ),
            (
                "negative dim", file(header: #"{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, dataBytes: 8),
                "non-negative"
            ),
            (
                "fractional dim",
                file(header: #"{"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}"#, dataBytes: 8),
                "non-negative integers"
            ),
            (
                "shape/bytes mismatch",
                file(header: #"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, dataBytes: 8), "does not fill"
            ),
            (
                "huge dims",
                file(
                    header:
                        #"{"w":{"dtype":"F32","shape":[4611686018427387904,4611686018427387904],"data_offsets":[0,8]}}"#,
                    dataBytes: 8), "does not fill"
            ),
            (
                "offsets outside",
                file(header: #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#, dataBytes: 8), "outside"
            ),
            (
                "reversed offsets",
                file(header: #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, dataBytes: 8),
                "0 ≤ begin ≤ end"
            ),
            (
                "overlap",
                file(
                    header:
                        #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                    dataBytes: 12), "overlaps"
            ),
            (
                "hole",
                file(
                    header:
                        #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#,
                    dataBytes: 12), "belong to no tensor"
            ),
            ("bad metadata", file(header: #"{"__metadata__":{"a":1}}"#, dataBytes: 0), "__metadata__"),
        ]
        for (label, bytes, fragment) in cases {
            assertSerializationError(
                try SafeTensors.decode(bytes, source: "case \(label)"), mentioning: fragment, path: "case \(label)")
        }
        XCTAssertNoThrow(try SafeTensors.decode(file(header: good, dataBytes: 8), source: "control"))
        let url = try serializationTemporaryDirectory(self).appendingPathComponent("truncated.safetensors")
        try SafeTensors.write([("w", serializationRamp([4]))], to: url)
        try Data(contentsOf: url).dropLast(3).write(to: url)
        assertSerializationError(try SafeTensors.read(from: url), mentioning: "outside", path: url.path)
    }

    func testRejectsInvalidNamesOnWrite() throws {
        let url = try serializationTemporaryDirectory(self).appendingPathComponent("n.safetensors")
        assertSerializationError(
            try SafeTensors.write([("a", Tensor(1)), ("a", Tensor(2))], to: url), mentioning: "appears twice",
            path: url.path)
        assertSerializationError(
            try SafeTensors.write([("__metadata__", Tensor(1))], to: url), mentioning: "reserved", path: url.path)
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
    }

    func testExportForSafetensorsPackage() throws {
        try exportForPythonCheck { directory in
            try SafeTensors.write(
                [("weight", serializationRamp([2, 3])), ("bias", serializationRamp([3]))],
                metadata: ["note": "from swift"], to: directory.appendingPathComponent("swift.safetensors"))
        }
    }
}
