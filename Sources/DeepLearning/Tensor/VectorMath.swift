import CKernels

/// Softmax rows, GELU and SiLU run on the C kernels of `CKernels` (AVX-512F or AVX2 + FMA, picked
/// at run time) where the CPU has them: Swift's SIMD, without compiler flags, compiles to SSE2.
@_spi(Benchmarks) public enum PointwiseKernels {
    /// The level the calling thread uses: 2 = AVX-512F, 1 = AVX2 + FMA, 0 = the Swift SIMD loops
    /// below. Defaults to the CPU's best (0 with `DEEPLEARNING_SKINNY_KERNELS=0`). Per thread;
    /// tests set it to compare the paths.
    public static var level: Int {
        get { ThreadState.current.kernelSettings.pointwiseLevel }
        set { ThreadState.current.kernelSettings.pointwiseLevel = newValue }
    }
}

// Elementwise math on 16 lanes for the vector kernels (softmax, cross-entropy): libm's
// scalar `expf` per element is several times slower than the memory it reads. Written with
// only the SIMD operations that compile to vector code here (arithmetic, ordered comparisons,
// `replacing`, wrapping integer ops on bit patterns; not float→int conversions, `rounded`, or
// mask negation, which become scalar loops).

/// eˣ on 16 lanes, Cephes's `expf`: x = n·ln 2 + r with |r| ≤ ½ ln 2, a degree-7 polynomial for
/// eʳ, and 2ⁿ built in the exponent bits. Within 2 ulp of libm over the normal range; 0 below
/// −87.33 (where eˣ is nearly subnormal), +∞ above 88.72, NaN propagates.
@inline(__always)
func vectorExp(_ input: SIMD16<Float>) -> SIMD16<Float> {
    var x = input.replacing(with: 88.72, where: input .> 88.72)
    x.replace(with: -87.33, where: x .< -87.33)
    // n = round(x / ln 2) by the magic-number trick: adding 1.5·2²³ leaves n in the low
    // mantissa bits and n itself in the float once the constant is subtracted again.
    let magic: Float = 12_582_912
    let shifted = x * 1.442_695_04 + magic
    let n = shifted - magic
    let r = x - n * 0.693_359_375 + n * 2.121_944_4e-4
    var p = r * 1.987_569_15e-4 + 1.398_199_95e-3
    p = p * r + 8.333_451_9e-3
    p = p * r + 4.166_579_59e-2
    p = p * r + 0.166_666_655
    p = p * r + 0.5
    p = p * (r * r) + r + 1
    // 2ⁿ as two factors, so n = 128 (x near 88.7) and n = −126 both stay normal.
    let whole = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- Int32(bitPattern: magic.bitPattern)
    let half = whole &>> 1
    let first = unsafeBitCast((half &+ 127) &<< 23, to: SIMD16<Float>.self)
    let second = unsafeBitCast((whole &- half &+ 127) &<< 23, to: SIMD16<Float>.self)
    var result = p * first * second
    result.replace(with: 0, where: input .< -87.33)
    result.replace(with: .infinity, where: input .> 88.72)
    return input.replacing(with: result, where: input .== input)  // NaN lanes keep their NaN
}

/// erf(x) on 16 lanes (Abramowitz & Stegun 7.1.26: within 1.5·10⁻⁷ absolute), for GELU, where
/// the error is scaled by x/2 and stays far below float rounding of the result.
@inline(__always)
func vectorErf(_ x: SIMD16<Float>) -> SIMD16<Float> {
    let magnitude = x.replacing(with: -x, where: x .< 0)
    let t = 1 / (magnitude * 0.327_591_1 + 1)
    var p = t * 1.061_405_429 - 1.453_152_027
    p = p * t + 1.421_413_741
    p = p * t - 0.284_496_736
    p = p * t + 0.254_829_592
    let y = 1 - p * t * vectorExp(-magnitude * magnitude)
    return y.replacing(with: -y, where: x .< 0)
}
