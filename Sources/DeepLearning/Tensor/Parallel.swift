import COpenBLAS
import CKernels
import Foundation
import Synchronization

/// Splits `0..<count` into contiguous chunks and runs `body` on them on all cores.
///
/// Work smaller than `grain` elements per chunk runs inline: handing a chunk to another thread
/// costs microseconds, more than a small elementwise op takes. The chunks depend only on
/// `count`, `grain` and `Parallelism.threads`, never on which thread runs them.
@inline(__always)
func parallelChunks(_ count: Int, grain: Int = 32_768, _ body: (Range<Int>) -> Void) {
    let chunks = Swift.min(Parallelism.threads, count / Swift.max(grain, 1))
    if chunks <= 1 {
        if count > 0 { body(0..<count) }
        return
    }
    let base = count / chunks, extra = count % chunks
    WorkerPool.shared.perform(chunks) { chunk in
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

    /// Sets the library's threads and OpenBLAS's to `count` (at least 1): e.g. the cores a
    /// process is bound to when several processes share a machine.
    public static func setThreads(includingBLAS count: Int) {
        threads = count
        OpenBLASSetup.configure()
        openblas_set_num_threads(Int32(Swift.max(1, count)))
    }

    /// Splits `0..<count` into contiguous chunks and runs `body` on them on the library's worker
    /// threads (the caller takes chunks too), returning when all are done: what the library's
    /// own kernels use, for other modules' loops (image decoding and resizing in `Imaging`).
    ///
    /// Work under `grain` items per chunk runs inline on the calling thread, because handing a
    /// chunk over costs more than a small loop takes. The chunks depend only on `count`, `grain`
    /// and `threads`, so a loop whose chunks write disjoint ranges gives the same results on any
    /// thread count. A call made while another runs (from inside a chunk, or from another thread)
    /// runs its chunks inline, in order.
    public static func forEachChunk(of count: Int, grain: Int = 32_768, _ body: (Range<Int>) -> Void) {
        parallelChunks(count, grain: grain, body)
    }

    private static let threadCount = Atomic<Int>(Swift.max(1, ProcessInfo.processInfo.activeProcessorCount))
}

/// The library's own worker threads (Docs/Performance.md, "Worker threads").
///
/// `DispatchQueue.concurrentPerform` wakes its threads through the kernel for every call; on the
/// 2-core VMs this project runs on, a second thread then joins a 0.1 ms op too late to halve it.
/// These workers spin briefly (yielding the core to any other runnable thread, e.g. OpenBLAS's)
/// after each job before they sleep, so back-to-back ops find them awake.
///
/// One job runs at a time. The caller takes chunks too, and waits until every chunk is done. A
/// call made while a job runs — from inside a chunk, or from a second thread — runs its chunks
/// inline, in order: nested parallelism would only oversubscribe the cores.
///
/// Invariants (why `@unchecked Sendable` holds): `job` is written only by the thread that owns
/// `busy`, before the store that publishes the job in `claims`, and read by a worker only after
/// it has claimed a chunk of that same job (an acquiring exchange on `claims`). The owner does
/// not touch it again until `pending` — the chunks not yet finished — drops to zero.
final class WorkerPool: @unchecked Sendable {
    static let shared = WorkerPool()

    /// How long an idle worker keeps polling for the next job before it sleeps.
    static let spinNanoseconds: UInt64 = 200_000

    /// The job's generation in the high 32 bits, its number of chunks in the next 16, the next
    /// unclaimed chunk in the low 16 — one word, so a claim sees a consistent job.
    private let claims = Atomic<UInt64>(0)
    /// Chunks of the current job not yet finished.
    private let pending = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    private let sleepers = Atomic<Int>(0)
    private let workers = Mutex<Int>(0)
    private var job: ((Int) -> Void)? = nil
    private var generation: UInt64 = 0
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wakeUp = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    private init() {
        // OpenBLAS's workers spin for ~0.1 s after the library loads unless setup shortens it:
        // they would hold a core these workers need.
        OpenBLASSetup.configure()
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wakeUp, nil)
    }

    /// Runs `body(0)…body(chunks − 1)`, in parallel where the pool is free.
    func perform(_ chunks: Int, _ body: (Int) -> Void) {
        guard chunks > 1, chunks <= 0xFFFF,
            busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
        else {
            for chunk in 0..<chunks { body(chunk) }
            return
        }
        startWorkers(chunks - 1)
        withoutActuallyEscaping(body) { body in
            job = body
            generation = (generation + 1) & 0xFFFF_FFFF
            pending.store(chunks, ordering: .relaxed)
            // Publishes job and pending with the new generation (sequentially consistent, so
            // that the sleeper count below cannot be read before it).
            claims.store(generation << 32 | UInt64(chunks) << 16, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(mutex)
                pthread_cond_broadcast(wakeUp)
                pthread_mutex_unlock(mutex)
            }
            runChunks(of: generation)
            var polls = 0
            while pending.load(ordering: .acquiring) > 0 {
                polls += 1
                if polls & 63 == 0 { sched_yield() } else { dl_cpu_relax() }
            }
            job = nil
        }
        busy.store(false, ordering: .releasing)
    }

    /// Claims and runs chunks of job `generation` until none is left.
    private func runChunks(of generation: UInt64) {
        while true {
            var state = claims.load(ordering: .acquiring)
            var chunk = 0
            while true {
                guard state >> 32 == generation else { return }
                chunk = Int(state & 0xFFFF)
                guard chunk < Int(state >> 16 & 0xFFFF) else { return }
                let (exchanged, original) = claims.compareExchange(
                    expected: state, desired: state + 1, ordering: .acquiringAndReleasing)
                if exchanged { break }
                state = original
            }
            job!(chunk)
            pending.subtract(1, ordering: .releasing)
        }
    }

    /// Makes sure `count` workers exist (they live as long as the process).
    private func startWorkers(_ count: Int) {
        workers.withLock { running in
            while running < count {
                var thread = pthread_t()
                let context = Unmanaged.passUnretained(self).toOpaque()
                let status = pthread_create(
                    &thread, nil,
                    { context in
                        Unmanaged<WorkerPool>.fromOpaque(context!).takeUnretainedValue().work()
                        return nil
                    }, context)
                guard status == 0 else { return }  // fewer workers: the caller does more chunks
                pthread_detach(thread)
                running += 1
            }
        }
    }

    private func work() {
        var seen = claims.load(ordering: .acquiring) >> 32
        while true {
            var current = claims.load(ordering: .acquiring) >> 32
            let start = DispatchTime.now().uptimeNanoseconds
            var polls = 0
            while current == seen {
                polls += 1
                if polls & 63 == 0 {
                    if DispatchTime.now().uptimeNanoseconds - start > Self.spinNanoseconds {
                        current = sleep(after: seen)
                        break
                    }
                    sched_yield()
                } else {
                    dl_cpu_relax()
                }
                current = claims.load(ordering: .acquiring) >> 32
            }
            seen = current
            runChunks(of: current)
        }
    }

    /// Blocks until a job newer than `seen` is published; returns its generation.
    private func sleep(after seen: UInt64) -> UInt64 {
        pthread_mutex_lock(mutex)
        sleepers.add(1, ordering: .sequentiallyConsistent)
        var current = claims.load(ordering: .sequentiallyConsistent) >> 32
        while current == seen {
            pthread_cond_wait(wakeUp, mutex)
            current = claims.load(ordering: .acquiring) >> 32
        }
        sleepers.subtract(1, ordering: .relaxed)
        pthread_mutex_unlock(mutex)
        return current
    }
}
