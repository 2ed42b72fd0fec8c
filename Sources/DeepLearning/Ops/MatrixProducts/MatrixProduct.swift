import COpenBLAS

// Every matrix product of the library goes through `product`, the one place that decides how a
// product runs (`MatrixProductRoute`, below) and that makes sure OpenBLAS is configured first
// (`OpenBLASSetup`). The routes, in the order they are tried:
//
//   1. thin products against a large weight matrix (the bottom of a U-Net: a few pixels
//      against a kernel of tens of megabytes) on the streaming C kernels (ThinProduct.swift),
//      because OpenBLAS packs the whole large operand before using it;
//   2. otherwise single-row and single-column products on `sgemv`, for the same reason;
//   3. rank-1 products (one output pixel's kernel gradient) as a direct outer product;
//   4. inside `withMatrixPrecision(.bfloat16)`, products with no side thinner than 16 on the
//      bfloat16 kernel (BFloat16Product.swift);
//   5. everything else on `sgemm`.
//
// Each kernel file only runs products; whether a product is theirs is decided here, so a
// product enters exactly one of them. Docs/Performance.md has the measurements behind each
// choice.

/// `c = op(a)·op(b) + β·c` for row-major matrices (`cblas_sgemm` with α = 1): `op(a)` is
/// `[m, k]`, `op(b)` is `[k, n]`, `c` is `[m, n]`; `c` is not read when `beta` is 0.
///
/// - Parameters:
///   - bias: `[n]`, added to every row of the result instead of reading `c` (then `beta` must
///     be 0): the bias of a convolution or linear layer, with no pass of its own.
///   - generalOnly: always use float32 `sgemm` (tests and benchmarks compare against it).
func product(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0, bias: UnsafePointer<Float>? = nil, c: UnsafeMutablePointer<Float>, ldc: Int,
    generalOnly: Bool = false
) {
    OpenBLASSetup.configure()
    guard m > 0, n > 0 else { return }
    var beta = beta
    if let bias {
        precondition(beta == 0, "product: a bias replaces the old contents of c (β must be 0, not \(beta))")
        fillRows(c, rows: m, columns: n, stride: ldc, with: bias)
        beta = 1
    }
    let route =
        generalOnly
        ? .general
        : MatrixProductRoute(
            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, beta: beta,
            settings: ThreadState.current.kernelSettings)
    switch route {
    case .emptySum:
        // BLAS would scale C by β; do the same without calling it.
        for row in 0..<m {
            let target = c + row * ldc
            if beta == 0 { target.update(repeating: 0, count: n) } else { for j in 0..<n { target[j] *= beta } }
        }
    case .thin(let kind, let level):
        ThinProduct.run(
            kind, level: level, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    case .rowTimesMatrix:
        // c[0, :] = a-row · op(B); the row of op(A) has stride lda when A is stored transposed.
        cblas_sgemv(
            CblasRowMajor, transposeB ? CblasNoTrans : CblasTrans, Int32(transposeB ? n : k),
            Int32(transposeB ? k : n), 1, b, Int32(ldb), a, Int32(transposeA ? lda : 1), beta, c, 1)
    case .matrixTimesColumn:
        // c[:, 0] = op(A) · b-column; the column of op(B) has stride ldb unless B is stored transposed.
        cblas_sgemv(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, Int32(transposeA ? k : m),
            Int32(transposeA ? m : k), 1, a, Int32(lda), b, Int32(transposeB ? 1 : ldb), beta, c, Int32(ldc))
    case .outerProduct:
        outerProduct(
            transposeA: transposeA, transposeB: transposeB, m: m, n: n, a: a, lda: lda, b: b, ldb: ldb,
            beta: beta, c: c, ldc: ldc)
    case .bfloat16:
        BFloat16Product.run(
            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb,
            beta: beta, c: c, ldc: ldc)
    case .general:
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
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

/// Which kernel runs one product: the whole decision of `product`, in one place.
enum MatrixProductRoute: Equatable {
    /// k = 0: C is scaled by β (zeroed for β = 0).
    case emptySum
    /// A thin-product C kernel at an instruction-set level (ThinProduct.swift).
    case thin(ThinProduct.Kind, level: Int)
    /// One row of op(A) times op(B): `sgemv`.
    case rowTimesMatrix
    /// op(A) times one column of op(B): `sgemv`.
    case matrixTimesColumn
    /// k = 1: a rank-1 update.
    case outerProduct
    /// The bfloat16 kernel (inside `withMatrixPrecision(.bfloat16)`).
    case bfloat16
    /// OpenBLAS's `sgemm`.
    case general

    init(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, beta: Float, settings: KernelSettings) {
        if k == 0 {
            self = .emptySum
        } else if let (kind, level) = ThinProduct.eligibleKind(
            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, beta: beta, settings: settings)
        {
            self = .thin(kind, level: level)
        } else if m == 1 && k > 1 {
            self = .rowTimesMatrix
        } else if n == 1 && k > 1 {
            self = .matrixTimesColumn
        } else if k == 1 && m > 1 && n > 1 {
            self = .outerProduct
        } else if settings.bfloat16Products && Swift.min(m, n, k) >= BFloat16Product.minimumSide
            && Swift.max(m, n, k) < Int(Int32.max) / 2
        {
            self = .bfloat16
        } else {
            self = .general
        }
    }
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

/// Sets the first `columns` floats of each of `rows` rows, `stride` apart, to `values`.
func fillRows(
    _ destination: UnsafeMutablePointer<Float>, rows: Int, columns: Int, stride: Int, with values: UnsafePointer<Float>
) {
    parallelChunks(rows, grain: Swift.max(1, 65_536 / Swift.max(columns, 1))) { range in
        for row in range {
            (destination + row * stride).update(from: values, count: columns)
        }
    }
}
