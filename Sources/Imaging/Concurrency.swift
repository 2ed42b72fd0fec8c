import Dispatch
import Foundation

/// Splits `0..<count` into contiguous chunks run on all active cores; work smaller than
/// `grain` items runs inline because waking a thread costs more than it saves.
/// (DeepLearning's `parallelChunks` is internal to that module.)
func concurrentChunks(_ count: Int, grain: Int, _ body: (Range<Int>) -> Void) {
    let chunks = min(ProcessInfo.processInfo.activeProcessorCount, count / max(grain, 1))
    if chunks <= 1 {
        if count > 0 { body(0..<count) }
        return
    }
    let base = count / chunks, extra = count % chunks
    DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
        let start = chunk * base + min(chunk, extra)
        body(start..<(start + base + (chunk < extra ? 1 : 0)))
    }
}
