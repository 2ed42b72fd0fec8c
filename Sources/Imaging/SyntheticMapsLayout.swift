import DeepLearning
import Foundation

/// What the ground is at a pixel: the map view shows exactly this.
enum GroundClass: UInt8 {
    case land = 0, minorRoad, majorRoad, building, park, water
}

/// The procedural layout of one town tile: every query is O(1) per pixel, so a 600×600 tile
/// is laid out in one pass without any drawing lists.
///
/// A rotated street grid with jittered spacing splits the tile into blocks; each block is a
/// park, an open lot or a set of lots with one building each; one or two major roads (straight
/// or gently curved) cross the tile; some tiles have a river or a lake; trees grow on a
/// jittered cell grid, densely in parks and sparsely elsewhere, and hide what is under them
/// from the satellite only.
struct TileLayout {
    let size: Int
    let scale: Float                    // pixels of this tile per pixel of a 600-pixel tile
    let angle: Float                    // street grid rotation
    let spacingU: Float, spacingV: Float
    let offsetU: Float, offsetV: Float
    let minorWidth: Float, majorWidth: Float
    let majorRoads: [(angle: Float, offset: Float, amplitude: Float, frequency: Float, phase: Float)]
    let river: (angle: Float, offset: Float, amplitude: Float, frequency: Float, phase: Float, width: Float)?
    let lake: (x: Float, y: Float, radius: Float)?
    let parkProbability: Float
    let treeCell: Float
    let seed: UInt64

    init(size: Int, generator g: inout SeededGenerator, seed: UInt64) {
        self.size = size
        self.seed = seed
        let scale = Float(size) / 600
        self.scale = scale
        func uniform(_ a: Float, _ b: Float) -> Float { a + (b - a) * g.nextUnitFloat() }
        angle = uniform(-0.6, 0.6)
        spacingU = uniform(70, 120) * scale
        spacingV = uniform(55, 110) * scale
        offsetU = uniform(0, 200) * scale
        offsetV = uniform(0, 200) * scale
        minorWidth = uniform(7, 10) * scale
        majorWidth = uniform(15, 22) * scale
        var roads: [(angle: Float, offset: Float, amplitude: Float, frequency: Float, phase: Float)] = []
        for _ in 0..<(g.nextUnitFloat() < 0.35 ? 2 : 1) {
            let curved = g.nextUnitFloat() < 0.5
            roads.append((uniform(-1.5, 1.5), uniform(-150, 150) * scale,
                          curved ? uniform(10, 45) * scale : 0, uniform(0.004, 0.012) / scale, uniform(0, 6.28)))
        }
        majorRoads = roads
        river = g.nextUnitFloat() < 0.3
            ? (uniform(-1.5, 1.5), uniform(-200, 200) * scale, uniform(20, 70) * scale, uniform(0.004, 0.01) / scale,
               uniform(0, 6.28), uniform(30, 60) * scale)
            : nil
        lake = river == nil && g.nextUnitFloat() < 0.3
            ? (uniform(0, 600) * scale, uniform(0, 600) * scale, uniform(50, 120) * scale) : nil
        parkProbability = uniform(0.08, 0.25)
        treeCell = 13 * scale
    }

