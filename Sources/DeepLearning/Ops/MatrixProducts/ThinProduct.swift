// Matrix products with a thin side (at most `ThinProduct.rowLimit` rows, or that many terms
// in the sum) and a large weight matrix on the other: the convolutions at the bottom of a
// U-Net, where a kernel of tens of megabytes meets a handful of pixels. They are memory-bound:
// each weight is read from DRAM and used a few times. OpenBLAS 0.3.21 packs the large operand
// before using it; the C kernels in `CKernels` stream it once (Docs/Performance.md has the
// measurements, Docs/Design.md why this is the one place the library multiplies matrices
// itself). `product` (MatrixProduct.swift) decides which products come here (`eligibleKind`).

import CKernels
import Foundation

/// Runs eligible thin matrix products on the vectorised C kernels of `CKernels`.
@_spi(Benchmarks) public enum ThinProduct {
    /// The most rows (NN, NT) or summed terms (TN) a product may have to run here. Past 16
    /// the products turn compute-bound and OpenBLAS's blocked kernels win.
    public static let rowLimit = 16

    /// The fewest floats the large operand must have: smaller products stay on OpenBLAS,
    /// which handles them from cache well enough. Tests lower it to reach every code path.
    /// Per thread (default 2¹⁸).
    public static var minimumLargeOperand: Int {
        get { ThreadState.current.kernelSettings.thinProductMinimumLargeOperand }
        set { ThreadState.current.kernelSettings.thinProductMinimumLargeOperand = newValue }
    }

    /// The instruction-set level the calling thread uses: 2 = AVX-512F, 1 = AVX2 + FMA,
    /// 0 = disabled (every product goes to OpenBLAS). Defaults to `defaultLevel`. Set it lower
    /// to compare or test paths; per thread.
    public static var level: Int {
        get { ThreadState.current.kernelSettings.thinProductLevel }
        set { ThreadState.current.kernelSettings.thinProductLevel = newValue }
    }

    /// The best level the CPU has, or 0 when the environment sets `DEEPLEARNING_SKINNY_KERNELS=0`.
    public static let defaultLevel: Int = {
        if ProcessInfo.processInfo.environment["DEEPLEARNING_SKINNY_KERNELS"] == "0" { return 0 }
        return Int(dl_skinny_level())
    }()

    /// The best level this CPU supports.
    public static var supportedLevel: Int { Int(dl_skinny_level()) }

    /// The three layouts the kernels handle.
    enum Kind: Equatable {
        /// C = A·B with at most `rowLimit` rows of A.
        case nn
        /// C = A·Bᵀ with at most `rowLimit` rows of A.
        case nt
        /// C = Aᵀ·B with at most `rowLimit` summed terms (a kernel gradient); β = 0 only.
        case tn
    }

    /// The kernel and level that take `c = op(a)·op(b) + β·c`, or nil when the product is not
    /// thin enough, its large operand too small, or its shape does not fit the vector lanes.
    /// `product`'s routing (MatrixProduct.swift) asks this first.
    static func eligibleKind(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, beta: Float, settings: KernelSettings
    ) -> (Kind, level: Int)? {
        let level = settings.thinProductLevel, minimumLargeOperand = settings.thinProductMinimumLargeOperand
        guard level > 0, m > 0, n > 0, k > 0, Swift.max(m, n, k) < Int(Int32.max) else { return nil }
        let lanes = Int(dl_skinny_lanes(Int32(level)))
        switch (transposeA, transposeB) {
        case (false, false) where m <= rowLimit && n % lanes == 0 && k * n >= minimumLargeOperand:
            return (.nn, level)
        case (false, true) where m <= rowLimit && k % lanes == 0 && k * n >= minimumLargeOperand:
            return (.nt, level)
        case (true, false) where k <= rowLimit && beta == 0 && n % lanes == 0 && m * n >= minimumLargeOperand:
            return (.tn, level)
        default:
            return nil
        }
    }

    /// Computes `c = op(a)·op(b) + β·c` (row-major, as `cblas_sgemm` with α = 1) on the kernels
    /// when `eligibleKind` accepts the product; returns `false` without touching `c` otherwise.
    /// For tests and benchmarks, which call the kernels directly; the library goes through `product`.
    public static func runIfEligible(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) -> Bool {
        guard
            let (kind, level) = eligibleKind(
                transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, beta: beta,
                settings: ThreadState.current.kernelSettings)
        else { return false }
        run(kind, level: level, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        return true
    }

    /// Runs a product `eligibleKind` accepted as `kind` at `level`.
    static func run(
        _ kind: Kind, level: Int, m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        switch kind {
        case .nn:
            productNN(level: level, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        case .nt:
            // Whole groups of four B rows per thread; the kernel finishes any remainder itself.
            parallelChunks((n + 3) / 4, grain: 1) { range in
                let n0 = range.lowerBound * 4, n1 = Swift.min(n, range.upperBound * 4)
                dl_skinny_nt(
                    Int32(level), Int32(m), Int32(n0), Int32(n1), Int32(k), a, Int32(lda), b, Int32(ldb),
                    beta, c, Int32(ldc))
            }
        case .tn:
            // Pairs of C rows per thread (the kernel's unit).
            parallelChunks((m + 1) / 2, grain: 1) { range in
                let m0 = range.lowerBound * 2, m1 = Swift.min(m, range.upperBound * 2)
                dl_skinny_tn(
                    Int32(level), Int32(m0), Int32(m1), Int32(n), Int32(k), a, Int32(lda), b, Int32(ldb),
                    c, Int32(ldc))
            }
        }
    }

    /// Most runs of B's rows an NN product is split into. A fixed number, not the thread count,
    /// so that the order of the partial sums, and so the result, is the same on every machine.
    static let maximumPartsNN = 8

    /// NN: each part takes a contiguous run of B's rows (one sequential stream) into its own
    /// partial product; the partials are then added into `c` in order.
    private static func productNN(
        level: Int, m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        let parts = Swift.max(1, Swift.min(maximumPartsNN, k / 64))
        // Padded rows: partial rows a power of two apart would share cache sets.
        let partialStride = n + 16, longestRun = (k + parts - 1) / parts
        let partialSize = m * partialStride, packSize = longestRun * m
        StoragePool.withScratchBuffer(parts * (partialSize + packSize)) { scratch in
            // Consecutive parts per thread: each thread still streams one contiguous run of B.
            parallelChunks(parts, grain: 1) { range in
                for part in range {
                    let k0 = part * k / parts, k1 = (part + 1) * k / parts
                    let partial = scratch + part * (partialSize + packSize)
                    dl_skinny_nn_partial(
                        Int32(level), Int32(m), Int32(n), Int32(k0), Int32(k1), a, Int32(lda), b,
                        Int32(ldb), partial, Int32(partialStride), partial + partialSize)
                }
            }
            for row in 0..<m {
                let target = c + row * ldc
                for part in 0..<parts {
                    let source = scratch + part * (partialSize + packSize) + row * partialStride
                    if part > 0 || beta == 1 {
                        for j in 0..<n { target[j] += source[j] }
                    } else if beta == 0 {
                        for j in 0..<n { target[j] = source[j] }  // C is not read (β = 0, as in BLAS)
                    } else {
                        for j in 0..<n { target[j] = beta * target[j] + source[j] }
                    }
                }
            }
        }
    }
}
