@testable import DeepLearning
import Foundation
import XCTest

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
            default:
                bytes.insert(
                    UInt8(truncatingIfNeeded: generator.next()), at: Int(generator.next() % UInt64(bytes.count)))
            }
            return Data(bytes)
        }
        func expectSerializationErrorOrSuccess(_ label: String, _ body: () throws -> Void) {
            do { try body() } catch {
                XCTAssertTrue(error is SerializationError, "\(label): \(type(of: error)) \(error)")
            }
        }
        let npy = try Data(contentsOf: serializationFixture("f8.npy"))
        let safetensors = try Data(contentsOf: serializationFixture("numpy.safetensors"))
        for round in 0..<300 {
            expectSerializationErrorOrSuccess("npy \(round)") { _ = try NPY.decode(mutated(npy), source: "npy") }
            expectSerializationErrorOrSuccess("safetensors \(round)") {
                _ = try SafeTensors.decode(mutated(safetensors), source: "st")
            }
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
