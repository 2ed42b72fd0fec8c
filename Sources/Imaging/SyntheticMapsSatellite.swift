import DeepLearning
import Foundation

/// The per-tile look of the satellite photo: sun direction, surface colours and camera
/// response all vary between tiles, as between real aerial photos.
private struct SatelliteLook {
    var shadowDirection: MapPoint
    var grass: SIMD3<Float>, dryGrass: SIMD3<Float>, parkGrass: SIMD3<Float>
    var dryness: Float, concrete: SIMD3<Float>
    var water: SIMD3<Float>, asphalt: SIMD3<Float>, highwayAsphalt: SIMD3<Float>, treeGreen: SIMD3<Float>
    var gain: SIMD3<Float>, contrast: Float, saturation: Float
    var haze: Float, hazeColor: SIMD3<Float>, noise: Float, blurPasses: Int

    init(random: inout TileRandom) {
        let sun = random.uniform(0, 2 * .pi)
        shadowDirection = MapPoint(cos(sun), sin(sun))
        func jitter(_ base: SIMD3<Float>, _ amount: Float) -> SIMD3<Float> {
            base
                + SIMD3(
                    random.uniform(-amount, amount), random.uniform(-amount, amount), random.uniform(-amount, amount))
        }
        grass = jitter([88, 100, 66], 10)
        dryGrass = jitter([140, 130, 104], 12)
        parkGrass = jitter([74, 102, 56], 10)
        dryness = random.uniform(0.1, 0.6)
        concrete = jitter([162, 160, 154], 10)
        water = jitter([40, 60, 66], 8)
        asphalt = jitter([118, 117, 114], 10)
        highwayAsphalt = jitter([92, 93, 96], 8)
        treeGreen = jitter([46, 66, 38], 6)
        // White balance between warm and cool (never magenta or green), then exposure.
        let warmth = random.uniform(-0.07, 0.07)
        gain = SIMD3(1 + warmth, 1 + random.uniform(-0.02, 0.02), 1 - warmth) * random.uniform(0.85, 1.15)
        contrast = random.uniform(0.85, 1.2)
        saturation = random.uniform(0.6, 1.15)
        haze = random.uniform(0, 0.2)
        hazeColor = jitter([170, 178, 185], 10)
        noise = random.uniform(2, 7)
        blurPasses = random.integer(1, 2)
    }
}

