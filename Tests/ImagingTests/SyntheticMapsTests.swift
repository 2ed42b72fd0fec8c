import DeepLearning
import Foundation
import Imaging
import XCTest

final class SyntheticMapsTests: XCTestCase {
    private let maps = SyntheticMaps(seed: 7, tileSize: 128)

    func testTilesAreDeterministicPerSeedAndIndex() {
        let a = maps.tile(3), b = SyntheticMaps(seed: 7, tileSize: 128).tile(3)
        XCTAssertEqual(a.satellite.scalars, b.satellite.scalars)
        XCTAssertEqual(a.map.scalars, b.map.scalars)
        XCTAssertNotEqual(maps.tile(4).map.scalars, a.map.scalars)
        XCTAssertNotEqual(SyntheticMaps(seed: 8, tileSize: 128).tile(3).map.scalars, a.map.scalars)
    }

    func testShapesRangeAndSideBySideLayout() {
        let (satellite, map) = maps.tile(0)
        XCTAssertEqual(satellite.shape, [128, 128, 3])
        XCTAssertEqual(map.shape, [128, 128, 3])
        XCTAssertTrue(satellite.scalars.allSatisfy { $0 >= 0 && $0 <= 255 })
        let pair = maps.pairImage(0)
        XCTAssertEqual(pair.shape, [128, 256, 3])
        XCTAssertEqual(pair.slice(axis: 1, 0..<128).scalars, satellite.scalars)
        XCTAssertEqual(pair.slice(axis: 1, 128..<256).scalars, map.scalars)
    }

    /// Counts of the map's palette colours over several tiles.
    private func classShares(tiles: Int) -> [String: Double] {
        // Fill and casing colours of each class.
        let palette: [String: [[Float]]] = [
            "land": [[242, 239, 233]], "park": [[200, 230, 201]], "water": [[170, 218, 255]],
            "building": [[232, 230, 227], [212, 210, 207]], "minorRoad": [[255, 255, 255], [215, 215, 215]],
            "majorRoad": [[248, 211, 139], [230, 175, 90]]]
        var counts: [String: Int] = [:]
        var total = 0
        for index in 0..<tiles {
            let pixels = maps.tile(index).map.scalars
            for p in stride(from: 0, to: pixels.count, by: 3) {
                total += 1
                for (name, colors) in palette where colors.contains(Array(pixels[p..<(p + 3)])) { counts[name, default: 0] += 1 }
            }
        }
        return counts.mapValues { Double($0) / Double(total) }
    }

    func testMapsContainEveryKindOfGroundInPlausibleProportions() {
        let shares = classShares(tiles: 12)
        let roads = (shares["minorRoad"] ?? 0) + (shares["majorRoad"] ?? 0)
        XCTAssertTrue((0.08...0.4).contains(roads), "roads \(roads)")
        XCTAssertGreaterThan(shares["building"] ?? 0, 0.05)
        XCTAssertGreaterThan(shares["park"] ?? 0, 0.01)
        XCTAssertGreaterThan(shares["water"] ?? 0, 0.001)
    }

    func testTheMapIsNotAPerPixelFunctionOfTheSatellite() {
        // Tree crowns hide roads and land alike: near-identical satellite colours map to
        // different map colours, so the translation needs context.
        var seen: [[Int]: Set<[Float]>] = [:]
        for index in 0..<4 {
            let (satellite, map) = maps.tile(index)
            let s = satellite.scalars, m = map.scalars
            for p in stride(from: 0, to: s.count, by: 3) {
                let key = [Int(s[p] / 16), Int(s[p + 1] / 16), Int(s[p + 2] / 16)]
                seen[key, default: []].insert(Array(m[p..<(p + 3)]))
            }
        }
        let ambiguous = seen.values.filter { $0.count > 1 }.count
        XCTAssertGreaterThan(ambiguous, seen.count / 4, "\(ambiguous) of \(seen.count) colour bins map to several classes")
    }

    /// Writes a full-size example pair for the docs when SYNTHETIC_EXAMPLE_PATH is set.
    func testWritesAnExampleWhenAsked() throws {
        guard let path = ProcessInfo.processInfo.environment["SYNTHETIC_EXAMPLE_PATH"] else { return }
        let maps = SyntheticMaps(seed: 1)
        try saveImage(concatenate([maps.pairImage(0), maps.pairImage(1)], axis: 0), to: URL(fileURLWithPath: path))
    }
}
