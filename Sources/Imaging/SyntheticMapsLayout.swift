import DeepLearning
import Foundation

/// What one pixel of a synthetic tile is. The map renderer paints these flat; the satellite
/// renderer textures them. Tree canopies and cars are deliberately *not* classes: they show in
/// the satellite view only, hiding what the map must still draw.
enum TileClass: UInt8 {
    case land, park, water, minorRoad, majorRoad, building
}

/// A thin wrapper over `SeededGenerator` with the draws the layout needs.
struct TileRandom {
    var generator: SeededGenerator

    /// Uniform in [lower, upper).
    mutating func uniform(_ lower: Float, _ upper: Float) -> Float {
        lower + (upper - lower) * generator.nextUnitFloat()
    }

    /// True with probability `p`.
    mutating func chance(_ p: Float) -> Bool { generator.nextUnitFloat() < p }

    /// Uniform integer in lower...upper.
    mutating func integer(_ lower: Int, _ upper: Int) -> Int {
        lower + Int(generator.next() % UInt64(upper - lower + 1))
    }
}

typealias MapPoint = SIMD2<Float>

/// A rectangular building, possibly rotated. `axis` is the unit direction of `halfLength`.
struct Building {
    var center: MapPoint
    var axis: MapPoint
    var halfLength: Float
    var halfWidth: Float
    /// Height in pixels; sets the length of the cast shadow.
    var height: Float
    /// Roof albedo, 0…255.
    var roof: SIMD3<Float>
    /// Gabled roofs get a lit and a shaded half along the ridge; flat roofs a parapet.
    var gabled: Bool
}

/// A tree canopy: a shaded disc, drawn over whatever class lies below it.
struct Tree {
    var center: MapPoint
    var radius: Float
    var tone: Float
}

/// A car: a small coloured rectangle aligned with its road.
struct Car {
    var center: MapPoint
    var axis: MapPoint
    var color: SIMD3<Float>
}

/// The procedural scene of one tile: a per-pixel class map plus the objects (buildings, trees,
/// cars) the satellite renderer needs. Everything scales with `size / 600`, the maps dataset's
/// tile side, so a small test tile is a downscaled version of a full one.
struct TileLayout {
    let size: Int
    /// Pixels per pixel of a 600-pixel tile.
    let scale: Float
    /// `[size, size]` row-major `TileClass` raw values.
    var labels: [UInt8]
    /// `[size, size]` index into `buildings`, or -1.
    var buildingIndex: [Int32]
    /// `[size, size]` satellite-only surface details: 1 where a major road has a painted lane
    /// marking, 2 for a concrete sidewalk along a street.
    var markings: [UInt8]
    /// `[size, size]` which street grid (district) owns a pixel.
    var districts: [UInt8]
    var buildings: [Building] = []
    var trees: [Tree] = []
    var cars: [Car] = []

    /// What a stroke does to the pixels it covers.
    enum Paint {
        case paint(TileClass)
        /// Turns buildings back into land: the verge along major roads and water.
        case clearBuildings
        /// Marks land as sidewalk in `markings`; the class stays land.
        case sidewalk
    }

    init(size: Int, random: inout TileRandom) {
        self.size = size
        scale = Float(size) / 600
        labels = [UInt8](repeating: TileClass.land.rawValue, count: size * size)
        buildingIndex = [Int32](repeating: -1, count: size * size)
        markings = [UInt8](repeating: 0, count: size * size)
        districts = [UInt8](repeating: 0, count: size * size)

        // One or two street grids with different orientation; the border between two
        // districts becomes a major road.
        let center = MapPoint(Float(size) / 2, Float(size) / 2)
        var majorRoads: [[MapPoint]] = []
        let gridAngle = random.uniform(0, .pi / 2)
        var angles = [gridAngle]
        if random.chance(0.45) {
            let borderAngle = random.uniform(0, .pi)
            let borderDirection = MapPoint(cos(borderAngle), sin(borderAngle))
            let borderPoint = center + MapPoint(random.uniform(-0.2, 0.2), random.uniform(-0.2, 0.2)) * Float(size)
            markDistricts(borderPoint: borderPoint, direction: borderDirection)
            angles.append(gridAngle + random.uniform(0.25, 0.6) * (random.chance(0.5) ? 1 : -1))
            majorRoads.append(
                curve(
                    from: borderPoint - borderDirection * Float(size),
                    to: borderPoint + borderDirection * Float(size),
                    bend: 0, random: &random))
        }
        for (district, angle) in angles.enumerated() {
            addStreetGrid(district: UInt8(district), angle: angle, random: &random)
        }
        addWater(random: &random)
        for _ in 0..<((majorRoads.isEmpty ? 1 : 0) + (random.chance(0.35) ? 1 : 0)) {
            let angle = random.uniform(0, .pi)
            let direction = MapPoint(cos(angle), sin(angle))
            let normal = MapPoint(-direction.y, direction.x)
            let through = center + normal * random.uniform(-0.35, 0.35) * Float(size)
            majorRoads.append(
                curve(
                    from: through - direction * Float(size), to: through + direction * Float(size),
                    bend: random.uniform(-0.25, 0.25) * Float(size), random: &random))
        }
        for road in majorRoads { addMajorRoad(road, random: &random) }
        removeHiddenObjects()
    }