/// Paints the satellite half of a tile: textured surfaces per class, gabled or flat roofs,
/// cast shadows, cars, tree canopies over everything, then lighting, colour jitter, blur and
/// sensor noise. `[size, size, 3]`, 0…255.
func renderSatellite(_ layout: TileLayout, random: inout TileRandom) -> [Float] {
    let n = layout.size, scale = layout.scale
    let look = SatelliteLook(random: &random)
    let light = -look.shadowDirection
    let illumination = fractalNoise(size: n, cell: 220 * scale, octaves: 2, random: &random)
    let tone = fractalNoise(size: n, cell: 50 * scale, octaves: 3, random: &random)
    let fine = fractalNoise(size: n, cell: 3 * scale, octaves: 2, random: &random)
    var image = [Float](repeating: 0, count: n * n * 3)
    var shadow = [Float](repeating: 1, count: n * n)

    layout.labels.withUnsafeBufferPointer { label in
        layout.buildingIndex.withUnsafeBufferPointer { owner in
            layout.markings.withUnsafeBufferPointer { marking in
                layout.buildings.withUnsafeBufferPointer { buildings in
                    tone.withUnsafeBufferPointer { tone in
                        fine.withUnsafeBufferPointer { fine in
                            image.withUnsafeMutableBufferPointer { out in
                                shadow.withUnsafeMutableBufferPointer { shade in
                                    // Surfaces.
                                    for y in 0..<n {
                                        for x in 0..<n {
                                            let i = y * n + x
                                            let t = tone[i], f = fine[i]
                                            var color: SIMD3<Float>
                                            switch TileClass(rawValue: label[i])! {
                                            case .land:
                                                if marking[i] == 2 {
                                                    color = look.concrete * (1 + 0.04 * t) + SIMD3(repeating: 6 * f)
                                                } else {
                                                    let dryness = min(max(look.dryness + 0.6 * t, 0), 1)
                                                    color =
                                                        look.grass + (look.dryGrass - look.grass) * dryness
                                                        + SIMD3(repeating: 12 * f)
                                                }
                                            case .park:
                                                color = look.parkGrass * (1 + 0.12 * t) + SIMD3(repeating: 10 * f)
                                            case .water:
                                                color = look.water * (1 + 0.08 * t) + SIMD3(repeating: 2 * f)
                                            case .minorRoad:
                                                color = look.asphalt * (1 + 0.05 * t) + SIMD3(repeating: 7 * f)
                                            case .majorRoad:
                                                color =
                                                    marking[i] == 1
                                                    ? SIMD3(205, 205, 195)
                                                    : look.highwayAsphalt * (1 + 0.04 * t) + SIMD3(repeating: 5 * f)
                                            case .building:
                                                let b = buildings[Int(owner[i])]
                                                let offset = MapPoint(Float(x) + 0.5, Float(y) + 0.5) - b.center
                                                let along = (offset * b.axis).sum(),
                                                    across = b.axis.x * offset.y - b.axis.y * offset.x
                                                let edge = min(b.halfLength - abs(along), b.halfWidth - abs(across))
                                                var brightness: Float
                                                if b.gabled {
                                                    // Two roof faces meeting at a ridge along the long side; the face
                                                    // turned to the sun is lighter.
                                                    let normal =
                                                        b.halfLength >= b.halfWidth
                                                        ? MapPoint(-b.axis.y, b.axis.x) * (across >= 0 ? 1 : -1)
                                                        : b.axis * (along >= 0 ? 1 : -1)
                                                    brightness = 1 + 0.25 * (normal * light).sum()
                                                    if edge < 1.2 * scale { brightness *= 0.85 }
                                                } else {
                                                    brightness = edge < 1.8 * scale ? 1.1 : 1 + 0.06 * t + 0.04 * f
                                                }
                                                color = b.roof * brightness + SIMD3(repeating: 6 * f)
                                            }
                                            out[3 * i] = color.x
                                            out[3 * i + 1] = color.y
                                            out[3 * i + 2] = color.z
                                        }
                                    }

                                    // Building shadows: march from each roof pixel whose neighbour down-sun is not the
                                    // same roof, so every shadow is cast by the roof's edge only.
                                    let sd = look.shadowDirection
                                    for y in 0..<n {
                                        for x in 0..<n {
                                            let i = y * n + x
                                            let id = owner[i]
                                            guard id >= 0 else { continue }
                                            let px = Float(x) + 0.5, py = Float(y) + 0.5
                                            let nx = Int(px + sd.x * 1.5), ny = Int(py + sd.y * 1.5)
                                            if nx >= 0, ny >= 0, nx < n, ny < n, owner[ny * n + nx] == id { continue }
                                            let height = buildings[Int(id)].height
                                            var step: Float = 1
                                            while step <= height {
                                                let qx = Int(px + sd.x * step), qy = Int(py + sd.y * step)
                                                guard qx >= 0, qy >= 0, qx < n, qy < n else { break }
                                                if owner[qy * n + qx] < 0 { shade[qy * n + qx] = 0.5 }
                                                step += 0.7
                                            }
                                        }
                                    }
                                    for tree in layout.trees {
                                        let center = tree.center + sd * tree.radius * 1.3
                                        forEachPixel(in: center, radius: tree.radius, size: n) { i, offset in
                                            if owner[i] < 0 { shade[i] = min(shade[i], 0.6) }
                                        }
                                    }
                                    for i in 0..<(n * n) where shade[i] < 1 {
                                        for c in 0..<3 { out[3 * i + c] *= shade[i] }
                                    }

                                    // Cars, then tree canopies over everything (roads and yards included).
                                    let carHalfLength = 3.6 * scale, carHalfWidth = 1.7 * scale
                                    for car in layout.cars {
                                        forEachPixel(in: car.center, radius: carHalfLength, size: n) { i, offset in
                                            let along = (offset * car.axis).sum(),
                                                across = car.axis.x * offset.y - car.axis.y * offset.x
                                            guard abs(along) <= carHalfLength, abs(across) <= carHalfWidth else {
                                                return
                                            }
                                            let windshield =
                                                along > 0.25 * carHalfLength && along < 0.55 * carHalfLength
                                            let color = car.color * (windshield ? 0.45 : 1)
                                            out[3 * i] = color.x
                                            out[3 * i + 1] = color.y
                                            out[3 * i + 2] = color.z
                                        }
                                    }
                                    for tree in layout.trees {
                                        forEachPixel(in: tree.center, radius: tree.radius, size: n) { i, offset in
                                            let relative = offset / tree.radius
                                            let brightness =
                                                0.78 + 0.32 * (relative * light).sum() - 0.18
                                                * (relative * relative).sum() + 0.25 * fine[i]
                                            let color = look.treeGreen * tree.tone * brightness
                                            out[3 * i] = color.x
                                            out[3 * i + 1] = color.y
                                            out[3 * i + 2] = color.z
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    // Camera: uneven illumination, contrast, saturation, white balance, haze.
    image.withUnsafeMutableBufferPointer { out in
        illumination.withUnsafeBufferPointer { light in
            for i in 0..<(n * n) {
                var color = SIMD3(out[3 * i], out[3 * i + 1], out[3 * i + 2])
                let grey = (color.x + color.y + color.z) / 3
                color = SIMD3(repeating: grey) + (color - SIMD3(repeating: grey)) * look.saturation
                color = (color - 110) * look.contrast + 110
                color = color * look.gain * (1 + 0.13 * light[i])
                color = color * (1 - look.haze) + look.hazeColor * look.haze
                out[3 * i] = color.x
                out[3 * i + 1] = color.y
                out[3 * i + 2] = color.z
            }
        }
    }
    for _ in 0..<look.blurPasses { smoothTile(&image, size: n) }
    image.withUnsafeMutableBufferPointer { out in
        for i in 0..<out.count {
            // Sum of three uniforms ≈ a normal; sensor noise is per channel.
            let noise = (random.uniform(-1, 1) + random.uniform(-1, 1) + random.uniform(-1, 1)) * look.noise * 0.58
            out[i] = min(max(out[i] + noise, 0), 255)
        }
    }
    return image
}

/// Calls `body(index, offsetFromCenter)` for each in-bounds pixel within `radius` of `center`.
@inline(__always)
private func forEachPixel(in center: MapPoint, radius: Float, size n: Int, _ body: (Int, MapPoint) -> Void) {
    let x0 = max(0, Int(center.x - radius)), x1 = min(n - 1, Int(center.x + radius))
    let y0 = max(0, Int(center.y - radius)), y1 = min(n - 1, Int(center.y + radius))
    guard x0 <= x1, y0 <= y1 else { return }
    for y in y0...y1 {
        for x in x0...x1 {
            let offset = MapPoint(Float(x) + 0.5, Float(y) + 0.5) - center
            if (offset * offset).sum() <= radius * radius { body(y * n + x, offset) }
        }
    }
}
