import COpenBLAS

/// Dense linear algebra on LAPACK (through LAPACKE): QR, SVD and linear solves of
/// row-major Float32 matrices.
///
/// These are plain numerical routines for initialisation and analysis: they are not
/// differentiable (their results carry no autodiff graph) and they copy their inputs, since
/// LAPACK overwrites its arguments. LAPACKE's row-major interface transposes internally.
public enum Linalg {
    /// Reduced QR decomposition A = Q·R (LAPACK `sgeqrf` + `sorgqr`).
    ///
    /// - Parameter a: an `[M, N]` matrix.
    /// - Returns: `q` of shape `[M, K]` with orthonormal columns (QᵀQ = I) and `r` of shape
    ///   `[K, N]`, upper triangular (upper trapezoidal when M < N), where K = min(M, N).
    ///   The diagonal of R may be negative (LAPACK's Householder convention).
    public static func qr(_ a: Tensor) -> (q: Tensor, r: Tensor) {
        OpenBLASSetup.configure()
        precondition(a.rank == 2, "Linalg.qr: expected a matrix [M, N], got \(describeShape(a.shape))")
        let m = a.shape[0], n = a.shape[1], k = Swift.min(m, n)
        if k == 0 { return (.zeros([m, 0]), .zeros([0, n])) }
        var work = a.copied()
        var tau = [Float](repeating: 0, count: k)
        var r = Tensor.zeros([k, n])
        var q = Tensor(uninitializedShape: [m, k])
        work.withUnsafeMutableBufferPointer { buffer in
            let pointer = buffer.baseAddress!
            let info = LAPACKE_sgeqrf(LAPACK_ROW_MAJOR, numericCast(m), numericCast(n), pointer, numericCast(n), &tau)
            precondition(info == 0, "Linalg.qr: sgeqrf failed with info \(info)")
            // R is the upper triangle of the first K rows of the factored matrix.
            r.withUnsafeMutableBufferPointer { rBuffer in
                for row in 0..<k {
                    for column in row..<n { rBuffer[row * n + column] = pointer[row * n + column] }
                }
            }
            // sorgqr expands the K Householder reflectors (in the first K columns) into Q;
            // the leading dimension stays N, the row length of `work`.
            let info2 = LAPACKE_sorgqr(
                LAPACK_ROW_MAJOR, numericCast(m), numericCast(k), numericCast(k),
                pointer, numericCast(n), &tau)
            precondition(info2 == 0, "Linalg.qr: sorgqr failed with info \(info2)")
            q.withUnsafeMutableBufferPointer { qBuffer in
                for row in 0..<m {
                    for column in 0..<k { qBuffer[row * k + column] = pointer[row * n + column] }
                }
            }
        }
        return (q, r)
    }

    /// Reduced singular value decomposition A = U·diag(S)·Vᵀ (LAPACK `sgesdd`, divide and conquer).
    ///
    /// - Parameter a: an `[M, N]` matrix with finite elements.
    /// - Returns: `u` `[M, K]` and `vt` `[K, N]` with orthonormal columns/rows, and `s` `[K]`
    ///   the singular values in descending order, K = min(M, N). Singular vectors are
    ///   unique only up to sign.
    ///
    /// A failure to converge (LAPACK `info > 0`, practically only for non-finite input) is a
    /// precondition failure.
    public static func svd(_ a: Tensor) -> (u: Tensor, s: Tensor, vt: Tensor) {
        OpenBLASSetup.configure()
        precondition(a.rank == 2, "Linalg.svd: expected a matrix [M, N], got \(describeShape(a.shape))")
        let m = a.shape[0], n = a.shape[1], k = Swift.min(m, n)
        if k == 0 { return (.zeros([m, 0]), .zeros([0]), .zeros([0, n])) }
        var work = a.copied()
        var u = Tensor(uninitializedShape: [m, k])
        var s = Tensor(uninitializedShape: [k])
        var vt = Tensor(uninitializedShape: [k, n])
        let info = work.withUnsafeMutableBufferPointer { w in
            u.withUnsafeMutableBufferPointer { uBuffer in
                s.withUnsafeMutableBufferPointer { sBuffer in
                    vt.withUnsafeMutableBufferPointer { vtBuffer in
                        LAPACKE_sgesdd(
                            LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "S")), numericCast(m), numericCast(n),
                            w.baseAddress, numericCast(n), sBuffer.baseAddress,
                            uBuffer.baseAddress, numericCast(k), vtBuffer.baseAddress, numericCast(n))
                    }
                }
            }
        }
        precondition(
            info == 0,
            "Linalg.svd: sgesdd did not converge (info \(info)) for a \(describeShape(a.shape)) matrix; is it finite?")
        return (u, s, vt)
    }

    /// Solves A·X = B by LU decomposition with partial pivoting (LAPACK `sgesv`).
    ///
    /// - Parameters:
    ///   - a: a square `[N, N]` matrix.
    ///   - b: the right-hand side, `[N]` or `[N, K]`.
    /// - Returns: X, shaped like `b`.
    /// - Throws: `LinalgError.singular` naming the zero pivot U[i, i] (1-based, as LAPACK
    ///   reports it) when A is exactly singular in Float32; `LinalgError.shapeMismatch` when
    ///   the shapes do not fit. A nearly singular A is not detected and gives large X.
    public static func solve(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        OpenBLASSetup.configure()
        guard a.rank == 2, a.shape[0] == a.shape[1], (b.rank == 1 || b.rank == 2), b.shape[0] == a.shape[0] else {
            throw LinalgError.shapeMismatch(
                "solve needs A [N, N] and B [N] or [N, K]; got A \(describeShape(a.shape)) and B \(describeShape(b.shape))"
            )
        }
        let n = a.shape[0], columns = b.rank == 1 ? 1 : b.shape[1]
        if n == 0 { return b.detached() }
        var lu = a.copied()
        var solution = b.copied()
        // lapack_int is a C macro (not imported); Debian's LAPACKE is LP64, so it is Int32.
        var pivots = [Int32](repeating: 0, count: n)
        let info = lu.withUnsafeMutableBufferPointer { luBuffer in
            solution.withUnsafeMutableBufferPointer { xBuffer in
                LAPACKE_sgesv(
                    LAPACK_ROW_MAJOR, numericCast(n), numericCast(columns), luBuffer.baseAddress,
                    numericCast(n), &pivots, xBuffer.baseAddress, numericCast(columns))
            }
        }
        if info > 0 { throw LinalgError.singular(pivot: Int(info), shape: a.shape) }
        precondition(info == 0, "Linalg.solve: sgesv rejected argument \(-info)")
        return solution
    }
}

/// Errors from `Linalg` routines caused by the data passed in.
public enum LinalgError: Error, CustomStringConvertible, Equatable {
    /// LU factorisation found U[pivot, pivot] = 0 (1-based): the matrix is singular.
    case singular(pivot: Int, shape: [Int])
    /// The operands' shapes do not fit the routine.
    case shapeMismatch(String)

    /// A message naming the offending tensor, pivot or shapes.
    public var description: String {
        switch self {
        case let .singular(pivot, shape):
            return
                "Linalg.solve: the \(describeShape(shape)) matrix is singular: pivot U[\(pivot), \(pivot)] (1-based) is exactly zero"
        case .shapeMismatch(let message):
            return "Linalg.\(message)"
        }
    }
}
