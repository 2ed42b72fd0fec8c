@testable import DeepLearning
import Foundation
import Synchronization
import XCTest

/// Gradient recording is switched per thread, like PyTorch's grad mode.
final class GradientModeTests: XCTestCase {
    func testWithoutGradientOnOneThreadDoesNotStopRecordingOnAnother() {
        let x = Parameter(Tensor([1, 2, 3]))
        let entered = DispatchSemaphore(value: 0), checked = DispatchSemaphore(value: 0)
        let recordingInside = Atomic<Bool>(true)
        let quiet = Thread {
            withoutGradient {
                recordingInside.store(GradientMode.isRecording, ordering: .relaxed)
                entered.signal()
                checked.wait()  // stay inside withoutGradient while the other thread records
            }
        }
        quiet.start()
        entered.wait()
        XCTAssertTrue(GradientMode.isRecording)
        let y = (x.value * x.value).sum()
        XCTAssertNotNil(y.node, "a forward pass on this thread must record while another thread is in withoutGradient")
        if y.node != nil { y.backward() }
        checked.signal()
        while !quiet.isFinished { usleep(1_000) }
        XCTAssertFalse(recordingInside.load(ordering: .relaxed))
        XCTAssertEqual(x.gradient?.scalars, [2, 4, 6])
    }

    func testBackwardOnOneThreadDoesNotStopRecordingOnAnother() {
        // backward() runs its pullbacks with recording off: on its own thread only.
        let a = Parameter(Tensor.ones([32, 32])), b = Parameter(Tensor([1, 2]))
        let started = DispatchSemaphore(value: 0), stop = Atomic<Bool>(false)
        let busy = Thread {
            started.signal()
            while !stop.load(ordering: .relaxed) {
                (a.value.exp().exp().exp() * a.value).sum().backward()  // mostly pullbacks
                a.zeroGradient()
            }
        }
        busy.start()
        started.wait()
        var recorded = 0
        for _ in 0..<2_000 where (b.value * b.value).sum().node != nil { recorded += 1 }
        stop.store(true, ordering: .relaxed)
        while !busy.isFinished { usleep(1_000) }
        XCTAssertEqual(recorded, 2_000)
    }

    func testWithoutGradientNestsAndRestores() {
        XCTAssertTrue(GradientMode.isRecording)
        withoutGradient {
            withoutGradient { XCTAssertFalse(GradientMode.isRecording) }
            XCTAssertFalse(GradientMode.isRecording)
        }
        XCTAssertTrue(GradientMode.isRecording)
    }
}