    // MARK: Districts and street grids

    private mutating func markDistricts(borderPoint: MapPoint, direction: MapPoint) {
        let n = size
        districts.withUnsafeMutableBufferPointer { district in
            for y in 0..<n {
                for x in 0..<n {
                    let offset = MapPoint(Float(x) + 0.5, Float(y) + 0.5) - borderPoint
                    district[y * n + x] = direction.x * offset.y - direction.y * offset.x > 0 ? 1 : 0
                }
            }
        }
    }

    /// Jittered line positions covering [-extent, extent].
    private func gridLines(spacing: Float, extent: Float, random: inout TileRandom) -> [Float] {
        var lines: [Float] = []
        var position = -extent - random.uniform(0, spacing)
        while position < extent + spacing {
            lines.append(position)
            position += spacing * random.uniform(0.7, 1.3)
        }
        return lines
    }

    /// A perturbed grid of minor roads at `angle`, restricted to one district, with its blocks
    /// filled by houses, larger buildings, parks or open land.
    private mutating func addStreetGrid(district: UInt8, angle: Float, random: inout TileRandom) {
        let origin = MapPoint(Float(size) / 2, Float(size) / 2)
        let u = MapPoint(cos(angle), sin(angle)), v = MapPoint(-u.y, u.x)
        let extent = Float(size) * 0.75
        let uLines = gridLines(spacing: random.uniform(100, 170) * scale, extent: extent, random: &random)
        let vLines = gridLines(spacing: random.uniform(80, 140) * scale, extent: extent, random: &random)
        let halfWidth = random.uniform(3.5, 5.5) * scale
        let sidewalk = random.chance(0.7) ? random.uniform(1.5, 3) * scale : 0
        func world(_ a: Float, _ b: Float) -> MapPoint { origin + u * a + v * b }

        // Streets: every edge of the grid, a few dropped so blocks merge.
        for (lines, crossLines, along) in [(uLines, vLines, true), (vLines, uLines, false)] {
            for line in lines {
                for j in 0..<(crossLines.count - 1) where !random.chance(0.1) {
                    let a = along ? world(line, crossLines[j]) : world(crossLines[j], line)
                    let b = along ? world(line, crossLines[j + 1]) : world(crossLines[j + 1], line)
                    stroke([a, b], halfWidth: halfWidth + sidewalk, paint: .sidewalk, district: district)
                    stroke([a, b], halfWidth: halfWidth, paint: .paint(.minorRoad), district: district)
                    addStreetTrees(a, b, offset: halfWidth + 1.5 * scale, random: &random)
                    addCars(
                        a, b, lanes: [halfWidth - 2 * scale, 2 * scale - halfWidth], density: 0.012, random: &random)
                }
            }
        }

        // Blocks, in grid coordinates [u0, u1] × [v0, v1] between the streets.
        for i in 0..<(uLines.count - 1) {
            for j in 0..<(vLines.count - 1) {
                let u0 = uLines[i] + halfWidth, u1 = uLines[i + 1] - halfWidth
                let v0 = vLines[j] + halfWidth, v1 = vLines[j + 1] - halfWidth
                let middle = world((u0 + u1) / 2, (v0 + v1) / 2)
                let cx = Int(middle.x), cy = Int(middle.y)
                guard cx >= -size / 4, cy >= -size / 4, cx < size + size / 4, cy < size + size / 4 else { continue }
                let inside = min(max(cx, 0), size - 1) + min(max(cy, 0), size - 1) * size
                guard districts[inside] == district else { continue }
                let block = CityBlock(origin: origin, u: u, v: v, u0: u0, u1: u1, v0: v0, v1: v1, district: district)
                let kind = random.uniform(0, 1)
                if kind < 0.13 {
                    fillRect(
                        block.center, axis: u, halfLength: block.halfU, halfWidth: block.halfV,
                        paint: .park, district: district)
                    addScatteredTrees(in: block, count: random.integer(4, 30), radius: 4...9, random: &random)
                } else if kind < 0.2 {
                    addScatteredTrees(in: block, count: random.integer(0, 6), radius: 3...7, random: &random)
                } else if kind < 0.42 {
                    addLargeBuildings(in: block, random: &random)
                } else {
                    addHouses(in: block, random: &random)
                    addScatteredTrees(in: block, count: random.integer(0, 9), radius: 3...7, random: &random)
                }
            }
        }
    }

    // MARK: Water

