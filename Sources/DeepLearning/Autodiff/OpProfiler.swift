import Dispatch

// Per-op timing for benchmarks: where a training step spends its time outside the big GEMMs.
// Off by default; when off it costs one Bool test per recorded op. Not thread-safe (like the
// tape itself): profile from one thread.

/// Accumulates wall time per op, separately for forward and backward (pullback) work.
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

    nonisolated(unsafe) static var isEnabled = false
    /// Whether ops that give details (convolutions: their shapes) are reported per detail.
    nonisolated(unsafe) public static var detailed = false
    nonisolated(unsafe) private static var last: UInt64 = 0
    nonisolated(unsafe) private static var table: [String: Entry] = [:]

    /// Clears the table and starts timing.
    public static func start() {
        table = [:]
        isEnabled = true
        last = DispatchTime.now().uptimeNanoseconds
    }

    /// Stops timing and returns the entries, largest total first.
    public static func stop() -> [Entry] {
        isEnabled = false
        return table.values.sorted { $0.forward + $0.backward > $1.forward + $1.backward }
    }

    /// Restarts the forward clock (e.g. after work that is not an op).
    public static func mark() { last = DispatchTime.now().uptimeNanoseconds }

    /// Runs `body` and, when profiling, charges its time to `name` in the backward column
    /// (for work outside the tape, such as optimizer updates and gradient checks).
    @inline(__always)
    public static func measure<R>(_ name: String, _ body: () throws -> R) rethrows -> R {
        guard isEnabled else { return try body() }
        let started = DispatchTime.now().uptimeNanoseconds
        let result = try body()
        recordBackward(name, since: started)
        return result
    }

    static func recordForward(_ op: String) {
        let now = DispatchTime.now().uptimeNanoseconds
        table[op, default: Entry(op: op, forward: 0, backward: 0, calls: 0)].forward += Double(now - last) / 1e9
        table[op]!.calls += 1
        last = now
    }

    static func recordBackward(_ op: String, since start: UInt64) {
        let now = DispatchTime.now().uptimeNanoseconds
        table[op, default: Entry(op: op, forward: 0, backward: 0, calls: 0)].backward += Double(now - start) / 1e9
        last = now
    }
}
