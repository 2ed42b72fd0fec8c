import DeepLearning
import XCTest

final class AutodiffTests: XCTestCase {
    func testGradientAccumulatesWhenAValueIsUsedTwice() {
        let x = Parameter(Tensor([1, 2, 3]))
        let y = x.value * x.value + x.value     // dy/dx = 2x + 1
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
        let y = (x.value.detached() * x.value).sum()   // d/dx of c·x with c = x held constant
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
}
