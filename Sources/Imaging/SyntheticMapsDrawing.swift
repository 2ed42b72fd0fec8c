import DeepLearning
import Foundation

/// A city block between four streets, in grid coordinates (`u`, `v` are the grid's unit axes).
struct CityBlock {
    var origin: MapPoint, u: MapPoint, v: MapPoint
    var u0: Float, u1: Float, v0: Float, v1: Float
    /// The street grid the block belongs to; its buildings and park stay inside it.
    var district: UInt8

    var halfU: Float { (u1 - u0) / 2 }
    var halfV: Float { (v1 - v0) / 2 }
    var center: MapPoint { world((u0 + u1) / 2, (v0 + v1) / 2) }
    func world(_ a: Float, _ b: Float) -> MapPoint { origin + u * a + v * b }
}

/// The rasterising and object-placing primitives of `TileLayout`.
extension TileLayout {
    /// Paints a thick polyline (round joins and caps). `district` restricts it to one street
    /// grid; `dashPeriod > 0` adds a dashed centre line to `markings`.
    mutating func stroke(
        _ points: [MapPoint], halfWidth: Float, paint: Paint,
        district: UInt8? = nil, dashPeriod: Float = 0
    ) {
        let n = size
        let lineHalfWidth = max(0.8 * scale, 0.5)
        var along: Float = 0
        labels.withUnsafeMutableBufferPointer { label in
            buildingIndex.withUnsafeMutableBufferPointer { owner in
                markings.withUnsafeMutableBufferPointer { marking in
                    districts.withUnsafeBufferPointer { districtOf in
                        for (a, b) in zip(points, points.dropFirst()) {
                            let delta = b - a
                            let length = (delta * delta).sum().squareRoot()
                            guard length > 0 else { continue }
                            let direction = delta / length
                            let x0 = max(0, Int(min(a.x, b.x) - halfWidth)),
                                x1 = min(n - 1, Int(max(a.x, b.x) + halfWidth) + 1)
                            let y0 = max(0, Int(min(a.y, b.y) - halfWidth)),
                                y1 = min(n - 1, Int(max(a.y, b.y) + halfWidth) + 1)
                            if x0 <= x1 && y0 <= y1 {
                                for y in y0...y1 {
                                    for x in x0...x1 {
                                        let i = y * n + x
                                        if let district, districtOf[i] != district { continue }
                                        let offset = MapPoint(Float(x) + 0.5, Float(y) + 0.5) - a
                                        let t = (offset * direction).sum()
                                        let lateral = direction.x * offset.y - direction.y * offset.x
                                        let tc = min(max(t, 0), length)
                                        let distanceSquared = (t - tc) * (t - tc) + lateral * lateral
                                        guard distanceSquared <= halfWidth * halfWidth else { continue }
                                        switch paint {
                                        case .clearBuildings:
                                            if label[i] == TileClass.building.rawValue {
                                                label[i] = TileClass.land.rawValue
                                                owner[i] = -1
                                            }
                                        case .sidewalk:
                                            if label[i] == TileClass.land.rawValue { marking[i] = 2 }
                                        case .paint(let cls):
                                            label[i] = cls.rawValue
                                            owner[i] = -1
                                            let dashed =
                                                dashPeriod > 0 && abs(lateral) < lineHalfWidth && t == tc
                                                && (along + t).truncatingRemainder(dividingBy: dashPeriod) < dashPeriod
                                                    * 0.5
                                            if dashed { marking[i] = 1 } else if t == tc { marking[i] = 0 }
                                        }
                                    }
                                }
                            }
                            along += length
                        }
                    }
                }
            }
        }
    }

    /// Paints a rotated rectangle over the land of one district; `building` records its owner index.
    mutating func fillRect(
        _ center: MapPoint, axis: MapPoint, halfLength: Float, halfWidth: Float,
        paint: TileClass, district: UInt8, building: Int32 = -1
    ) {
        let n = size
        let reach = (halfLength * halfLength + halfWidth * halfWidth).squareRoot() + 1
        let x0 = max(0, Int(center.x - reach)), x1 = min(n - 1, Int(center.x + reach))
        let y0 = max(0, Int(center.y - reach)), y1 = min(n - 1, Int(center.y + reach))
        guard x0 <= x1, y0 <= y1 else { return }
        labels.withUnsafeMutableBufferPointer { label in
            buildingIndex.withUnsafeMutableBufferPointer { owner in
                districts.withUnsafeBufferPointer { districtOf in
                    for y in y0...y1 {
                        for x in x0...x1 {
                            let i = y * n + x
                            guard label[i] == TileClass.land.rawValue, districtOf[i] == district else { continue }
                            let offset = MapPoint(Float(x) + 0.5, Float(y) + 0.5) - center
                            let along = (offset * axis).sum(), across = axis.x * offset.y - axis.y * offset.x
                            guard abs(along) <= halfLength, abs(across) <= halfWidth else { continue }
                            label[i] = paint.rawValue
                            owner[i] = building
                        }
                    }
                }
            }
        }
    }

