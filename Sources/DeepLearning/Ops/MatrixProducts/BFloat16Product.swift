// The bfloat16 matrix product behind `withMatrixPrecision(.bfloat16)` (MatrixPrecision.swift):
// op(B) rounded to bfloat16 and packed once into 32-column panels of k pairs, then both cores
// split C's rows in 12-row micro-panels, each packing its own rows of op(A) and keeping a
// 12×32 float32 tile in registers (`vdpbf16ps`, CKernels/bf16gemm.c). `product`
// (MatrixProduct.swift) decides which products come here.

import CKernels

/// The bfloat16 products of `product` (MatrixProduct.swift).
enum BFloat16Product {
    /// Products narrower than this (rows or columns of the result, or terms) stay float32: the
    /// kernel's tiles are 12×32, and a thin product is bound by memory, not arithmetic.
    /// `product`'s routing (MatrixProduct.swift) applies it.
    static let minimumSide = 16

    /// `c = op(a)·op(b) + β·c` as `product` defines it, in bfloat16 with float32 sums.
    static func run(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        // Element (i, j) of op(x) sits at i·rowStride + j·columnStride.
        let (aRow, aColumn) = transposeA ? (1, lda) : (lda, 1)
        let (bRow, bColumn) = transposeB ? (1, ldb) : (ldb, 1)
        let n32 = Int32(n), k32 = Int32(k)
        let panels = (n + 31) / 32, microPanels = (m + 11) / 12
        let words = Int(dl_bf16_packed_b_words(k32, n32))
        // Float and UInt32 have the same size: the scratch pool's buffer holds the packed words.
        StoragePool.withScratchBuffer(words) { scratch in
            let packed = UnsafeMutableRawPointer(scratch).bindMemory(to: UInt32.self, capacity: words)
            parallelChunks(panels, grain: Swift.max(1, 65_536 / (32 * k))) { range in
                dl_bf16_pack_b(k32, n32, Int32(range.lowerBound), Int32(range.upperBound), b, bRow, bColumn, packed)
            }
            let apackWords = Int(dl_bf16_packed_a_words())
            parallelChunks(microPanels, grain: Swift.max(1, 1 << 20 / (12 * n * k))) { range in
                withUnsafeTemporaryAllocation(of: UInt32.self, capacity: apackWords) { apack in
                    dl_bf16_gemm_rows(
                        Int32(range.lowerBound * 12), Int32(Swift.min(m, range.upperBound * 12)), n32, k32, a, aRow,
                        aColumn, packed, beta, c, ldc, apack.baseAddress!)
                }
            }
        }
    }
}
