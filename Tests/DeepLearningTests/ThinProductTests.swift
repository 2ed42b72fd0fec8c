@testable @_spi(Benchmarks) import DeepLearning
import XCTest

/// The thin-product C kernels (`ThinProduct`) against OpenBLAS's sgemm, on every
/// instruction-set level this CPU has, and the convolutions that use them against the same
/// convolutions on BLAS alone.
final class ThinProductTests: XCTestCase {
    private var savedLevel = 0, savedMinimum = 0

    override func setUp() {
        savedLevel = ThinProduct.level
        savedMinimum = ThinProduct.minimumLargeOperand
        ThinProduct.minimumLargeOperand = 0
    }

    override func tearDown() {
        ThinProduct.level = savedLevel
        ThinProduct.minimumLargeOperand = savedMinimum
    }

    private func levels() throws -> ClosedRange<Int> {
        try XCTSkipIf(
            ThinProduct.supportedLevel == 0, "this CPU has neither AVX2+FMA nor AVX-512: the kernels are never used")
        return 1...ThinProduct.supportedLevel
    }

    private func randomScalars(_ count: Int, seed: UInt64) -> [Float] {
        randomTensor([count], seed: seed).scalars
    }

    /// Runs one product both ways and compares; `cOffset` misaligns C to reach the kernels'
    /// non-streaming stores.
    private func check(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, beta: Float,
        padding: Int = 3, cOffset: Int = 0, file: StaticString = #filePath, line: UInt = #line
    ) {
        let rowsA = transposeA ? k : m, colsA = transposeA ? m : k
        let rowsB = transposeB ? n : k, colsB = transposeB ? k : n
        let lda = colsA + padding, ldb = colsB + padding, ldc = n + padding
        let a = randomScalars(rowsA * lda, seed: UInt64(m * 131 + n * 7 + k))
        let b = randomScalars(rowsB * ldb, seed: UInt64(m + n * 13 + k * 17))
        // With β = 0 the old contents must not leak in, NaN included.
        let initial =
            beta == 0
            ? [Float](repeating: .nan, count: m * ldc + cOffset)
            : randomScalars(m * ldc + cOffset, seed: 99)
        // C on 64-byte boundaries (as tensors are), so the streaming stores are reached too.
        let expectedBuffer = alignedCopy(initial), actualBuffer = alignedCopy(initial)
        defer { expectedBuffer.deallocate(); actualBuffer.deallocate() }
        let description =
            "\(transposeA ? "T" : "N")\(transposeB ? "T" : "N") m \(m) n \(n) k \(k) β \(beta) level \(ThinProduct.level) offset \(cOffset)"
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                sgemm(
                    transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, a: pa.baseAddress!, lda: lda,
                    b: pb.baseAddress!, ldb: ldb, beta: beta, c: expectedBuffer.baseAddress! + cOffset, ldc: ldc)
                let handled = ThinProduct.runIfEligible(
                    transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                    a: pa.baseAddress!, lda: lda, b: pb.baseAddress!, ldb: ldb,
                    beta: beta, c: actualBuffer.baseAddress! + cOffset, ldc: ldc)
                XCTAssertTrue(handled, "not handled: \(description)", file: file, line: line)
            }
        }
        let expected = Array(expectedBuffer), actual = Array(actualBuffer)
        var worst: Float = 0
        for row in 0..<m {
            for column in 0..<n {
                let index = cOffset + row * ldc + column
                worst = max(worst, abs(actual[index] - expected[index]))
            }
        }
        // Sums of k products of values in [-1, 1]: float rounding grows like √k.
        XCTAssertLessThanOrEqual(worst, 2e-6 * Float(k + 10), description, file: file, line: line)
        // The padding between rows is never written.
        for row in 0..<m {
            for column in n..<ldc where cOffset + row * ldc + column < actual.count {
                let index = cOffset + row * ldc + column
                XCTAssertTrue(
                    actual[index].bitPattern == initial[index].bitPattern, "padding written: \(description)",
                    file: file, line: line)
            }
        }
    }

    private func alignedCopy(_ values: [Float]) -> UnsafeMutableBufferPointer<Float> {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(values.count, 1) * 4, alignment: 64)
        let buffer = UnsafeMutableBufferPointer(
            start: raw.bindMemory(to: Float.self, capacity: values.count), count: values.count)
        _ = buffer.initialize(from: values)
        return buffer
    }

    func testNNMatchesOpenBLAS() throws {
        for level in try levels() {
            ThinProduct.level = level
            let lanes = level == 2 ? 16 : 8
            // Rows 1…16; n with and without the single-vector tail; k with a tail past the
            // register block and too short to split between threads.
            for m in [1, 2, 3, 5, 16] {
                for n in [lanes, 2 * lanes, 3 * lanes] {
                    for k in [1, 7, 37, 130] {
                        check(transposeA: false, transposeB: false, m: m, n: n, k: k, beta: 0)
                    }
                }
            }
            check(transposeA: false, transposeB: false, m: 4, n: 4 * lanes, k: 300, beta: 1)
            check(transposeA: false, transposeB: false, m: 3, n: 2 * lanes, k: 300, beta: 0.5)
        }
    }

    func testNTMatchesOpenBLAS() throws {
        for level in try levels() {
            ThinProduct.level = level
            let lanes = level == 2 ? 16 : 8
            // n not a multiple of the four-row tile; m past one A tile.
            for m in [1, 2, 3, 5, 16] {
                for n in [1, 3, 4, 9, 22] {
                    for k in [lanes, 3 * lanes] {
                        check(transposeA: false, transposeB: true, m: m, n: n, k: k, beta: 0)
                    }
                }
            }
            check(transposeA: false, transposeB: true, m: 6, n: 10, k: 2 * lanes, beta: 1)
            check(transposeA: false, transposeB: true, m: 2, n: 7, k: 4 * lanes, beta: -0.5)
        }
    }

    func testTNMatchesOpenBLAS() throws {
        for level in try levels() {
            ThinProduct.level = level
            let lanes = level == 2 ? 16 : 8
            // Odd m (the single-row tail), n with and without whole four-vector groups, k = 1
            // (an outer product) to 16; aligned C (streaming stores) and misaligned C.
            for m in [1, 2, 5, 12] {
                for n in [lanes, 4 * lanes, 5 * lanes] {
                    for k in [1, 2, 3, 16] {
                        check(transposeA: true, transposeB: false, m: m, n: n, k: k, beta: 0, padding: 0)
                        check(transposeA: true, transposeB: false, m: m, n: n, k: k, beta: 0, padding: 3, cOffset: 1)
                    }
                }
            }
        }
    }

    func testIneligibleProductsAreLeftToBLAS() throws {
        _ = try levels()
        var c = [Float](repeating: 7, count: 64 * 64)
        let a = [Float](repeating: 1, count: 64 * 64), b = a
        func run(_ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int, beta: Float = 0) -> Bool {
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    c.withUnsafeMutableBufferPointer { pc in
                        ThinProduct.runIfEligible(
                            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                            a: pa.baseAddress!, lda: 64, b: pb.baseAddress!, ldb: 64, beta: beta,
                            c: pc.baseAddress!, ldc: 64)
                    }
                }
            }
        }
        XCTAssertFalse(run(false, false, 17, 32, 32), "more rows than the limit")
        XCTAssertFalse(run(false, false, 4, 33, 32), "n not a multiple of the lanes")
        XCTAssertFalse(run(false, true, 4, 32, 33), "k not a multiple of the lanes")
        XCTAssertFalse(run(true, false, 32, 32, 17), "more terms than the limit")
        XCTAssertFalse(run(true, false, 32, 32, 4, beta: 1), "accumulating TN")
        XCTAssertFalse(run(true, true, 4, 32, 32), "both transposed")
        ThinProduct.minimumLargeOperand = 64 * 64 + 1
        XCTAssertFalse(run(false, false, 4, 64, 64), "large operand below the minimum")
        ThinProduct.minimumLargeOperand = 0
        ThinProduct.level = 0
        XCTAssertFalse(run(false, false, 4, 32, 32), "disabled")
        XCTAssertTrue(c.allSatisfy { $0 == 7 }, "a declined product wrote to C")
    }

    /// The U-Net bottom in miniature: 1–16 pixels, channels a multiple of the lanes. Values and
    /// every gradient must match the BLAS-only run.
    func testConvolutionsMatchTheBLASPath() throws {
        let level = try levels().upperBound
        let cases: [(input: [Int], kernel: [Int], transposed: Bool)] = [
            ([1, 8, 8, 16], [4, 4, 16, 32], false),  // 16 output pixels
            ([1, 4, 4, 32], [4, 4, 32, 16], false),  // 4
            ([1, 2, 2, 16], [4, 4, 16, 16], false),  // 1: NN and NT with one row, TN with one term
            ([1, 1, 1, 32], [4, 4, 16, 32], true),  // 1 → 2×2
            ([1, 2, 2, 32], [4, 4, 16, 32], true),  // 2×2 → 4×4
            ([1, 4, 4, 16], [4, 4, 32, 16], true),  // 4×4 → 8×8
        ]
        for (index, testCase) in cases.enumerated() {
            let x = randomTensor(testCase.input, seed: UInt64(10 + index))
            let w = randomTensor(testCase.kernel, seed: UInt64(20 + index), lower: -0.2, upper: 0.2)
            let bias = randomTensor([testCase.kernel[testCase.transposed ? 2 : 3]], seed: UInt64(30 + index))
            var results: [[Tensor]] = []
            for skinnyLevel in [0, level] {
                ThinProduct.level = skinnyLevel
                let parameters = [Parameter(x), Parameter(w), Parameter(bias)]
                let y =
                    testCase.transposed
                    ? conv2DTranspose(
                        parameters[0].value, kernel: parameters[1].value, bias: parameters[2].value, stride: 2,
                        padding: .same)
                    : conv2D(
                        parameters[0].value, kernel: parameters[1].value, bias: parameters[2].value, stride: 2,
                        padding: .same)
                (y * y).sum().backward()
                results.append([y] + parameters.map { $0.gradient! })
            }
            for (name, pair) in zip(
                ["output", "input gradient", "kernel gradient", "bias gradient"], zip(results[0], results[1]))
            {
                assertClose(pair.1, pair.0, tolerance: 1e-4, "case \(index) \(name)")
            }
        }
    }

    /// A numerical gradient check with every product on the kernels.
    func testGradientsThroughTheKernels() throws {
        ThinProduct.level = try levels().upperBound
        let x = randomTensor([1, 2, 2, 16], seed: 41),
            w = randomTensor([4, 4, 16, 16], seed: 42, lower: -0.3, upper: 0.3)
        checkGradients(of: { conv2D($0[0], kernel: $0[1], stride: 2, padding: .same) }, at: [x, w])
        let z = randomTensor([1, 1, 1, 16], seed: 43)
        checkGradients(of: { conv2DTranspose($0[0], kernel: $0[1], stride: 2, padding: .same) }, at: [z, w])
    }
}
