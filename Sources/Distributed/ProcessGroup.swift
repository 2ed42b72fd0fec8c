// The processes of a data-parallel job, over Open MPI (MPI_COMM_WORLD). Every MPI call of the
// process runs on one communication thread that this file owns (MPI is initialised there with
// MPI_THREAD_FUNNELED), so callers on any thread may use the group, and a gradient bucket's
// allreduce runs while the caller's backward pass goes on.

import CMPI
import DeepLearning
import Foundation
import Synchronization

/// A failed collective operation or a job that cannot start: the message names the operation
/// and, where MPI says, why.
public struct DistributedError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The processes of one MPI job (`mpirun -np N …`), each with a rank in `0..<size`.
///
/// Create it once per process with `ProcessGroup.fromEnvironment()`; every collective must be
/// called by all processes in the same order, as in MPI. Thread-safe: calls from several
/// threads are queued in order of arrival.
public final class ProcessGroup: @unchecked Sendable {
    /// This process's rank, `0..<size`.
    public let rank: Int
    /// The number of processes.
    public let size: Int
    /// Seconds spent inside collectives so far (on the communication thread), for benchmarks.
    public var communicationSeconds: Double { worker.busySeconds }

    private let worker: CommunicationThread

    /// The group of this process when it was started by Open MPI's `mpirun` (the environment
    /// has `OMPI_COMM_WORLD_SIZE`), or nil for a process started on its own. The first call
    /// initialises MPI; later calls return the same group.
    ///
    /// - Throws: `DistributedError` when MPI cannot be initialised.
    public static func fromEnvironment() throws -> ProcessGroup? {
        guard ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"] != nil else { return nil }
        return try shared.withLock { existing in
            if let existing { return existing }
            let group = try ProcessGroup()
            existing = group
            return group
        }
    }

    private static let shared = Mutex<ProcessGroup?>(nil)

    private init() throws {
        worker = CommunicationThread()
        let (rank, size) = try worker.sync { () throws -> (Int, Int) in
            var provided: Int32 = 0
            try check(MPI_Init_thread(nil, nil, Int32(MPI_THREAD_FUNNELED), &provided), "MPI_Init_thread")
            try check(dl_mpi_errors_return(dl_mpi_comm_world()), "MPI_Comm_set_errhandler")
            var rank: Int32 = 0, size: Int32 = 0
            try check(MPI_Comm_rank(dl_mpi_comm_world(), &rank), "MPI_Comm_rank")
            try check(MPI_Comm_size(dl_mpi_comm_world(), &size), "MPI_Comm_size")
            return (Int(rank), Int(size))
        }
        self.rank = rank
        self.size = size
    }

    /// The CPUs this process may run on (its affinity mask; `mpirun` binds each rank to cores
    /// unless told `--bind-to none`), or nil when unknown.
    public static var affinityCPUs: Int? {
        let count = Int(dl_affinity_cpus())
        return count > 0 ? count : nil
    }

    /// Runs the library's and OpenBLAS's threads on the CPUs this process is bound to, when
    /// that is fewer than it would use: two ranks each bound to one core would otherwise run
    /// two compute threads per core. Returns the thread count in force.
    @discardableResult
    public func fitThreadsToAffinity() -> Int {
        if let cpus = Self.affinityCPUs, cpus < Parallelism.threads { Parallelism.setThreads(includingBLAS: cpus) }
        return Parallelism.threads
    }

    /// Ends MPI for this process (after a last barrier, so no rank leaves while another still
    /// talks to it). The group must not be used afterwards.
    public func finalize() throws {
        try worker.sync {
            try check(MPI_Barrier(dl_mpi_comm_world()), "MPI_Barrier")
            try check(MPI_Finalize(), "MPI_Finalize")
        }
    }