    /// A deterministic hash of integers to [0, 1).
    @inline(__always)
    func hash(_ a: Int, _ b: Int, _ salt: Int) -> Float {
        var z = seed &+ UInt64(bitPattern: Int64(a)) &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ UInt64(bitPattern: Int64(b)) &* 0xC2B2_AE3D_27D4_EB4F) &+ UInt64(salt) &* 0x1656_67B1_9E37_79F9
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Float((z ^ (z >> 31)) >> 40) / 16_777_216
    }

    /// Grid coordinates (u, v) of pixel (x, y): the street grid is axis-aligned in (u, v).
    @inline(__always)
    func gridCoordinates(_ x: Float, _ y: Float) -> (Float, Float) {
        let c = Foundation.cos(angle), s = Foundation.sin(angle)
        return (c * x + s * y + offsetU, -s * x + c * y + offsetV)
    }

    /// Distance from a curved line (rotated by `angle`, shifted by `offset`, a sine of
    /// `amplitude`) to the pixel, in pixels.
    @inline(__always)
    func curveDistance(_ x: Float, _ y: Float, angle: Float, offset: Float, amplitude: Float, frequency: Float,
                       phase: Float) -> Float {
        let cx = x - Float(size) / 2, cy = y - Float(size) / 2
        let c = Foundation.cos(angle), s = Foundation.sin(angle)
        let along = c * cx + s * cy, across = -s * cx + c * cy - offset
        return Swift.abs(across - amplitude * Foundation.sin(frequency * along + phase))
    }

    /// The ground class at a pixel, and for buildings an id and the distance to the roof edge.
    func ground(_ x: Int, _ y: Int) -> (GroundClass, building: Int, edge: Float) {
        let fx = Float(x), fy = Float(y)
        if let river, curveDistance(fx, fy, angle: river.angle, offset: river.offset, amplitude: river.amplitude,
                                    frequency: river.frequency, phase: river.phase) < river.width / 2 {
            // Major roads bridge rivers; minor roads stop at the bank.
            for road in majorRoads where curveDistance(fx, fy, angle: road.angle, offset: road.offset, amplitude: 0,
                                                       frequency: 0, phase: 0) < majorWidth / 2 {
                return (.majorRoad, 0, 0)
            }
            return (.water, 0, 0)
        }
        if let lake {
            let dx = fx - lake.x, dy = fy - lake.y
            let wobble = 1 + 0.25 * Foundation.sin(3 * Foundation.atan2(dy, dx) + lake.radius)
            if dx * dx + dy * dy < lake.radius * lake.radius * wobble * wobble { return (.water, 0, 0) }
        }
        for road in majorRoads where curveDistance(fx, fy, angle: road.angle, offset: road.offset,
                                                   amplitude: road.amplitude, frequency: road.frequency,
                                                   phase: road.phase) < majorWidth / 2 {
            return (.majorRoad, 0, 0)
        }
        let (u, v) = gridCoordinates(fx, fy)
        let cellU = Int(Foundation.floor(u / spacingU)), cellV = Int(Foundation.floor(v / spacingV))
        let localU = u - Float(cellU) * spacingU, localV = v - Float(cellV) * spacingV
        let half = minorWidth / 2
        // Some street segments are missing, which merges blocks into larger ones.
        let roadU = hash(cellU, cellV, 1) > 0.12, roadV = hash(cellU, cellV, 2) > 0.12
        if (roadU && (localU < half || localU > spacingU - half)) || (roadV && (localV < half || localV > spacingV - half)) {
            return (.minorRoad, 0, 0)
        }
        let blockKind = hash(cellU, cellV, 3)
        if blockKind < parkProbability { return (.park, 0, 0) }
        if blockKind < parkProbability + 0.07 { return (.land, 0, 0) }
        // Lots: the block is split into 1–3 × 1–3 lots, each with one building set back from
        // the street and its neighbours.
        let lotsU = 1 + Int(hash(cellU, cellV, 4) * 3), lotsV = 1 + Int(hash(cellU, cellV, 5) * 3)
        let lotU = Swift.min(Int(localU / spacingU * Float(lotsU)), lotsU - 1)
        let lotV = Swift.min(Int(localV / spacingV * Float(lotsV)), lotsV - 1)
        let id = ((cellU & 0xFFF) << 20) | ((cellV & 0xFFF) << 8) | (lotU << 4) | lotV
        guard hash(id, 0, 6) > 0.12 else { return (.land, 0, 0) }
        let lotWidth = spacingU / Float(lotsU), lotHeight = spacingV / Float(lotsV)
        let inU = localU - Float(lotU) * lotWidth, inV = localV - Float(lotV) * lotHeight
        let margin = half + 3 * scale
        let left = margin + hash(id, 1, 7) * lotWidth * 0.2, right = lotWidth - margin - hash(id, 2, 7) * lotWidth * 0.2
        let top = margin + hash(id, 3, 7) * lotHeight * 0.2, bottom = lotHeight - margin - hash(id, 4, 7) * lotHeight * 0.2
        if inU > left && inU < right && inV > top && inV < bottom {
            let edge = Swift.min(Swift.min(inU - left, right - inU), Swift.min(inV - top, bottom - inV))
            return (.building, id, edge)
        }
        return (.land, 0, 0)
    }

    /// Whether a tree canopy covers the pixel, and how far from the crown's centre (0…1).
    /// `groundAt` gives the ground class at a tree's centre, which sets how likely a tree is.
    func canopy(_ x: Int, _ y: Int, groundAt: (Int, Int) -> GroundClass) -> Float? {
        let cellX = Int(Float(x) / treeCell), cellY = Int(Float(y) / treeCell)
        var best: Float?
        for dy in -1...1 {
            for dx in -1...1 {
                let cx = cellX + dx, cy = cellY + dy
                let tx = (Float(cx) + hash(cx, cy, 8)) * treeCell, ty = (Float(cy) + hash(cx, cy, 9)) * treeCell
                let ix = Swift.min(Swift.max(Int(tx), 0), size - 1), iy = Swift.min(Swift.max(Int(ty), 0), size - 1)
                let probability: Float
                switch groundAt(ix, iy) {
                case .park: probability = 0.55
                case .land: probability = 0.3
                case .minorRoad: probability = 0.06
                default: probability = 0
                }
                guard hash(cx, cy, 10) < probability else { continue }
                let radius = (4 + 5 * hash(cx, cy, 11)) * scale
                let d = ((Float(x) - tx) * (Float(x) - tx) + (Float(y) - ty) * (Float(y) - ty)).squareRoot() / radius
                if d < 1 { best = Swift.min(best ?? 1, d) }
            }
        }
        return best
    }
}