    private mutating func addWater(random: inout TileRandom) {
        let n = Float(size)
        let kind = random.uniform(0, 1)
        if kind < 0.35 {
            // A meandering river crossing the whole tile.
            let angle = random.uniform(0, .pi)
            let direction = MapPoint(cos(angle), sin(angle)), normal = MapPoint(-direction.y, direction.x)
            let through = MapPoint(n / 2, n / 2) + normal * random.uniform(-0.3, 0.3) * n
            let amplitude = random.uniform(10, 60) * scale, frequency = random.uniform(0.004, 0.012) / scale
            let phase = random.uniform(0, 6.3)
            let points = stride(from: -0.8 * n, through: 0.8 * n, by: 6 * scale).map { (t: Float) -> MapPoint in
                let sideways: Float = amplitude * sin(frequency * t + phase)
                return through + direction * t + normal * sideways
            }
            let halfWidth = random.uniform(12, 38) * scale
            stroke(points, halfWidth: halfWidth + 7 * scale, paint: .clearBuildings)
            stroke(points, halfWidth: halfWidth, paint: .paint(.water))
        } else if kind < 0.55 {
            // A lake with a wobbly shore.
            let center = MapPoint(random.uniform(0.1, 0.9) * n, random.uniform(0.1, 0.9) * n)
            let radius = random.uniform(40, 120) * scale
            let harmonics = (2...5).map { k in (Float(k), random.uniform(0, 0.12), random.uniform(0, 6.3)) }
            let reach = Int(radius * 1.5 + 8 * scale)
            for (margin, paint) in [(7 * scale, Paint.clearBuildings), (0, Paint.paint(.water))] {
                fillShape(
                    paint: paint, x0: Int(center.x) - reach, y0: Int(center.y) - reach,
                    x1: Int(center.x) + reach, y1: Int(center.y) + reach
                ) { point in
                    let offset = point - center
                    var r = radius
                    for (k, a, p) in harmonics { r += radius * a * sin(k * atan2(offset.y, offset.x) + p) }
                    return (offset * offset).sum() < (r + margin) * (r + margin)
                }
            }
        } else if kind < 0.67 {
            // A coastline: everything beyond a wavy line is sea.
            let angle = random.uniform(0, 2 * .pi)
            let normal = MapPoint(cos(angle), sin(angle)), along = MapPoint(-normal.y, normal.x)
            let through = MapPoint(n / 2, n / 2) + normal * random.uniform(0.15, 0.4) * n
            let waves = (0..<3).map { _ in
                (random.uniform(0.005, 0.03) / scale, random.uniform(3, 15) * scale, random.uniform(0, 6.3))
            }
            for (margin, paint) in [(7 * scale, Paint.clearBuildings), (0, Paint.paint(.water))] {
                fillShape(paint: paint) { point in
                    let offset = point - through
                    var distance = (offset * normal).sum()
                    let t = (offset * along).sum()
                    for (f, a, p) in waves { distance += a * sin(f * t + p) }
                    return distance > -margin
                }
            }
        }
    }

    // MARK: Major roads

    /// A quadratic Bézier from `a` to `b` whose middle is pushed sideways by `bend`, as a polyline.
    private func curve(from a: MapPoint, to b: MapPoint, bend: Float, random: inout TileRandom) -> [MapPoint] {
        let direction = b - a
        let normal = MapPoint(-direction.y, direction.x) / (direction * direction).sum().squareRoot()
        let control = (a + b) / 2 + normal * bend
        let steps = 48
        return (0...steps).map { step in
            let t = Float(step) / Float(steps)
            return a * (1 - t) * (1 - t) + control * 2 * t * (1 - t) + b * t * t
        }
    }

    private mutating func addMajorRoad(_ points: [MapPoint], random: inout TileRandom) {
        let halfWidth = random.uniform(8, 13) * scale
        stroke(points, halfWidth: halfWidth + 5 * scale, paint: .clearBuildings)
        stroke(points, halfWidth: halfWidth, paint: .paint(.majorRoad), dashPeriod: 22 * scale)
        let lanes = [halfWidth * 0.5, -halfWidth * 0.5]
        let treeLine = random.chance(0.5)
        for (a, b) in zip(points, points.dropFirst()) {
            addCars(a, b, lanes: lanes, density: 0.02, random: &random)
            if treeLine { addStreetTrees(a, b, offset: halfWidth + 3 * scale, random: &random) }
        }
    }

    /// Drops objects that ended up under water, roofs or major roads once everything is drawn.
    private mutating func removeHiddenObjects() {
        func label(at point: MapPoint) -> TileClass? {
            let x = Int(point.x), y = Int(point.y)
            guard x >= 0, y >= 0, x < size, y < size else { return nil }
            return TileClass(rawValue: labels[y * size + x])
        }
        trees.removeAll { tree in
            guard let below = label(at: tree.center) else { return false }
            return below == .water || below == .building || below == .majorRoad
        }
        cars.removeAll { car in
            guard let below = label(at: car.center) else { return true }
            return below != .minorRoad && below != .majorRoad
        }
    }
}