    /// Sums `buffer` elementwise over all processes, in place (`MPI_Allreduce`).
    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        try worker.sync { try Self.allReduce(buffer) }
    }

    /// Sums `values` elementwise over all processes, in place.
    public func allReduceSum(_ values: inout [Float]) throws {
        try values.withUnsafeMutableBufferPointer { try allReduceSum($0) }
    }

    /// Starts summing `buffer` over all processes on the communication thread and returns at
    /// once; `wait()` on the result before touching the buffer again.
    public func startAllReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) -> PendingOperation {
        let pending = PendingOperation()
        nonisolated(unsafe) let buffer = buffer
        worker.async {
            pending.finish(Result { try Self.allReduce(buffer) })
        }
        return pending
    }

    /// Replaces `buffer` on every process by rank `root`'s (`MPI_Bcast`).
    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int = 0) throws {
        try worker.sync {
            try check(
                MPI_Bcast(buffer.baseAddress, Int32(buffer.count), dl_mpi_float(), Int32(root), dl_mpi_comm_world()),
                "MPI_Bcast of \(buffer.count) floats")
        }
    }

    /// Every process's bytes, in rank order, on rank `root` (nil on the others).
    public func gather(_ bytes: [UInt8], root: Int = 0) throws -> [[UInt8]]? {
        try worker.sync {
            var count = Int32(bytes.count)
            var counts = [Int32](repeating: 0, count: self.size)
            try check(
                MPI_Gather(&count, 1, dl_mpi_int(), &counts, 1, dl_mpi_int(), Int32(root), dl_mpi_comm_world()),
                "MPI_Gather of lengths")
            var offsets = [Int32](repeating: 0, count: self.size)
            for i in 1..<Swift.max(self.size, 1) { offsets[i] = offsets[i - 1] + counts[i - 1] }
            var all = [UInt8](repeating: 0, count: Int(counts.reduce(0, +)))
            var mine = bytes
            try check(
                MPI_Gatherv(
                    &mine, count, dl_mpi_byte(), &all, &counts, &offsets, dl_mpi_byte(), Int32(root),
                    dl_mpi_comm_world()), "MPI_Gatherv of \(count) bytes")
            guard self.rank == root else { return nil }
            return (0..<self.size).map { Array(all[Int(offsets[$0])..<Int(offsets[$0] + counts[$0])]) }
        }
    }

    /// Waits until every process has called it (`MPI_Barrier`).
    public func barrier() throws {
        try worker.sync { try check(MPI_Barrier(dl_mpi_comm_world()), "MPI_Barrier") }
    }

    private static func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return }
        // MPI counts are Int32: large buffers go in pieces.
        var offset = 0
        while offset < buffer.count {
            let count = Swift.min(buffer.count - offset, 1 << 30)
            try check(
                MPI_Allreduce(
                    dl_mpi_in_place(), base + offset, Int32(count), dl_mpi_float(), dl_mpi_sum(), dl_mpi_comm_world()),
                "MPI_Allreduce of \(count) floats")
            offset += count
        }
    }
}

/// An operation started on the communication thread.
public final class PendingOperation: @unchecked Sendable {
    private let state = Mutex<Result<Void, Error>?>(nil)
    private let done = DispatchSemaphore(value: 0)

    fileprivate func finish(_ result: Result<Void, Error>) {
        state.withLock { $0 = result }
        done.signal()
    }

    /// Blocks until the operation has finished; rethrows its error.
    public func wait() throws {
        done.wait()
        done.signal()  // later waits return at once
        try state.withLock { $0! }.get()
    }
}

private func check(_ code: Int32, _ operation: String) throws {
    guard code != MPI_SUCCESS else { return }
    var text = [CChar](repeating: 0, count: Int(MPI_MAX_ERROR_STRING) + 1)
    var length: Int32 = 0
    MPI_Error_string(code, &text, &length)
    throw DistributedError("\(operation) failed: \(String(cString: text))")
}

/// Where the communication thread leaves a result for the waiting caller.
private final class ResultSlot<R>: @unchecked Sendable {
    var result: Result<R, Error>?
}

/// One thread that runs closures in order of submission: the only thread that calls MPI.
private final class CommunicationThread: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [() -> Void] = []
    private var busy = 0.0

    var busySeconds: Double {
        condition.lock()
        defer { condition.unlock() }
        return busy
    }

    init() {
        let thread = Thread { [unowned self] in self.run() }
        thread.name = "mpi"
        thread.start()
    }

    private func run() {
        while true {
            condition.lock()
            while queue.isEmpty { condition.wait() }
            let job = queue.removeFirst()
            condition.unlock()
            let start = DispatchTime.now().uptimeNanoseconds
            job()
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            condition.lock()
            busy += seconds
            condition.unlock()
        }
    }

    func async(_ job: @escaping () -> Void) {
        condition.lock()
        queue.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Runs `job` on the thread and waits for it. (`job` escapes to the thread, so it captures
    /// buffers by pointer; the caller keeps them alive until this returns.)
    func sync<R>(_ job: @escaping () throws -> R) throws -> R {
        let slot = ResultSlot<R>(), done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) let job = job
        async {
            slot.result = Result { try job() }
            done.signal()
        }
        done.wait()
        return try slot.result!.get()
    }
}
