import DeepLearning
import Foundation

/// Procedurally generated satellite/map tile pairs in the layout of the pix2pix maps dataset.
///
/// The real dataset (1096 training JPEGs of 1200×600: an aerial photo on the left, the same
/// area as a Google map on the right) cannot be downloaded here, so this draws small towns
/// twice from one layout (`TileLayout`): as a textured, noisy aerial photo — asphalt roads
/// partly hidden by tree crowns, roofs of varied colours with shading and shadows, grass,
/// dark water, per-tile lighting and colour — and as a clean map in Google's palette (land
/// #f2efe9, white minor roads with grey casing, yellow-orange major roads, light grey
/// buildings, green parks, #aadaff water; no trees). Translating one into the other needs
/// spatial context (what is under a tree, which grey is a roof and which a road), so it is a
/// learnable, non-trivial task rather than a recolouring.
///
/// Every tile depends only on `(seed, index)`.
public struct SyntheticMaps: Sendable {
    /// The generator's seed.
    public let seed: UInt64
    /// Side of one square tile in pixels (600 in the maps dataset).
    public let tileSize: Int

    /// Creates a generator of `tileSize`×`tileSize` tiles.
    public init(seed: UInt64, tileSize: Int = 600) {
        precondition(tileSize >= 16, "SyntheticMaps: tileSize \(tileSize) must be at least 16")
        self.seed = seed
        self.tileSize = tileSize
    }

    /// One tile pair: satellite `[S, S, 3]` and map `[S, S, 3]`, values 0…255.
    public func tile(_ index: Int) -> (satellite: Tensor, map: Tensor) {
        let tileSeed = SeededGenerator(seed: seed ^ (UInt64(index) &* 0x9E37_79B9_7F4A_7C15)).nextSeed()
        var generator = SeededGenerator(seed: tileSeed)
        let layout = TileLayout(size: tileSize, generator: &generator, seed: tileSeed)
        return TileRenderer(layout: layout, generator: &generator).render()
    }

    /// The side-by-side image `[S, 2S, 3]` (satellite left, map right): a maps-dataset file.
    public func pairImage(_ index: Int) -> Tensor {
        let (satellite, map) = tile(index)
        return concatenate([satellite, map], axis: 1)
    }
}

private extension SeededGenerator {
    func nextSeed() -> UInt64 {
        var copy = self
        return copy.next()
    }
}

/// Renders a layout into the two views.
private struct TileRenderer {
    let layout: TileLayout
    let size: Int
    // Per-tile photographic variation.
    let brightness: Float, contrast: Float, tint: (Float, Float, Float)
    let sun: (dx: Int, dy: Int)
    let landColor: (Float, Float, Float), grassColor: (Float, Float, Float), waterColor: (Float, Float, Float)

    init(layout: TileLayout, generator g: inout SeededGenerator) {
        self.layout = layout
        size = layout.size
        func uniform(_ a: Float, _ b: Float) -> Float { a + (b - a) * g.nextUnitFloat() }
        brightness = uniform(0.85, 1.15)
        contrast = uniform(0.85, 1.1)
        tint = (uniform(0.93, 1.07), uniform(0.95, 1.05), uniform(0.9, 1.08))
        let shadow = Swift.max(1, Int((3 * layout.scale).rounded()))
        sun = ([-1, 1][Int(g.next() % 2)] * shadow, [-1, 1][Int(g.next() % 2)] * shadow)
        landColor = (uniform(105, 135), uniform(105, 125), uniform(75, 95))
        grassColor = (uniform(60, 85), uniform(95, 120), uniform(50, 65))
        waterColor = (uniform(30, 50), uniform(60, 80), uniform(70, 90))
    }

    /// Smooth value noise in [0, 1) with cells of `cell` pixels.
    @inline(__always)
    func noise(_ x: Int, _ y: Int, cell: Float, salt: Int) -> Float {
        let fx = Float(x) / cell, fy = Float(y) / cell
        let ix = Int(Foundation.floor(fx)), iy = Int(Foundation.floor(fy))
        var tx = fx - Float(ix), ty = fy - Float(iy)
        tx = tx * tx * (3 - 2 * tx)
        ty = ty * ty * (3 - 2 * ty)
        let a = layout.hash(ix, iy, salt), b = layout.hash(ix + 1, iy, salt)
        let c = layout.hash(ix, iy + 1, salt), d = layout.hash(ix + 1, iy + 1, salt)
        return (a + (b - a) * tx) * (1 - ty) + (c + (d - c) * tx) * ty
    }

