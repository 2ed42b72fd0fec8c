import DeepLearning
import Foundation
import Imaging
import XCTest

final class PairedImageDatasetTests: XCTestCase {
    /// Writes `count` 8×16 PNGs named 0.png… whose left half is the constant 10·(i+1) and
    /// right half 10·(i+1) + 100, so each pair is identifiable after resizing.
    func makeDirectory(count: Int) throws -> URL {
        let directory = try makeTemporaryDirectory(self)
        for i in 0..<count {
            var scalars: [Float] = []
            for _ in 0..<8 {
                for x in 0..<16 { scalars += Array(repeating: Float(10 * (i + 1) + (x < 8 ? 0 : 100)), count: 3) }
            }
            try saveImage(
                Tensor(shape: [8, 16, 3], scalars: scalars), to: directory.appendingPathComponent("\(i).png"))
        }
        try Data("not an image".utf8).write(to: directory.appendingPathComponent("README.txt"))
        return directory
    }

    /// The pair number encoded in a [-1, 1] source value (see `makeDirectory`).
    func identify(_ value: Float) -> Int { Int(((value + 1) * 127.5).rounded()) / 10 - 1 }

    func testPairsFromDirectory() throws {
        let dataset = try PairedImageDataset(directory: try makeDirectory(count: 3), imageSize: 4)
        XCTAssertEqual(dataset.count, 3)
        XCTAssertEqual(dataset.files.map(\.lastPathComponent), ["0.png", "1.png", "2.png"])
        let (source, target) = try dataset.pair(at: 1)
        XCTAssertEqual(source.shape, [4, 4, 3])
        XCTAssertEqual(target.shape, [4, 4, 3])
        XCTAssertLessThan(source.maxAbsoluteDifference(to: Tensor(shape: [4, 4, 3], repeating: 20 / 127.5 - 1)), 1e-6)
        XCTAssertLessThan(target.maxAbsoluteDifference(to: Tensor(shape: [4, 4, 3], repeating: 120 / 127.5 - 1)), 1e-6)
        let reversed = try PairedImageDataset(
            directory: dataset.files[0].deletingLastPathComponent(), imageSize: 4, direction: .bToA)
        XCTAssertEqual(try reversed.pair(at: 1).source.scalars, target.scalars)
    }

    func testNonTwoToOneImageIsAnErrorNamingTheFile() throws {
        let directory = try makeDirectory(count: 2)
        let bad = directory.appendingPathComponent("1.png")
        try saveImage(Tensor.zeros([6, 10, 3]), to: bad)
        let dataset = try PairedImageDataset(directory: directory, imageSize: 4)
        assertImagingError(source: bad.path, mentioning: "image is 10×6, expected a 2:1 side-by-side pair") {
            _ = try dataset.pair(at: 1)
        }
        var generator = SeededGenerator(seed: 0)
        var batches = dataset.batches(of: 2, shuffled: false, generator: &generator)
        assertImagingError(source: bad.path, mentioning: "2:1") { _ = try batches.next() }
    }

    func testEmptyOrMissingDirectoryIsAnError() throws {
        let empty = try makeTemporaryDirectory(self)
        try Data("x".utf8).write(to: empty.appendingPathComponent("notes.txt"))
        assertImagingError(source: empty.path, mentioning: "no .jpg") { _ = try PairedImageDataset(directory: empty) }
        let missing = empty.appendingPathComponent("nope")
        assertImagingError(source: missing.path, mentioning: "no such directory") {
            _ = try PairedImageDataset(directory: missing)
        }
    }

    func testBatchesCoverAnEpochInOrderAndShuffled() throws {
        let dataset = try PairedImageDataset(directory: try makeDirectory(count: 5), imageSize: 4)
        var generator = SeededGenerator(seed: 1)
        var ordered = dataset.batches(of: 2, shuffled: false, generator: &generator)
        XCTAssertEqual(ordered.count, 3)
        var seen: [Int] = []
        while let (source, target) = try ordered.next() {
            XCTAssertEqual(source.shape.dropFirst(), [4, 4, 3])
            XCTAssertEqual(target.shape, source.shape)
            for b in 0..<source.shape[0] { seen.append(identify(source[b, 0, 0, 0])) }
        }
        XCTAssertEqual(seen, [0, 1, 2, 3, 4])

        func shuffledEpoch(seed: UInt64) throws -> [Int] {
            var generator = SeededGenerator(seed: seed)
            var batches = dataset.batches(of: 2, shuffled: true, generator: &generator)
            var order: [Int] = []
            while let (source, _) = try batches.next() {
                for b in 0..<source.shape[0] { order.append(identify(source[b, 0, 0, 0])) }
            }
            return order
        }
        let first = try shuffledEpoch(seed: 9)
        XCTAssertEqual(first.sorted(), [0, 1, 2, 3, 4])
        XCTAssertEqual(try shuffledEpoch(seed: 9), first)
        XCTAssertTrue(try (10..<20).contains { try shuffledEpoch(seed: $0) != first })
    }

    func testBatchesWithJitterAreReproducible() throws {
        // Random pixels so crops and flips change values.
        let directory = try makeTemporaryDirectory(self)
        for i in 0..<3 {
            try saveImage(randomPixels(4, 8, seed: UInt64(i)), to: directory.appendingPathComponent("\(i).png"))
        }
        let dataset = try PairedImageDataset(directory: directory, imageSize: 4)
        func epoch() throws -> [Float] {
            var generator = SeededGenerator(seed: 3)
            var batches = dataset.batches(
                of: 3, shuffled: true, generator: &generator, jitter: Jitter(resizeTo: 6, cropTo: 4))
            let (source, target) = try batches.next()!
            XCTAssertEqual(source.shape, [3, 4, 4, 3])
            XCTAssertNil(try batches.next())
            return source.scalars + target.scalars
        }
        XCTAssertEqual(try epoch(), try epoch())
    }
}
