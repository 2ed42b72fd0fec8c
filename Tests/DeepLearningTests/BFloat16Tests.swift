import CKernels
@testable import DeepLearning
import XCTest

/// bfloat16 mixed precision (`withMatrixPrecision(.bfloat16)`): the rounding, the product kernel
/// against float64 sums of the rounded operands, and the layers that use it — their forward and
/// gradient results are the float32 results on bf16-rounded operands.
final class BFloat16Tests: XCTestCase {
    private func requireBFloat16() throws {
        guard MatrixPrecision.bfloat16.isSupported else {
            throw XCTSkip(MatrixPrecision.bfloat16.unsupportedReason ?? "no bfloat16")
        }
    }

    func testRoundingToNearestEven() {
        // 1 + 2⁻⁸ is halfway between 1 and 1 + 2⁻⁷: ties go to the even one (1); just above it rounds up.
        let values: [Float] = [1, 1 + 0x1p-8, 1 + 0x1p-8 + 0x1p-20, 1 + 3 * 0x1p-8, -2.5, 0x1p-140, .infinity, 3.4e38]
        let rounded = Tensor(shape: [values.count], scalars: values).roundedToBFloat16().scalars
        XCTAssertEqual(Array(rounded[0..<6]), [1, 1, 1 + 0x1p-7, 1 + 4 * 0x1p-8, -2.5, 0])
        XCTAssertEqual(rounded[6], .infinity)
        XCTAssertEqual(rounded[7], .infinity, "past bfloat16's largest finite value (≈ 3.39e38)")
        XCTAssertTrue(Tensor(shape: [1], scalars: [.nan]).roundedToBFloat16().scalars[0].isNaN)
    }

    func testInstructionAndPlainCRoundingAgreeOnEveryKindOfBitPattern() throws {
        try requireBFloat16()
        // Random bit patterns: normals, subnormals, NaNs with any payload, infinities, zeros.
        var generator = SeededGenerator(seed: 5)
        var bits = (0..<200_000).map { _ in UInt32.random(in: 0...UInt32.max, using: &generator) }
        bits += [0, 0x8000_0000, 0x7F80_0000, 0xFF80_0000, 0x7F80_0001, 0x0000_0001, 0x007F_FFFF, 0x7F7F_FFFF]
        let x = bits.map { Float(bitPattern: $0) }
        var vector = [Float](repeating: 0, count: x.count), plain = vector
        dl_bf16_round(x, &vector, x.count, 1)
        dl_bf16_round(x, &plain, x.count, 0)
        let differing = zip(vector, plain).filter { $0.bitPattern != $1.bitPattern }.count
        XCTAssertEqual(differing, 0)
    }

    func testRelativeRateIsMeasured() throws {
        try requireBFloat16()
        let rate = try XCTUnwrap(MatrixPrecision.bfloat16RelativeRate)
        // One dot instruction does two multiply-adds per lane: between a quarter and 4× FMA's rate.
        XCTAssertTrue(rate > 0.25 && rate < 4, "\(rate)")
        print("bfloat16 relative multiply-add rate: \(rate)")
    }

