import DeepLearning
import Foundation
import Imaging
import XCTest

final class PairedImageDatasetCacheTests: XCTestCase {
    /// np.savez_compressed(buf, src, tar) from NumPy (peers venv), the seed's cache format,
    /// with src = (arange(24).reshape(2, 2, 2, 3) · 10) mod 256 as float32, tar = 255 − src.
    static let seedStyleNPZ =
        "UEsDBC0AAAAIAAAAIQCNhAQx//////////8JABQAYXJyXzAubnB5AQAQAOAAAAAAAAAAiQAAAAAAAACb7BfqGxDJyFDGUK2eklqcXKRupaBuk2airqOgnpZfVFKUmBefX5SSChJ3S8wpTgWKF2ckFqQC+RpGOgoQZKypo1CrQAbgYgADBUcGhgVA/AGIFZwYGDyAuACIe4B4ARBvAeITQHwHiD8AMZMzAwMPEIsBsQIQawGxCRDbAbEHEAcBcQwQpzkDAFBLAwQtAAAACAAAACEAuSsF5v//////////CQAUAGFycl8xLm5weQEAEADgAAAAAAAAAIkAAAAAAAAAm+wX6hsQychQxlCtnpJanFykbqWgbpNmoq6joJ6WX1RSlJgXn1+UkgoSd0vMKU4FihdnJBakAvkaRjoKEGSsqaNQq0AG4GJgqHdmYCgF4mwgTgTicCD2BWJnILYEYn0gVgViaSAWBGJ2IP7lxMDwDIgvAfE+IF4FxNOAuAmIY4DYBIh5gPiEIwBQSwECLQMtAAAACAAAACEAjYQEMYkAAADgAAAACQAAAAAAAAAAAAAAgAEAAAAAYXJyXzAubnB5UEsBAi0DLQAAAAgAAAAhALkrBeaJAAAA4AAAAAkAAAAAAAAAAAAAAIABxAAAAGFycl8xLm5weVBLBQYAAAAAAgACAG4AAACIAQAAAAA="

    func testReadsTheSeedsNumPyCache() throws {
        let url = try makeTemporaryDirectory(self).appendingPathComponent("maps_tiny.npz")
        try Data(base64Encoded: Self.seedStyleNPZ)!.write(to: url)
        let dataset = try PairedImageDataset(npz: url)
        XCTAssertEqual(dataset.count, 2)
        let (source, target) = try dataset.pair(at: 1)
        let a: [Float] = (12..<24).map { Float($0 * 10 % 256) }
        XCTAssertEqual(source.shape, [2, 2, 3])
        XCTAssertLessThan(source.maxAbsoluteDifference(to: toUnitRange(Tensor(shape: [2, 2, 3], scalars: a))), 1e-6)
        XCTAssertLessThan(
            target.maxAbsoluteDifference(to: toUnitRange(Tensor(shape: [2, 2, 3], scalars: a.map { 255 - $0 }))), 1e-6)
        let reversed = try PairedImageDataset(npz: url, direction: .bToA)
        XCTAssertEqual(try reversed.pair(at: 1).source.scalars, target.scalars)
    }

    func testPrepareCacheRoundTripsThroughNPZ() throws {
        let directory = try makeTemporaryDirectory(self)
        for i in 0..<3 {
            try saveImage(randomPixels(6, 12, seed: UInt64(i)), to: directory.appendingPathComponent("\(i).png"))
        }
        let npz = directory.appendingPathComponent("cache.npz")
        var reports: [[Int]] = []
        try PairedImageDataset.prepareCache(from: directory, to: npz, size: 4) { reports.append([$0, $1]) }
        XCTAssertEqual(reports.last, [3, 3])

        let arrays = try NPZ.read(from: npz)
        XCTAssertEqual(Set(arrays.keys), ["arr_0", "arr_1"])
        XCTAssertEqual(arrays["arr_0"]?.shape, [3, 4, 4, 3])
        let fromDirectory = try PairedImageDataset(directory: directory, imageSize: 4)
        let fromCache = try PairedImageDataset(npz: npz)
        XCTAssertEqual(fromCache.count, 3)
        for i in 0..<3 {
            let (a, b) = try fromDirectory.pixels(at: i)
            XCTAssertEqual(arrays["arr_0"]!.slice(axis: 0, i..<i + 1).scalars, a.scalars)
            XCTAssertEqual(arrays["arr_1"]!.slice(axis: 0, i..<i + 1).scalars, b.scalars)
            XCTAssertEqual(try fromCache.pair(at: i).source.scalars, try fromDirectory.pair(at: i).source.scalars)
            XCTAssertEqual(try fromCache.pair(at: i).target.scalars, try fromDirectory.pair(at: i).target.scalars)
        }
    }

    func testPrepareCacheStopsAtABadFileAndWritesNothing() throws {
        let directory = try makeTemporaryDirectory(self)
        try saveImage(randomPixels(4, 8, seed: 1), to: directory.appendingPathComponent("a.png"))
        let bad = directory.appendingPathComponent("b.jpg")
        try Data("oops".utf8).write(to: bad)
        let npz = directory.appendingPathComponent("cache.npz")
        assertImagingError(source: bad.path, mentioning: "not a JPEG or PNG") {
            try PairedImageDataset.prepareCache(from: directory, to: npz, size: 4)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: npz.path))
    }

    func testInvalidCachesAreErrorsNamingTheFile() throws {
        let directory = try makeTemporaryDirectory(self)
        let pixels = Tensor(shape: [2, 3, 3, 3], repeating: 100)

        let onlyA = directory.appendingPathComponent("only-a.npz")
        try NPZ.write([(name: "arr_0", tensor: pixels)], to: onlyA)
        assertImagingError(source: onlyA.path, mentioning: "missing array arr_1") {
            _ = try PairedImageDataset(npz: onlyA)
        }

        let mismatched = directory.appendingPathComponent("mismatch.npz")
        try NPZ.write(
            [(name: "arr_0", tensor: pixels), (name: "arr_1", tensor: Tensor.zeros([2, 3, 4, 3]))], to: mismatched)
        assertImagingError(source: mismatched.path, mentioning: "[2, 3, 4, 3]") {
            _ = try PairedImageDataset(npz: mismatched)
        }

        let gray = directory.appendingPathComponent("gray.npz")
        try NPZ.write(
            [(name: "arr_0", tensor: Tensor.zeros([2, 3, 3])), (name: "arr_1", tensor: Tensor.zeros([2, 3, 3]))],
            to: gray)
        assertImagingError(source: gray.path, mentioning: "expected [N, H, W, 3]") {
            _ = try PairedImageDataset(npz: gray)
        }

        let scaled = directory.appendingPathComponent("scaled.npz")
        try NPZ.write([(name: "arr_0", tensor: pixels / 255 * 2 - 1), (name: "arr_1", tensor: pixels)], to: scaled)
        assertImagingError(source: scaled.path, mentioning: "expected pixels 0…255") {
            _ = try PairedImageDataset(npz: scaled)
        }

        let text = directory.appendingPathComponent("text.npz")
        try Data("hello".utf8).write(to: text)
        assertImagingError(source: text.path, mentioning: "not a valid NPZ") { _ = try PairedImageDataset(npz: text) }
    }
}