    func render() -> (satellite: Tensor, map: Tensor) {
        let count = size * size
        var ground = [GroundClass](repeating: .land, count: count)
        var building = [Int](repeating: 0, count: count)
        var edge = [Float](repeating: 0, count: count)
        ground.withUnsafeMutableBufferPointer { groundBuffer in
            building.withUnsafeMutableBufferPointer { buildingBuffer in
                edge.withUnsafeMutableBufferPointer { edgeBuffer in
                    let (gp, bp, ep) = (groundBuffer.baseAddress!, buildingBuffer.baseAddress!, edgeBuffer.baseAddress!)
                    concurrentChunks(size, grain: 8) { rows in
                        for y in rows {
                            for x in 0..<size {
                                let (kind, id, distance) = layout.ground(x, y)
                                gp[y * size + x] = kind
                                bp[y * size + x] = id
                                ep[y * size + x] = distance
                            }
                        }
                    }
                }
            }
        }
        var map = [Float](repeating: 0, count: count * 3)
        var satellite = [Float](repeating: 0, count: count * 3)
        ground.withUnsafeBufferPointer { groundBuffer in
            let gp = groundBuffer.baseAddress!
            func groundAt(_ x: Int, _ y: Int) -> GroundClass { gp[y * size + x] }
            map.withUnsafeMutableBufferPointer { drawMap(gp, $0.baseAddress!) }
            building.withUnsafeBufferPointer { bp in
                edge.withUnsafeBufferPointer { ep in
                    satellite.withUnsafeMutableBufferPointer { out in
                        drawSatellite(gp, bp.baseAddress!, ep.baseAddress!, out.baseAddress!, groundAt: groundAt)
                    }
                }
            }
        }
        return (Tensor(shape: [size, size, 3], scalars: satellite), Tensor(shape: [size, size, 3], scalars: map))
    }

    /// Google-maps palette with a one-pixel casing where roads and buildings meet other classes.
    func drawMap(_ ground: UnsafePointer<GroundClass>, _ out: UnsafeMutablePointer<Float>) {
        let casing = Swift.max(1, Int(layout.scale.rounded()))
        concurrentChunks(size, grain: 8) { rows in
            for y in rows {
                for x in 0..<size {
                    let kind = ground[y * size + x]
                    var onEdge = false
                    if kind == .minorRoad || kind == .majorRoad || kind == .building {
                        for (dx, dy) in [(-casing, 0), (casing, 0), (0, -casing), (0, casing)] {
                            let nx = x + dx, ny = y + dy
                            guard nx >= 0, nx < size, ny >= 0, ny < size else { continue }
                            let other = ground[ny * size + nx]
                            if other != kind && !(kind == .minorRoad && other == .majorRoad) { onEdge = true }
                        }
                    }
                    let color: (Float, Float, Float)
                    switch kind {
                    case .land: color = (242, 239, 233)
                    case .park: color = (200, 230, 201)
                    case .water: color = (170, 218, 255)
                    case .building: color = onEdge ? (212, 210, 207) : (232, 230, 227)
                    case .minorRoad: color = onEdge ? (215, 215, 215) : (255, 255, 255)
                    case .majorRoad: color = onEdge ? (230, 175, 90) : (248, 211, 139)
                    }
                    let o = (y * size + x) * 3
                    out[o] = color.0; out[o + 1] = color.1; out[o + 2] = color.2
                }
            }
        }
    }

