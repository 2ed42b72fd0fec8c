import DeepLearning
import Foundation
import Imaging
import XCTest

/// The unaligned dataset: max(|A|, |B|) samples, A in order, B at random (or serially), each
/// image jittered on its own, and bad folders and images named.
final class UnalignedImageDatasetTests: XCTestCase {
    private var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("unaligned-\(UUID())")
        for (folder, count) in [("trainA", 3), ("trainB", 5)] {
            let url = root.appendingPathComponent(folder)
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            for i in 0..<count {
                // Image i of A is a flat 10·(i + 1), of B 100 + 10·i, so samples tell their source.
                let value = Float(folder == "trainA" ? 10 * (i + 1) : 100 + 10 * i)
                try saveImage(
                    Tensor(shape: [8 + i, 6, 3], repeating: value), to: url.appendingPathComponent("\(i).png"))
            }
        }
    }

    override func tearDownWithError() throws {
        if let root { try? FileManager.default.removeItem(at: root) }
    }

    private func value(_ image: Tensor) -> Int { Int(((image.scalars[0] + 1) * 127.5).rounded()) }

    func testSamplesPairAInOrderWithBAtRandomOrSerially() throws {
        let data = try UnalignedImageDataset(
            a: root.appendingPathComponent("trainA"), b: root.appendingPathComponent("trainB"), imageSize: 4)
        XCTAssertEqual(data.count, 5, "max(|A|, |B|)")
        var seen = Set<Int>()
        for index in 0..<5 {
            var random = SeededGenerator(seed: UInt64(index))
            let (a, b) = try data.sample(at: index, random: &random)
            XCTAssertEqual(a.shape, [4, 4, 3])
            XCTAssertEqual(value(a), 10 * (index % 3 + 1))
            seen.insert(value(b))
            var again = SeededGenerator(seed: UInt64(index))
            XCTAssertEqual(try data.sample(at: index, random: &again).b.scalars, b.scalars, "a seed fixes B")
        }
        XCTAssertTrue(seen.isSubset(of: Set([100, 110, 120, 130, 140])))
        let serial = try UnalignedImageDataset(
            a: root.appendingPathComponent("trainA"), b: root.appendingPathComponent("trainB"), imageSize: 4,
            serialBatches: true)
        var random = SeededGenerator(seed: 0)
        XCTAssertEqual(
            try (0..<5).map { value(try serial.sample(at: $0, random: &random).b) }, [100, 110, 120, 130, 140])
        let jittered = try UnalignedImageDataset(
            a: root.appendingPathComponent("trainA"), b: root.appendingPathComponent("trainB"),
            jitter: Jitter(resizeTo: 9, cropTo: 8))
        XCTAssertEqual(try jittered.sample(at: 0, random: &random).a.shape, [8, 8, 3])
    }

    func testMissingOrEmptyFoldersAreErrorsNamingThemAndGrayImagesBecomeRGB() throws {
        let empty = root.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        XCTAssertThrowsError(try UnalignedImageDataset(a: root.appendingPathComponent("trainA"), b: empty)) {
            XCTAssertTrue("\($0)".contains(empty.path) && "\($0)".contains("no .jpg"), "\($0)")
        }
        let missing = root.appendingPathComponent("nothing")
        XCTAssertThrowsError(try UnalignedImageDataset(a: missing, b: root.appendingPathComponent("trainB"))) {
            XCTAssertTrue("\($0)".contains(missing.path), "\($0)")
        }
        // A gray image is decoded to RGB, as junyanz's `convert('RGB')`.
        let gray = root.appendingPathComponent("gray")
        try FileManager.default.createDirectory(at: gray, withIntermediateDirectories: true)
        try saveImage(Tensor(shape: [4, 4, 1], repeating: 9), to: gray.appendingPathComponent("g.png"))
        let data = try UnalignedImageDataset(a: gray, b: root.appendingPathComponent("trainB"), imageSize: 4)
        var random = SeededGenerator(seed: 1)
        XCTAssertEqual(try data.sample(at: 0, random: &random).a.shape, [4, 4, 3])
    }
}
