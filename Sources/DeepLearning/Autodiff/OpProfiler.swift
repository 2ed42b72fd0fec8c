import Dispatch

// Per-op timing for benchmarks: where a training step spends its time outside the big GEMMs.
// A profile belongs to the thread that started it (it lives in `ThreadState`), so profiling
// one thread neither slows nor mixes in the ops of another. When off it costs one check per
// recorded op.

/// Accumulates wall time per op of the calling thread, separately for forward and backward
/// (pullback) work.
///
/// Forward time of an op is the time since the previous recorded op (or since `start()`),
/// so work done between ops (e.g. in a layer's Swift code) is charged to the next op.
@_spi(Benchmarks) public enum OpProfiler {
    /// One row of the report.
    public struct Entry: Sendable {
        /// The function that recorded the op, e.g. `conv2D(_:kernel:bias:stride:padding:)`.
        public var op: String
        /// Forward seconds, summed over calls.
        public var forward: Double
        /// Backward (pullback) seconds, summed over calls.
        public var backward: Double
        /// Number of forward calls.
        public var calls: Int
    }

    /// The profile of one thread between `start()` and `stop()`.
    final class Session {
        /// Whether ops that give details (convolutions: their shapes) are reported per detail.
        let detailed: Bool
        private var last = DispatchTime.now().uptimeNanoseconds
        private(set) var table: [String: Entry] = [:]

        init(detailed: Bool) { self.detailed = detailed }

        func mark() { last = DispatchTime.now().uptimeNanoseconds }

        func recordForward(_ op: String) {
            let now = DispatchTime.now().uptimeNanoseconds
            table[op, default: Entry(op: op, forward: 0, backward: 0, calls: 0)].forward += Double(now - last) / 1e9
            table[op]!.calls += 1
            last = now
        }

        func recordBackward(_ op: String, since start: UInt64) {
            let now = DispatchTime.now().uptimeNanoseconds
            table[op, default: Entry(op: op, forward: 0, backward: 0, calls: 0)].backward += Double(now - start) / 1e9
            last = now
        }
    }

    /// Starts (or restarts, clearing the table) profiling the calling thread.
    ///
    /// - Parameter detailed: report ops that give details (convolutions: their shapes) once per
    ///   detail instead of once per op. Default `false`.
    public static func start(detailed: Bool = false) {
        ThreadState.current.profile = Session(detailed: detailed)
    }

    /// Stops profiling the calling thread and returns its entries, largest total first.
    public static func stop() -> [Entry] {
        let state = ThreadState.current
        defer { state.profile = nil }
        return (state.profile?.table.values).map { $0.sorted { $0.forward + $0.backward > $1.forward + $1.backward } }
            ?? []
    }

    /// Restarts the forward clock (e.g. after work that is not an op).
    public static func mark() { ThreadState.current.profile?.mark() }

    /// Runs `body` and, when the calling thread is profiling, charges its time to `name` in the
    /// backward column (for work outside the graph, such as optimizer updates).
    @inline(__always)
    public static func measure<R>(_ name: @autoclosure () -> String, _ body: () throws -> R) rethrows -> R {
        guard let profile = ThreadState.current.profile else { return try body() }
        let started = DispatchTime.now().uptimeNanoseconds
        let result = try body()
        profile.recordBackward(name(), since: started)
        return result
    }
}