    func drawSatellite(_ ground: UnsafePointer<GroundClass>, _ buildings: UnsafePointer<Int>, _ edges: UnsafePointer<Float>,
                       _ out: UnsafeMutablePointer<Float>, groundAt: (Int, Int) -> GroundClass) {
        let scale = layout.scale
        let roofs: [(Float, Float, Float)] = [(165, 165, 160), (150, 92, 72), (205, 198, 186), (108, 110, 116),
                                              (182, 150, 118), (125, 135, 140), (190, 120, 95)]
        var raw = [Float](repeating: 0, count: size * size * 3)
        raw.withUnsafeMutableBufferPointer { rawBuffer in
            let r = rawBuffer.baseAddress!
            concurrentChunks(size, grain: 8) { rows in
                for y in rows {
                    for x in 0..<size {
                        let i = y * size + x
                        let fine = noise(x, y, cell: 3 * scale, salt: 20) - 0.5
                        let coarse = noise(x, y, cell: 60 * scale, salt: 21) - 0.5
                        var color: (Float, Float, Float)
                        switch ground[i] {
                        case .land:
                            let patch = noise(x, y, cell: 25 * scale, salt: 22)
                            color = (landColor.0 * (0.85 + 0.3 * patch) + 30 * fine, landColor.1 * (0.9 + 0.25 * patch) + 25 * fine,
                                     landColor.2 * (0.9 + 0.2 * patch) + 20 * fine)
                        case .park:
                            color = (grassColor.0 + 25 * fine + 15 * coarse, grassColor.1 + 30 * fine + 20 * coarse,
                                     grassColor.2 + 15 * fine)
                        case .water:
                            let ripple = noise(x, y, cell: 8 * scale, salt: 23) - 0.5
                            color = (waterColor.0 + 10 * ripple + 8 * coarse, waterColor.1 + 12 * ripple + 10 * coarse,
                                     waterColor.2 + 12 * ripple)
                        case .minorRoad:
                            let grey = 112 + 22 * fine + 14 * coarse
                            color = (grey, grey, grey * 0.97)
                        case .majorRoad:
                            let grey = 88 + 18 * fine + 10 * coarse
                            color = (grey, grey, grey)
                        case .building:
                            let id = buildings[i]
                            let base = roofs[Int(layout.hash(id, 5, 30) * Float(roofs.count)) % roofs.count]
                            // A ridge: one half of the roof lit, the other in shade; darker rim.
                            let lit: Float = layout.hash(id, 6, 31) < 0.5
                                ? (noise(x, y, cell: 40 * scale, salt: id & 0xFFFF) < 0.5 ? 1.08 : 0.9)
                                : 1
                            let rim: Float = edges[i] < 2 * scale ? 0.8 : 1
                            color = (base.0 * lit * rim + 10 * fine, base.1 * lit * rim + 10 * fine, base.2 * lit * rim + 10 * fine)
                        }
                        // Shadows cast away from the sun by buildings onto lower ground.
                        if ground[i] != .building {
                            let sx = x - sun.dx, sy = y - sun.dy
                            if sx >= 0, sx < size, sy >= 0, sy < size, ground[sy * size + sx] == .building {
                                color = (color.0 * 0.55, color.1 * 0.55, color.2 * 0.6)
                            }
                        }
                        if let d = layout.canopy(x, y, groundAt: groundAt) {
                            let shade = 1.05 - 0.45 * d * d
                            let leaf = noise(x, y, cell: 2 * scale, salt: 24) - 0.5
                            color = ((38 + 20 * leaf) * shade, (70 + 28 * leaf) * shade, (36 + 14 * leaf) * shade)
                        }
                        r[i * 3] = color.0; r[i * 3 + 1] = color.1; r[i * 3 + 2] = color.2
                    }
                }
            }
            // Optics and sensor: a 3×3 blur, per-tile exposure and tint, and pixel noise.
            concurrentChunks(size, grain: 8) { rows in
                for y in rows {
                    for x in 0..<size {
                        var sum: (Float, Float, Float) = (0, 0, 0)
                        var weight: Float = 0
                        for dy in -1...1 {
                            for dx in -1...1 {
                                let nx = Swift.min(Swift.max(x + dx, 0), size - 1), ny = Swift.min(Swift.max(y + dy, 0), size - 1)
                                let w: Float = dx == 0 && dy == 0 ? 4 : (dx == 0 || dy == 0 ? 2 : 1)
                                let j = (ny * size + nx) * 3
                                sum = (sum.0 + w * r[j], sum.1 + w * r[j + 1], sum.2 + w * r[j + 2])
                                weight += w
                            }
                        }
                        let grain = (layout.hash(x, y, 40) - 0.5) * 14
                        let o = (y * size + x) * 3
                        let channels = [sum.0 / weight * tint.0, sum.1 / weight * tint.1, sum.2 / weight * tint.2]
                        for c in 0..<3 {
                            let v = ((channels[c] - 110) * contrast + 110) * brightness + grain
                            out[o + c] = Swift.min(Swift.max(v, 0), 255)
                        }
                    }
                }
            }
        }
    }
}
