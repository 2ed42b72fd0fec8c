@testable import DeepLearning
import Foundation
import XCTest

/// The arrays of `Fixtures/general/<group>.npz` (Tools/fixtures/make_general_fixtures.py).
func generalFixtures(_ group: String) throws -> [String: Tensor] {
    try NPZ.read(from: Bundle.module.resourceURL!.appendingPathComponent("Fixtures/general/\(group).npz"))
}

/// Fails unless `actual` has the reference's shape and is within `tolerance·(1 + max|reference|)`.
func assertMatchesReference(
    _ actual: Tensor, _ expected: Tensor?, tolerance: Float, _ message: String,
    file: StaticString = #filePath, line: UInt = #line
) {
    guard let expected else { return XCTFail("missing reference for \(message)", file: file, line: line) }
    XCTAssertEqual(actual.shape, expected.shape, message, file: file, line: line)
    let scale = expected.scalars.map(Swift.abs).max() ?? 0
    XCTAssertLessThanOrEqual(
        actual.maxAbsoluteDifference(to: expected), tolerance * (1 + scale), message, file: file, line: line)
}
