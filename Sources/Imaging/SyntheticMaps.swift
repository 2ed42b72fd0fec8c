import DeepLearning
import Foundation

/// Procedurally generated satellite/map tile pairs in the layout of the pix2pix maps dataset.
///
/// The real dataset (1096 training JPEGs of 1200×600, an aerial photo on the left and the
/// same area as a Google map on the right) cannot be downloaded everywhere, so this draws the
/// same kind of data: a small town's layout — a perturbed street grid or two, major roads,
/// houses and larger buildings, parks, a river, lake or coast, trees and cars — rendered twice.
/// The map half is flat colours in the Google Maps palette (`#f2efe9` land, `#ffffff` streets
/// with `#e0e0e0` casing, `#f8d38b` major roads, `#e8e8e8` buildings, `#c8e6c9` parks,
/// `#aadaff` water). The satellite half is textured and deliberately ambiguous per pixel:
/// tree canopies hide streets, roofs vary in colour and share greys with asphalt, shadows
/// darken everything, and sun direction, colours, haze, blur and noise change between tiles,
/// so translating it needs spatial context, as with real photos.
///
/// ```swift
/// let maps = SyntheticMaps(seed: 42)
/// let (satellite, map) = maps.tile(0)     // [600, 600, 3] each, 0…255
/// let file = maps.pairImage(0)            // [600, 1200, 3], like one maps-dataset JPEG
/// ```
public struct SyntheticMaps {
    /// The seed of the whole (infinite) dataset.
    public let seed: UInt64
    /// The side of each half in pixels; 600 as in the maps dataset. Scene features scale with it.
    public let tileSize: Int

    /// - Parameters:
    ///   - seed: Selects the dataset; tile `i` depends only on `(seed, i)`.
    ///   - tileSize: Side of each square half in pixels (default 600, the maps dataset's size).
    public init(seed: UInt64, tileSize: Int = 600) {
        precondition(tileSize >= 16, "SyntheticMaps tileSize must be at least 16, got \(tileSize)")
        self.seed = seed
        self.tileSize = tileSize
    }

    /// One tile pair: satellite `[S, S, 3]` and map `[S, S, 3]`, Float 0…255, deterministic
    /// for `(seed, index)`.
    public func tile(_ index: Int) -> (satellite: Tensor, map: Tensor) {
        var random = TileRandom(generator: SeededGenerator(seed: Self.mix(seed, index)))
        let layout = TileLayout(size: tileSize, random: &random)
        let shape = [tileSize, tileSize, 3]
        let map = Tensor(shape: shape, scalars: renderMap(layout))
        let satellite = Tensor(shape: shape, scalars: renderSatellite(layout, random: &random))
        return (satellite, map)
    }

    /// The side-by-side image `[S, 2S, 3]` (satellite left, map right) — the maps dataset's
    /// file layout.
    public func pairImage(_ index: Int) -> Tensor {
        let (satellite, map) = tile(index)
        let s = tileSize, rowLength = 3 * s
        var pair = [Float](repeating: 0, count: s * 2 * rowLength)
        satellite.withUnsafeBufferPointer { left in
            map.withUnsafeBufferPointer { right in
                pair.withUnsafeMutableBufferPointer { out in
                    for y in 0..<s {
                        let row = out.baseAddress! + y * 2 * rowLength
                        row.update(from: left.baseAddress! + y * rowLength, count: rowLength)
                        (row + rowLength).update(from: right.baseAddress! + y * rowLength, count: rowLength)
                    }
                }
            }
        }
        return Tensor(shape: [s, 2 * s, 3], scalars: pair)
    }

    /// A well-mixed 64-bit seed for tile `index` (SplitMix64 finaliser), so neighbouring
    /// indices and seeds give unrelated generator streams.
    static func mix(_ seed: UInt64, _ index: Int) -> UInt64 {
        var z = seed &+ UInt64(bitPattern: Int64(index)) &* 0x9E37_79B9_7F4A_7C15 &+ 0x632B_E59B_D9B4_E019
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