    /// Paints every pixel of the bounding box [x0, x1) × [y0, y1) where `contains` holds.
    mutating func fillShape(
        paint: Paint, x0: Int = 0, y0: Int = 0, x1: Int? = nil, y1: Int? = nil,
        _ contains: (MapPoint) -> Bool
    ) {
        let n = size
        let xs = max(0, x0)..<min(n, x1 ?? n), ys = max(0, y0)..<min(n, y1 ?? n)
        labels.withUnsafeMutableBufferPointer { label in
            buildingIndex.withUnsafeMutableBufferPointer { owner in
                markings.withUnsafeMutableBufferPointer { marking in
                    for y in ys {
                        for x in xs where contains(MapPoint(Float(x) + 0.5, Float(y) + 0.5)) {
                            let i = y * n + x
                            switch paint {
                            case .clearBuildings, .sidewalk:
                                if label[i] == TileClass.building.rawValue { label[i] = TileClass.land.rawValue }
                            case .paint(let cls):
                                label[i] = cls.rawValue
                                marking[i] = 0
                            }
                            owner[i] = -1
                        }
                    }
                }
            }
        }
    }

    // MARK: Objects

    /// Trees along one or both sides of the street a→b, `offset` from its centre line.
    mutating func addStreetTrees(_ a: MapPoint, _ b: MapPoint, offset: Float, random: inout TileRandom) {
        guard random.chance(0.35) else { return }
        let delta = b - a
        let length = (delta * delta).sum().squareRoot()
        let direction = delta / length, normal = MapPoint(-direction.y, direction.x)
        let sides: [Float] = random.chance(0.5) ? [1, -1] : [random.chance(0.5) ? 1 : -1]
        let spacing = random.uniform(12, 22) * scale
        for side in sides {
            var t = random.uniform(0, spacing)
            while t < length {
                if random.chance(0.85) {
                    trees.append(
                        Tree(
                            center: a + direction * t + normal * side * (offset + random.uniform(0, 2) * scale),
                            radius: random.uniform(4, 7) * scale, tone: random.uniform(0.8, 1.2)))
                }
                t += spacing * random.uniform(0.8, 1.2)
            }
        }
    }

    /// Cars along a→b on the given lane offsets, `density` cars per pixel per lane.
    mutating func addCars(_ a: MapPoint, _ b: MapPoint, lanes: [Float], density: Float, random: inout TileRandom) {
        let delta = b - a
        let length = (delta * delta).sum().squareRoot()
        let direction = delta / length, normal = MapPoint(-direction.y, direction.x)
        let palette: [SIMD3<Float>] = [
            [235, 235, 230], [30, 30, 35], [150, 150, 155], [160, 30, 30], [40, 60, 120], [200, 200, 205],
        ]
        for lane in lanes {
            for _ in 0..<Int(length * density / scale + random.uniform(0, 1)) {
                cars.append(
                    Car(
                        center: a + direction * random.uniform(0, length) + normal * lane,
                        axis: direction, color: palette[random.integer(0, palette.count - 1)]))
            }
        }
    }

    /// `count` trees at random spots of a block, avoiding its buildings' centres.
    mutating func addScatteredTrees(
        in block: CityBlock, count: Int, radius: ClosedRange<Float>, random: inout TileRandom
    ) {
        for _ in 0..<count {
            let center = block.world(random.uniform(block.u0, block.u1), random.uniform(block.v0, block.v1))
            trees.append(
                Tree(
                    center: center, radius: random.uniform(radius.lowerBound, radius.upperBound) * scale,
                    tone: random.uniform(0.75, 1.25)))
        }
    }

