import DeepLearning
import Imaging
import XCTest

final class JitterTests: XCTestCase {
    func testSameSeedSameResult() {
        let source = randomPixels(8, 8, seed: 1), target = randomPixels(8, 8, seed: 2)
        let jitter = Jitter(resizeTo: 11, cropTo: 8)
        var g1 = SeededGenerator(seed: 42), g2 = SeededGenerator(seed: 42)
        let first = jitter.apply(source: source, target: target, generator: &g1)
        let second = jitter.apply(source: source, target: target, generator: &g2)
        XCTAssertEqual(first.0.shape, [8, 8, 3])
        XCTAssertEqual(first.0.scalars, second.0.scalars)
        XCTAssertEqual(first.1.scalars, second.1.scalars)
        XCTAssertEqual(g1, g2)
    }

    func testSourceAndTargetGetTheSameCropAndFlip() {
        // target = source + 1000 everywhere; any difference in crop or flip breaks that.
        let source = randomPixels(8, 8, seed: 3)
        let target = source + 1000
        let jitter = Jitter(resizeTo: 11, cropTo: 8)
        var generator = SeededGenerator(seed: 7)
        var outputs = Set<[Float]>()
        for _ in 0..<20 {
            let (s, t) = jitter.apply(source: source, target: target, generator: &generator)
            XCTAssertEqual(t.scalars, (s + 1000).scalars)
            outputs.insert(s.scalars)
        }
        // Offsets in 0...3 and a flip: 20 draws must not all coincide.
        XCTAssertGreaterThan(outputs.count, 5)
    }

    func testCropOffsetsAndFlipAreBothExercised() {
        // A 1×W ramp, no resize: the crop's first value is its offset, and a flip reverses it.
        let ramp = Tensor(shape: [4, 4, 1], scalars: (0..<16).map { Float($0 % 4) })
        let jitter = Jitter(resizeTo: 4, cropTo: 2, mirror: true)
        var generator = SeededGenerator(seed: 0)
        var seen = Set<[Float]>()
        for _ in 0..<200 {
            let (s, _) = jitter.apply(source: ramp, target: ramp, generator: &generator)
            seen.insert(Array(s.scalars.prefix(2)))
        }
        // Left offsets 0, 1, 2, each unflipped ([x, x+1]) and flipped ([x+1, x]).
        XCTAssertEqual(seen, [[0, 1], [1, 2], [2, 3], [1, 0], [2, 1], [3, 2]])
    }

    func testNoMirrorNeverFlips() {
        let ramp = Tensor(shape: [2, 4, 1], scalars: [0, 1, 2, 3, 0, 1, 2, 3])
        var generator = SeededGenerator(seed: 5)
        for _ in 0..<50 {
            let (s, _) = Jitter(resizeTo: 4, cropTo: 2, mirror: false).apply(
                source: ramp, target: ramp, generator: &generator)
            XCTAssertEqual(s.scalars[1] - s.scalars[0], 1)
        }
    }
}
