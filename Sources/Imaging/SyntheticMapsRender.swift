import DeepLearning
import Foundation

/// The Google Maps palette the map half is painted in (sRGB, 0…255).
enum MapPalette {
    static let land: SIMD3<Float> = [242, 239, 233]  // #f2efe9
    static let park: SIMD3<Float> = [200, 230, 201]  // #c8e6c9
    static let water: SIMD3<Float> = [170, 218, 255]  // #aadaff
    static let minorRoad: SIMD3<Float> = [255, 255, 255]  // #ffffff
    static let minorCasing: SIMD3<Float> = [224, 224, 224]  // #e0e0e0
    static let majorRoad: SIMD3<Float> = [248, 211, 139]  // #f8d38b
    static let majorCasing: SIMD3<Float> = [233, 188, 104]  // #e9bc68
    static let building: SIMD3<Float> = [232, 232, 232]  // #e8e8e8
    static let buildingOutline: SIMD3<Float> = [214, 214, 214]  // #d6d6d6

    /// The flat fill colour of each `TileClass`, indexed by raw value.
    static let fills: [SIMD3<Float>] = [land, park, water, minorRoad, majorRoad, building]
}

/// Smooth value noise in about [-1, 1]: random values on a lattice every `cell` pixels,
/// smoothstep-interpolated, summed over `octaves` halving cell sizes. `[size, size]`.
func fractalNoise(size: Int, cell: Float, octaves: Int, random: inout TileRandom) -> [Float] {
    var field = [Float](repeating: 0, count: size * size)
    var cell = max(cell, 1.5), amplitude: Float = 1, total: Float = 0
    for _ in 0..<octaves {
        let lattice = Int(Float(size) / cell) + 2
        var values = [Float](repeating: 0, count: lattice * lattice)
        for i in values.indices { values[i] = random.uniform(-1, 1) }
        values.withUnsafeBufferPointer { v in
            field.withUnsafeMutableBufferPointer { out in
                for y in 0..<size {
                    let fy = Float(y) / cell, iy = Int(fy)
                    var ty = fy - Float(iy)
                    ty = ty * ty * (3 - 2 * ty)
                    for x in 0..<size {
                        let fx = Float(x) / cell, ix = Int(fx)
                        var tx = fx - Float(ix)
                        tx = tx * tx * (3 - 2 * tx)
                        let row0 = iy * lattice + ix, row1 = row0 + lattice
                        let top = v[row0] + (v[row0 + 1] - v[row0]) * tx
                        let bottom = v[row1] + (v[row1 + 1] - v[row1]) * tx
                        out[y * size + x] += amplitude * (top + (bottom - top) * ty)
                    }
                }
            }
        }
        total += amplitude
        amplitude *= 0.5
        cell /= 2
    }
    let normaliser = 1.4 / total  // a sum of octaves rarely reaches its bound; stretch it back
    for i in field.indices { field[i] *= normaliser }
    return field
}

/// One `[1, 2, 1] / 4` blur pass along x then y over an `[size, size, 3]` image, in place.
func smoothTile(_ image: inout [Float], size: Int) {
    var scratch = image
    image.withUnsafeMutableBufferPointer { out in
        scratch.withUnsafeMutableBufferPointer { tmp in
            for (source, target, step) in [(out, tmp, 3), (tmp, out, 3 * size)] {
                for y in 0..<size {
                    for x in 0..<size {
                        let i = (y * size + x) * 3
                        let along = step == 3 ? x : y
                        let before = along > 0 ? i - step : i, after = along < size - 1 ? i + step : i
                        for c in 0..<3 {
                            target[i + c] = 0.25 * source[before + c] + 0.5 * source[i + c] + 0.25 * source[after + c]
                        }
                    }
                }
            }
        }
    }
}

/// Paints the map half: flat palette colours, casings on road edges and outlines on
/// buildings, then a light blur as a renderer's antialiasing would give. `[size, size, 3]`.
func renderMap(_ layout: TileLayout) -> [Float] {
    let n = layout.size
    var image = [Float](repeating: 0, count: n * n * 3)
    let roadMinor = TileClass.minorRoad.rawValue, roadMajor = TileClass.majorRoad.rawValue
    let building = TileClass.building.rawValue
    layout.labels.withUnsafeBufferPointer { label in
        image.withUnsafeMutableBufferPointer { out in
            for y in 0..<n {
                for x in 0..<n {
                    let i = y * n + x
                    let cls = label[i]
                    var color = MapPalette.fills[Int(cls)]
                    if cls == roadMinor || cls == roadMajor || cls == building {
                        // An edge pixel has a 4-neighbour of another kind (roads join each other freely).
                        var edge = false
                        for j in [x > 0 ? i - 1 : i, x < n - 1 ? i + 1 : i, y > 0 ? i - n : i, y < n - 1 ? i + n : i] {
                            let other = label[j]
                            edge =
                                edge || (cls == building ? other != building : other != roadMinor && other != roadMajor)
                        }
                        if edge {
                            color =
                                cls == building
                                ? MapPalette.buildingOutline
                                : cls == roadMajor ? MapPalette.majorCasing : MapPalette.minorCasing
                        }
                    }
                    out[3 * i] = color.x
                    out[3 * i + 1] = color.y
                    out[3 * i + 2] = color.z
                }
            }
        }
    }
    smoothTile(&image, size: n)
    return image
}