    /// op(a)·op(b) + β·c summed in Double from bf16-rounded a and b.
    private func reference(
        _ a: [Float], _ b: [Float], _ c: [Float], m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool,
        beta: Float
    ) -> [Float] {
        let ra = Tensor(shape: [a.count], scalars: a).roundedToBFloat16().scalars
        let rb = Tensor(shape: [b.count], scalars: b).roundedToBFloat16().scalars
        var out = [Float](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var total = beta == 0 ? 0 : Double(beta) * Double(c[i * n + j])
                for p in 0..<k {
                    let x = transposeA ? ra[p * m + i] : ra[i * k + p], y = transposeB ? rb[j * k + p] : rb[p * n + j]
                    total += Double(x) * Double(y)
                }
                out[i * n + j] = Float(total)
            }
        }
        return out
    }

    func testProductsEqualFloat64SumsOfRoundedOperandsForEveryLayoutAndEdge() throws {
        try requireBFloat16()
        // Shapes past each tile edge: 12-row micro-panels, 96-row blocks, 32-column panels,
        // 256-term blocks, odd term counts.
        let shapes = [(16, 16, 16), (17, 33, 31), (100, 70, 513), (25, 64, 257), (193, 40, 300)]
        for (index, (m, n, k)) in shapes.enumerated() {
            for transposeA in [false, true] {
                for transposeB in [false, true] {
                    for beta: Float in [0, 1, 0.5] {
                        let a = randomTensor([m * k], seed: UInt64(index * 7 + 1)).scalars
                        let b = randomTensor([k * n], seed: UInt64(index * 7 + 2)).scalars
                        let c = randomTensor([m * n], seed: UInt64(index * 7 + 3)).scalars
                        var result = c, exact = c
                        withMatrixPrecision(.bfloat16) {
                            product(
                                transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, a: a,
                                lda: transposeA ? m : k, b: b, ldb: transposeB ? k : n, beta: beta, c: &result, ldc: n)
                        }
                        product(
                            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, a: a,
                            lda: transposeA ? m : k, b: b, ldb: transposeB ? k : n, beta: beta, c: &exact, ldc: n)
                        let expected = reference(
                            a, b, c, m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB, beta: beta)
                        let label = "\(m)×\(n)×\(k) transposeA \(transposeA) transposeB \(transposeB) β \(beta)"
                        var worst: Float = 0, fromFloat32: Float = 0
                        for i in 0..<(m * n) {
                            worst = Swift.max(worst, abs(result[i] - expected[i]) / (1 + abs(expected[i])))
                            fromFloat32 = Swift.max(fromFloat32, abs(result[i] - exact[i]))
                        }
                        // Float32 sums of up to 513 exact products in another order: ≤ a few ulps·√k.
                        XCTAssertLessThanOrEqual(worst, 1e-5, label)
                        // And it really is bf16: the float32 product of the unrounded operands differs.
                        XCTAssertGreaterThan(fromFloat32, 1e-3, label)
                    }
                }
            }
        }
    }

    func testThinProductsAndOtherThreadsStayFloat32() throws {
        try requireBFloat16()
        let a = randomTensor([8, 64], seed: 1), b = randomTensor([64, 64], seed: 2)
        let float32 = matmul(a, b)
        XCTAssertEqual(withMatrixPrecision(.bfloat16) { matmul(a, b) }.scalars, float32.scalars, "8 rows: thin")
        let square = randomTensor([64, 64], seed: 3)
        let expected = matmul(square, b)
        withMatrixPrecision(.bfloat16) {
            XCTAssertEqual(MatrixPrecision.current, .bfloat16)
            nonisolated(unsafe) var other: [Float] = []
            let done = DispatchSemaphore(value: 0)
            let thread = Thread {
                other = matmul(square, b).scalars
                done.signal()
            }
            thread.start()
            done.wait()
            XCTAssertEqual(other, expected.scalars, "another thread's product")
            XCTAssertNotEqual(matmul(square, b).scalars, expected.scalars, "this thread's product")
        }
        XCTAssertEqual(MatrixPrecision.current, .float32)
    }

    /// A layer's output and gradients in bf16 equal float32 on bf16-rounded input and weights,
    /// with an output gradient that bf16 holds exactly (so its rounding changes nothing).
    private func checkAgainstRoundedFloat32(
        _ label: String, input: Tensor, weights: [Tensor], tolerance: Float,
        _ f: (Tensor, [Tensor]) -> Tensor
    ) {
        func run(_ x: Tensor, _ w: [Tensor], _ precision: MatrixPrecision) -> [Tensor] {
            let inputParameter = Parameter(x), parameters = w.map { Parameter($0) }
            return withMatrixPrecision(precision) {
                let y = f(inputParameter.value, parameters.map(\.value))
                let probe = randomTensor(y.shape, seed: 77).roundedToBFloat16()
                (y * probe).sum().backward()
                return [y, inputParameter.gradient!] + parameters.map { $0.gradient! }
            }
        }
        let mixed = run(input, weights, .bfloat16)
        let rounded = run(input.roundedToBFloat16(), weights.map { $0.roundedToBFloat16() }, .float32)
        let plain = run(input, weights, .float32)
        for (index, name) in (["output", "input gradient"] + weights.indices.map { "weight \($0) gradient" })
            .enumerated()
        {
            let scale = Swift.max(1, rounded[index].scalars.map(abs).max() ?? 1)
            assertClose(mixed[index], rounded[index], tolerance: tolerance * scale, "\(label) \(name)")
            XCTAssertGreaterThan(mixed[index].maxAbsoluteDifference(to: plain[index]), 0, "\(label) \(name) is bf16")
        }
    }

    func testConvolutionsAndLinearLayersEqualFloat32OnRoundedOperands() throws {
        try requireBFloat16()
        let image = randomTensor([2, 12, 12, 16], seed: 4)
        checkAgainstRoundedFloat32(
            "conv 4×4/2", input: image, weights: [randomTensor([4, 4, 16, 32], seed: 5)],
            tolerance: 2e-6
        ) { x, w in conv2D(x, kernel: w[0], stride: 2, padding: .same) }
        checkAgainstRoundedFloat32(
            "transposed conv 4×4/2", input: randomTensor([2, 6, 6, 32], seed: 6),
            weights: [randomTensor([4, 4, 16, 32], seed: 7)], tolerance: 2e-6
        ) { x, w in conv2DTranspose(x, kernel: w[0], stride: 2, padding: .same) }
        checkAgainstRoundedFloat32(
            "linear", input: randomTensor([40, 48], seed: 8), weights: [randomTensor([48, 24], seed: 9)],
            tolerance: 2e-6
        ) { x, w in matmul(x, w[0]) }
    }
}
