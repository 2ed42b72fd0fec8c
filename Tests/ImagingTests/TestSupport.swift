import DeepLearning
import Foundation
import Imaging
import XCTest

/// A fresh temporary directory, removed when the test ends.
func makeTemporaryDirectory(_ test: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("ImagingTests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}

/// Asserts that `body` throws an `ImagingError` whose source is `source` and whose problem
/// mentions `fragment`.
func assertImagingError(
    source: String, mentioning fragment: String,
    file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void
) {
    do {
        try body()
        XCTFail("expected an ImagingError about \(source)", file: file, line: line)
    } catch let error as ImagingError {
        XCTAssertEqual(error.source, source, file: file, line: line)
        XCTAssertTrue(
            error.problem.contains(fragment), "\(error) does not mention '\(fragment)'", file: file, line: line)
        XCTAssertTrue(error.description.hasPrefix(source + ": "), file: file, line: line)
    } catch {
        XCTFail("expected an ImagingError, got \(error)", file: file, line: line)
    }
}

/// An `[h, w, c]` image of integer pixel values drawn from `seed`.
func randomPixels(_ h: Int, _ w: Int, _ c: Int = 3, seed: UInt64) -> Tensor {
    var generator = SeededGenerator(seed: seed)
    return Tensor(
        shape: [h, w, c], scalars: (0..<(h * w * c)).map { _ in Float(Int.random(in: 0...255, using: &generator)) })
}

/// CRC-32 (zlib polynomial), to forge valid PNG chunks in tests.
func crc32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = (crc >> 1) ^ (crc & 1 == 1 ? 0xEDB8_8320 : 0) }
    }
    return ~crc
}

func bigEndian(_ value: UInt32) -> [UInt8] {
    [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
}
