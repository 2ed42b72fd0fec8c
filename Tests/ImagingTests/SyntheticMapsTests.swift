import DeepLearning
@testable import Imaging
import XCTest

final class SyntheticMapsTests: XCTestCase {
    /// Small enough for a debug build, large enough that streets are a few pixels wide.
    let size = 144

    /// The map class of each pixel: the nearest palette colour (casings count as their road,
    /// outlines as buildings; blurred edge pixels fall to whichever side they are closer to).
    static func mapClasses(_ map: Tensor) -> [TileClass] {
        let palette: [(SIMD3<Float>, TileClass)] = [
            (MapPalette.land, .land), (MapPalette.park, .park), (MapPalette.water, .water),
            (MapPalette.minorRoad, .minorRoad), (MapPalette.minorCasing, .minorRoad),
            (MapPalette.majorRoad, .majorRoad), (MapPalette.majorCasing, .majorRoad),
            (MapPalette.building, .building), (MapPalette.buildingOutline, .building),
        ]
        let values = map.scalars
        return (0..<(values.count / 3)).map { i in
            let color = SIMD3(values[3 * i], values[3 * i + 1], values[3 * i + 2])
            return palette.min { a, b in
                ((a.0 - color) * (a.0 - color)).sum() < ((b.0 - color) * (b.0 - color)).sum()
            }!.1
        }
    }

    func testSameSeedAndIndexGiveIdenticalTilesAndOthersDiffer() {
        let maps = SyntheticMaps(seed: 7, tileSize: size)
        let first = maps.tile(3), again = SyntheticMaps(seed: 7, tileSize: size).tile(3)
        XCTAssertEqual(first.satellite.scalars, again.satellite.scalars)
        XCTAssertEqual(first.map.scalars, again.map.scalars)

        let otherIndex = maps.tile(4), otherSeed = SyntheticMaps(seed: 8, tileSize: size).tile(3)
        XCTAssertGreaterThan(first.map.maxAbsoluteDifference(to: otherIndex.map), 50)
        XCTAssertGreaterThan(first.satellite.maxAbsoluteDifference(to: otherIndex.satellite), 50)
        XCTAssertGreaterThan(first.map.maxAbsoluteDifference(to: otherSeed.map), 50)
    }

    func testTilesHaveDatasetShapesAndPixelRange() {
        let maps = SyntheticMaps(seed: 1, tileSize: size)
        let (satellite, map) = maps.tile(0)
        XCTAssertEqual(satellite.shape, [size, size, 3])
        XCTAssertEqual(map.shape, [size, size, 3])
        for image in [satellite, map] {
            XCTAssertTrue(image.isFinite)
            XCTAssertGreaterThanOrEqual(image.scalars.min()!, 0)
            XCTAssertLessThanOrEqual(image.scalars.max()!, 255)
        }
        // Not flat: a photo spans a good part of the range.
        XCTAssertGreaterThan(satellite.scalars.max()! - satellite.scalars.min()!, 100)
    }

    func testPairImagePutsSatelliteLeftAndMapRight() {
        let maps = SyntheticMaps(seed: 2, tileSize: size)
        let (satellite, map) = maps.tile(5)
        let pair = maps.pairImage(5)
        XCTAssertEqual(pair.shape, [size, 2 * size, 3])
        XCTAssertEqual(pair.slice(axis: 1, 0..<size).scalars, satellite.scalars)
        XCTAssertEqual(pair.slice(axis: 1, size..<(2 * size)).scalars, map.scalars)
    }

    func testMapsShowRoadsBuildingsParksAndWaterInPlausibleProportions() {
        let maps = SyntheticMaps(seed: 11, tileSize: size)
        var counts = [TileClass: Int]()
        var tilesWith = [TileClass: Int]()
        let tiles = 12
        for index in 0..<tiles {
            let classes = Self.mapClasses(maps.tile(index).map)
            var tileCounts = [TileClass: Int]()
            for cls in classes { tileCounts[cls, default: 0] += 1 }
            for (cls, count) in tileCounts {
                counts[cls, default: 0] += count
                if Float(count) > 0.01 * Float(classes.count) { tilesWith[cls, default: 0] += 1 }
            }
        }
        let total = Float(tiles * size * size)
        func fraction(_ classes: TileClass...) -> Float {
            Float(classes.map { counts[$0, default: 0] }.reduce(0, +)) / total
        }
        XCTAssertTrue(
            (0.08...0.35).contains(fraction(.minorRoad, .majorRoad)), "roads \(fraction(.minorRoad, .majorRoad))")
        XCTAssertTrue((0.05...0.40).contains(fraction(.building)), "buildings \(fraction(.building))")
        XCTAssertTrue((0.02...0.25).contains(fraction(.park)), "parks \(fraction(.park))")
        XCTAssertTrue((0.02...0.30).contains(fraction(.water)), "water \(fraction(.water))")
        XCTAssertGreaterThan(fraction(.land), 0.15)
        // Every tile has streets and buildings; water and parks show up in some, not all.
        XCTAssertEqual(tilesWith[.minorRoad], tiles)
        XCTAssertEqual(tilesWith[.building], tiles)
        XCTAssertTrue(
            (2..<tiles).contains(tilesWith[.water, default: 0]), "tiles with water \(tilesWith[.water, default: 0])")
        XCTAssertGreaterThanOrEqual(tilesWith[.majorRoad, default: 0], tiles / 2)
        XCTAssertGreaterThanOrEqual(tilesWith[.park, default: 0], 2)
    }

    /// The best any per-pixel colour lookup can do is to give each satellite colour its most
    /// frequent map class. Canopies over streets, grey roofs against asphalt, shadows and
    /// per-tile lighting must keep that well below perfect, so the translation needs context.
    func testMapIsNotAPerPixelFunctionOfTheSatellite() {
        let maps = SyntheticMaps(seed: 5, tileSize: size)
        let binsPerChannel = 16
        var histogram = [[Int]](
            repeating: [Int](repeating: 0, count: 6), count: binsPerChannel * binsPerChannel * binsPerChannel)
        var pixels = 0
        for index in 0..<6 {
            let (satellite, map) = maps.tile(index)
            let classes = Self.mapClasses(map)
            let photo = satellite.scalars
            for (i, cls) in classes.enumerated() {
                let bin = (0..<3).reduce(0) { key, c in
                    key * binsPerChannel + min(Int(photo[3 * i + c]) * binsPerChannel / 256, binsPerChannel - 1)
                }
                histogram[bin][Int(cls.rawValue)] += 1
                pixels += 1
            }
        }
        let bestLookupAccuracy = Float(histogram.map { $0.max()! }.reduce(0, +)) / Float(pixels)
        XCTAssertLessThan(bestLookupAccuracy, 0.8, "a per-pixel colour lookup would get \(bestLookupAccuracy)")
        // And concretely: some satellite colour occurs as both a road and a non-road pixel.
        let shared = histogram.contains { bin in
            let road = bin[Int(TileClass.minorRoad.rawValue)] + bin[Int(TileClass.majorRoad.rawValue)]
            return road >= 5 && bin.reduce(0, +) - road >= 5
        }
        XCTAssertTrue(shared)
    }
}
