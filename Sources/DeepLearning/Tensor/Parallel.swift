import Dispatch
import Foundation
import Synchronization

/// Splits `0..<count` into contiguous chunks and runs `body` on them on all cores.
///
/// Work smaller than `grain` elements per chunk runs inline: waking a second thread
/// costs a few microseconds, more than a small elementwise op takes.
@inline(__always)
func parallelChunks(_ count: Int, grain: Int = 32_768, _ body: (Range<Int>) -> Void) {
    let chunks = Swift.min(Parallelism.threads, count / Swift.max(grain, 1))
    if chunks <= 1 {
        if count > 0 { body(0..<count) }
        return
    }
    let base = count / chunks, extra = count % chunks
    DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
        let start = chunk * base + Swift.min(chunk, extra)
        let end = start + base + (chunk < extra ? 1 : 0)
        body(start..<end)
    }
}

/// How many threads the library's own (non-BLAS) kernels use.
public enum Parallelism {
    /// A process-wide setting, safe to change from any thread, that changes speed only: every
    /// kernel splits its work so that results do not depend on it. Defaults to the number of
    /// active processors (at least 1). OpenBLAS keeps its own thread count (`OPENBLAS_NUM_THREADS`).
    public static var threads: Int {
        get { threadCount.load(ordering: .relaxed) }
        set { threadCount.store(Swift.max(1, newValue), ordering: .relaxed) }
    }

    private static let threadCount = Atomic<Int>(Swift.max(1, ProcessInfo.processInfo.activeProcessorCount))
}