    /// Houses in rows along all four sides of a block, set back from the street, facing it.
    mutating func addHouses(in block: CityBlock, random: inout TileRandom) {
        let setback = random.uniform(2, 6) * scale
        let depth = min(random.uniform(14, 24) * scale, block.halfV - setback - 1, block.halfU - setback - 1)
        guard depth > 6 * scale else { return }
        let gabled = random.chance(0.7)
        let roofPalette: [SIMD3<Float>] = [
            [150, 82, 62], [120, 70, 55], [95, 95, 100], [140, 140, 138],
            [170, 156, 138], [70, 72, 80], [176, 108, 80],
        ]
        let streetRoof = roofPalette[random.integer(0, roofPalette.count - 1)]
        let centerU = (block.u0 + block.u1) / 2, centerV = (block.v0 + block.v1) / 2
        // Rows along the v0/v1 streets span the block; rows along the u0/u1 streets fill the
        // gap between them, so corners are not built twice.
        let inner = setback + depth + 3 * scale
        let rows: [(alongU: Bool, side: Float, from: Float, to: Float)] = [
            (true, -1, block.u0, block.u1), (true, 1, block.u0, block.u1),
            (false, -1, block.v0 + inner, block.v1 - inner), (false, 1, block.v0 + inner, block.v1 - inner),
        ]
        for row in rows {
            let rowOffset = row.side * ((row.alongU ? block.halfV : block.halfU) - setback)
            var position = row.from + random.uniform(1, 6) * scale
            while true {
                let width = random.uniform(12, 24) * scale
                guard position + width < row.to - 1 else { break }
                if random.chance(0.9) {
                    let angle = random.uniform(-0.05, 0.05)
                    let axis = MapPoint(
                        block.u.x * cos(angle) - block.u.y * sin(angle), block.u.x * sin(angle) + block.u.y * cos(angle)
                    )
                    let roof = random.chance(0.6) ? streetRoof : roofPalette[random.integer(0, roofPalette.count - 1)]
                    let houseDepth = depth * random.uniform(0.7, 1)
                    let across = rowOffset - row.side * houseDepth / 2
                    let along = position + width / 2
                    let center =
                        row.alongU ? block.world(along, centerV + across) : block.world(centerU + across, along)
                    addBuilding(
                        in: block,
                        Building(
                            center: center, axis: axis,
                            halfLength: (row.alongU ? width : houseDepth) / 2,
                            halfWidth: (row.alongU ? houseDepth : width) / 2,
                            height: random.uniform(4, 9) * scale,
                            roof: roof + SIMD3(repeating: random.uniform(-15, 15)), gabled: gabled))
                }
                position += width + random.uniform(3, 9) * scale
            }
        }
    }

    /// One to three large flat-roofed buildings (shops, flats, warehouses) filling a block.
    mutating func addLargeBuildings(in block: CityBlock, random: inout TileRandom) {
        let inset = random.uniform(3, 9) * scale
        let halfU = block.halfU - inset, halfV = block.halfV - inset
        guard halfU > 8 * scale, halfV > 8 * scale else { return }
        let pieces = random.integer(1, 3)
        let gap = 5 * scale
        let pieceHalf = (2 * halfU - Float(pieces - 1) * gap) / Float(2 * pieces)
        let roofPalette: [SIMD3<Float>] = [
            [190, 190, 188], [150, 152, 155], [110, 112, 118], [196, 193, 186], [130, 120, 110],
        ]
        for piece in 0..<pieces {
            let u = block.u0 + inset + pieceHalf + Float(piece) * (2 * pieceHalf + gap)
            let shrink = random.uniform(0.7, 1)
            addBuilding(
                in: block,
                Building(
                    center: block.world(u, (block.v0 + block.v1) / 2), axis: block.u,
                    halfLength: pieceHalf * random.uniform(0.8, 1), halfWidth: halfV * shrink,
                    height: random.uniform(8, 20) * scale,
                    roof: roofPalette[random.integer(0, roofPalette.count - 1)]
                        + SIMD3(repeating: random.uniform(-12, 12)),
                    gabled: false))
        }
    }

    /// Adds a building unless a corner pokes into another district (it would be cut into a wedge).
    mutating func addBuilding(in block: CityBlock, _ building: Building) {
        let across = MapPoint(-building.axis.y, building.axis.x)
        for (a, b) in [(Float(1), Float(1)), (1, -1), (-1, 1), (-1, -1)] {
            let corner = building.center + building.axis * a * building.halfLength + across * b * building.halfWidth
            let x = Int(corner.x), y = Int(corner.y)
            if x >= 0, y >= 0, x < size, y < size, districts[y * size + x] != block.district { return }
        }
        buildings.append(building)
        fillRect(
            building.center, axis: building.axis, halfLength: building.halfLength, halfWidth: building.halfWidth,
            paint: .building, district: block.district, building: Int32(buildings.count - 1))
    }
}
