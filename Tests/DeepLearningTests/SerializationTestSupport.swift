@testable import DeepLearning
import Foundation
import XCTest

// Helpers shared by the serialization tests (NPY, NPZ, safetensors, atomic writes).

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
func assertSerializationError<T>(
    _ body: @autoclosure () throws -> T, mentioning fragment: String, path: String,
    file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertThrowsError(try body(), file: file, line: line) { error in
        guard let error = error as? SerializationError else {
            return XCTFail("expected SerializationError, got \(error)", file: file, line: line)
        }
        XCTAssertTrue(error.description.hasPrefix(path), "\(error) does not start with \(path)", file: file, line: line)
        XCTAssertTrue(
            error.description.contains(fragment), "\(error) does not mention '\(fragment)'", file: file, line: line)
    }
}

/// Bit-for-bit equality, NaN payloads and signed zeros included.
func assertSerializedBitExact(_ actual: Tensor?, _ expected: Tensor, file: StaticString = #filePath, line: UInt = #line)
{
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
