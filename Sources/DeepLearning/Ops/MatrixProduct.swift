import COpenBLAS

// Every matrix product of the library goes through `product`, the one place that picks how a
// product runs and that makes sure OpenBLAS is configured first (`OpenBLASSetup`):
//
//   1. thin products against a large weight matrix (the bottom of a U-Net: a few pixels
//      against a kernel of tens of megabytes) on the streaming C kernels (`SkinnyProduct`),
//      because OpenBLAS packs the whole large operand before using it;
//   2. otherwise single-row and single-column products on `sgemv`, for the same reason;
//   3. rank-1 products (one output pixel's kernel gradient) as a direct outer product;
//   4. everything else on `sgemm`, or inside `withMatrixPrecision(.bfloat16)` on the bfloat16
//      kernel (`BFloat16Product`) when no side is thinner than 16.
//
// Docs/Performance.md has the measurements behind each choice.

/// `c = op(a)·op(b) + β·c` for row-major matrices (`cblas_sgemm` with α = 1): `op(a)` is
/// `[m, k]`, `op(b)` is `[k, n]`, `c` is `[m, n]`; `c` is not read when `beta` is 0.
///
/// - Parameter generalOnly: always use float32 `sgemm` (tests and benchmarks compare against it).
func product(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, generalOnly: Bool = false
) {
    OpenBLASSetup.configure()
    guard m > 0, n > 0 else { return }
    if k == 0 {
        // An empty sum: BLAS would scale C by β; do the same without calling it.
        for row in 0..<m {
            let target = c + row * ldc
            if beta == 0 { target.update(repeating: 0, count: n) } else { for j in 0..<n { target[j] *= beta } }
        }
        return
    }
    let orderA = transposeA ? CblasTrans : CblasNoTrans, orderB = transposeB ? CblasTrans : CblasNoTrans
    if !generalOnly {
        if SkinnyProduct.run(
            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
            a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        {
            return
        }
        if m == 1 && k > 1 {
            // c[0, :] = a-row · op(B); the row of op(A) has stride lda when A is stored transposed.
            cblas_sgemv(
                CblasRowMajor, transposeB ? CblasNoTrans : CblasTrans, Int32(transposeB ? n : k),
                Int32(transposeB ? k : n), 1, b, Int32(ldb), a, Int32(transposeA ? lda : 1), beta, c, 1)
            return
        }
        if n == 1 && k > 1 {
            // c[:, 0] = op(A) · b-column; the column of op(B) has stride ldb unless B is stored transposed.
            cblas_sgemv(
                CblasRowMajor, orderA, Int32(transposeA ? k : m), Int32(transposeA ? m : k),
                1, a, Int32(lda), b, Int32(transposeB ? 1 : ldb), beta, c, Int32(ldc))
            return
        }
        if k == 1 && m > 1 && n > 1 {
            outerProduct(
                transposeA: transposeA, transposeB: transposeB, m: m, n: n, a: a, lda: lda, b: b, ldb: ldb,
                beta: beta, c: c, ldc: ldc)
            return
        }
        if BFloat16Product.applies(m: m, n: n, k: k) {
            BFloat16Product.run(
                transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb,
                beta: beta, c: c, ldc: ldc)
            return
        }
    }
    cblas_sgemm(
        CblasRowMajor, orderA, orderB, Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb),
        beta, c, Int32(ldc))
}

/// `product` on `sgemm` alone: the reference the other routines are tested and timed against.
func sgemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    product(
        transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb,
        beta: beta, c: c, ldc: ldc, generalOnly: true)
}

/// `c = a·bᵀ + β·c` for a column `a` ([m]) and a row `b` ([n]): sgemm with k = 1 streams C far
/// below memory speed, and overwriting (β = 0) needs no zeroing pass before `sger`.
private func outerProduct(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    let strideA = transposeA ? 1 : lda, strideB = transposeB ? ldb : 1
    if beta == 0 && strideB == 1 {
        parallelChunks(m, grain: Swift.max(1, 65_536 / n)) { rows in
            for row in rows {
                let scale = a[row * strideA], target = c + row * ldc
                for j in 0..<n { target[j] = scale * b[j] }
            }
        }
        return
    }
    for row in 0..<m where beta != 1 {
        let target = c + row * ldc
        if beta == 0 { target.update(repeating: 0, count: n) } else { for j in 0..<n { target[j] *= beta } }
    }
    cblas_sger(CblasRowMajor, Int32(m), Int32(n), 1, a, Int32(strideA), b, Int32(strideB), c, Int32(ldc))
}

/// Sets every row of `rows`×`channels` to `bias` (or leaves it alone when there is none): the
/// start of a product with β = 1 that adds a bias.
func fillRows(
    _ destination: UnsafeMutablePointer<Float>, rows: Int, with bias: UnsafePointer<Float>?, channels: Int
) {
    guard let bias else { return }
    parallelChunks(rows, grain: Swift.max(1, 65_536 / Swift.max(channels, 1))) { range in
        for row in range {
            let target = destination + row * channels
            for c in 0..<channels { target[c] = bias[c] }
        }
    }
}
