@_spi(Benchmarks) import DeepLearning
import XCTest

final class AutodiffTests: XCTestCase {
    func testGradientAccumulatesWhenAValueIsUsedTwice() {
        let x = Parameter(Tensor([1, 2, 3]))
        let y = x.value * x.value + x.value  // dy/dx = 2x + 1
        y.sum().backward()
        XCTAssertEqual(x.gradient?.scalars, [3, 5, 7])
    }

    func testWithoutGradientRecordsNothing() {
        let x = Parameter(Tensor([1, 2]))
        let y = withoutGradient { x.value * 2 }
        XCTAssertFalse(y.requiresGradient)
        XCTAssertTrue((x.value * 2).requiresGradient)
    }

    func testDetachedStopsTheGradient() {
        let x = Parameter(Tensor([2, 3]))
        let y = (x.value.detached() * x.value).sum()  // d/dx of c·x with c = x held constant
        y.backward()
        XCTAssertEqual(x.gradient?.scalars, [2, 3])
    }

    func testGradientsAccumulateAcrossBackwardCallsUntilZeroed() {
        let x = Parameter(Tensor([1, 1]))
        (x.value * 3).sum().backward()
        (x.value * 3).sum().backward()
        XCTAssertEqual(x.gradient?.scalars, [6, 6])
        x.zeroGradient()
        XCTAssertNil(x.gradient)
    }

    func testFrozenParameterGetsNoGradient() {
        let frozen = Parameter(Tensor([1, 2]), requiresGradient: false)
        let trained = Parameter(Tensor([3, 4]))
        (frozen.value * trained.value).sum().backward()
        XCTAssertNil(frozen.gradient)
        XCTAssertEqual(trained.gradient?.scalars, [1, 2])
    }

    func testGradientFinitenessIsTrackedThroughAccumulation() {
        let x = Parameter(Tensor([1, 2]))
        XCTAssertTrue(x.gradientIsFinite, "no gradient yet")
        (x.value * 3).sum().backward()
        XCTAssertTrue(x.gradientIsFinite)
        (x.value * Tensor([.infinity, 1])).sum().backward()  // accumulates ∞ into the first entry
        XCTAssertFalse(x.gradientIsFinite)
        x.zeroGradient()
        XCTAssertTrue(x.gradientIsFinite)
        (x.value.log() * Tensor([0, 1])).sum().backward()  // finite
        XCTAssertTrue(x.gradientIsFinite)
        x.zeroGradient()
        (x.value * Tensor([.nan, 1])).sum().backward()
        XCTAssertFalse(x.gradientIsFinite)
        XCTAssertEqual(x.gradientIsFinite, x.gradient!.isFinite)
    }

    func testOpProfilerChargesForwardAndBackwardToTheRecordingOp() {
        let x = Parameter(Tensor.ones([64, 64]))
        OpProfiler.start()
        let y = matmul(x.value, x.value).relu().sum()
        y.backward()
        let entries = OpProfiler.stop()
        let matmulEntry = entries.first { $0.op.hasPrefix("matmul") }
        XCTAssertEqual(matmulEntry?.calls, 1)
        XCTAssertGreaterThan(matmulEntry?.backward ?? 0, 0)
        XCTAssertEqual(entries.first { $0.op.hasPrefix("relu") }?.calls, 1)
        // Off again: nothing more is recorded.
        _ = matmul(x.value, x.value)
        XCTAssertTrue(OpProfiler.stop().isEmpty)
    }

    func testOpProfilerRecordsOnlyTheThreadThatStartedIt() {
        let x = Parameter(Tensor.ones([8, 8]))
        OpProfiler.start()
        let other = Thread { _ = matmul(x.value, x.value).relu() }
        other.start()
        while !other.isFinished { usleep(1000) }
        _ = matmul(x.value, x.value)
        let entries = OpProfiler.stop()
        XCTAssertEqual(entries.first { $0.op.hasPrefix("matmul") }?.calls, 1)
        XCTAssertNil(entries.first { $0.op.hasPrefix("relu") })
    }
}
