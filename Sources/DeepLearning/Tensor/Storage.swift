import Foundation
import Synchronization

/// The heap buffer behind a `Tensor`: one 64-byte-aligned allocation of `Float`s.
///
/// A final class so that `Tensor` (a struct) gets copy-on-write by checking
/// `isKnownUniquelyReferenced` on it; the elements themselves are plain memory,
/// so no per-element reference counting ever happens.
final class TensorStorage {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int
    /// Set by an op that has proved its freshly written result finite without scanning it (see
    /// `kernelGradientIsProvablyFinite`); cleared by every in-place mutation of the tensor.
    var knownFinite = false
    /// Bytes actually reserved (a pool size class for large buffers).
    private let capacity: Int

    /// Allocates `count` uninitialised floats (at least one, so the pointer is always valid).
    init(uninitializedCount count: Int) {
        self.count = count
        let (raw, capacity) = StoragePool.allocate(bytes: Swift.max(count, 1) * MemoryLayout<Float>.stride)
        self.capacity = capacity
        pointer = raw.bindMemory(to: Float.self, capacity: Swift.max(count, 1))
    }

    convenience init(repeating value: Float, count: Int) {
        self.init(uninitializedCount: count)
        pointer.initialize(repeating: value, count: count)
    }

    /// A new storage holding a copy of this one's elements.
    func copy() -> TensorStorage {
        let result = TensorStorage(uninitializedCount: count)
        result.pointer.update(from: pointer, count: count)
        return result
    }

    deinit {
        StoragePool.release(UnsafeMutableRawPointer(pointer), capacity: capacity)
    }
}

/// A cache of large buffers by size class.
///
/// Training allocates the same large activation and gradient buffers every step. Fresh large
/// allocations come from `mmap`, and every page of them faults (and is zeroed by the kernel)
/// on first touch; freeing returns them with `munmap`. Keeping freed buffers of ≥ 1 MiB for
/// reuse removes that cost. Sizes are rounded up to classes a quarter of a power of two
/// apart (≤ 25 % slack); the cache holds at most `StoragePool.limit` bytes, beyond which
/// buffers are really freed.
enum StoragePool {
    /// Buffers smaller than this use the system allocator directly.
    static let minimumPooledBytes = 1 << 20
    /// Most bytes kept for reuse (default 512 MiB; `DEEPLEARNING_POOL_MIB` overrides, 0 disables).
    static let limit: Int = {
        if let text = ProcessInfo.processInfo.environment["DEEPLEARNING_POOL_MIB"], let mib = Int(text) {
            return mib << 20
        }
        return 512 << 20
    }()

    // Guarded by `lock`: tensors are freed on whichever thread drops the last reference.
    nonisolated(unsafe) private static var free: [Int: [UnsafeMutableRawPointer]] = [:]
    nonisolated(unsafe) private static var cachedBytes = 0
    private static let lock = NSLock()

    /// The size class of a request: the next of 4 steps per power of two.
    static func sizeClass(_ bytes: Int) -> Int {
        guard bytes >= minimumPooledBytes else { return bytes }
        let power = Int.bitWidth - (bytes - 1).leadingZeroBitCount  // 2^power ≥ bytes
        let step = 1 << (power - 3)  // eighths of 2^power: classes at 5/8, 6/8, 7/8, 8/8
        return (bytes + step - 1) / step * step
    }

    static func allocate(bytes: Int) -> (UnsafeMutableRawPointer, Int) {
        let capacity = sizeClass(bytes)
        if capacity >= minimumPooledBytes && limit > 0 {
            lock.lock()
            if var list = free[capacity], let reused = list.popLast() {
                free[capacity] = list
                cachedBytes -= capacity
                lock.unlock()
                TensorMemory.taken(capacity, fresh: false)
                return (reused, capacity)
            }
            lock.unlock()
        }
        var raw: UnsafeMutableRawPointer?
        // posix_memalign reports failure (the address-space limit, a huge request) where
        // `UnsafeMutableRawPointer.allocate` would end the process with no word of the size.
        guard posix_memalign(&raw, 64, capacity) == 0, let raw else {
            preconditionFailure(
                "cannot allocate \(capacity) bytes (\(describeBytes(capacity))) for a tensor: out of memory or past the process's memory limit, with \(describeBytes(TensorMemory.reservedBytes)) of tensors already held"
            )
        }
        TensorMemory.taken(capacity, fresh: true)
        return (raw, capacity)
    }

    static func release(_ pointer: UnsafeMutableRawPointer, capacity: Int) {
        if capacity >= minimumPooledBytes && limit > 0 {
            lock.lock()
            if cachedBytes + capacity <= limit {
                free[capacity, default: []].append(pointer)
                cachedBytes += capacity
                lock.unlock()
                TensorMemory.given(capacity, freed: false)
                return
            }
            lock.unlock()
        }
        Foundation.free(pointer)
        TensorMemory.given(capacity, freed: true)
    }
}

extension StoragePool {
    /// Runs `body` with an uninitialised scratch buffer of at least `count` floats from the
    /// pool, returned to it afterwards (the patch matrices of convolutions, partial sums).
    static func withScratchBuffer<R>(_ count: Int, _ body: (UnsafeMutablePointer<Float>) -> R) -> R {
        let (raw, capacity) = allocate(bytes: Swift.max(count, 1) * MemoryLayout<Float>.stride)
        defer { release(raw, capacity: capacity) }
        return body(raw.bindMemory(to: Float.self, capacity: Swift.max(count, 1)))
    }
}

/// What the process holds in tensor storage: the buffers of live tensors, and those kept for
/// reuse by the pool (`StoragePool`). `MemoryEstimate` measures a probe pass with it.
public enum TensorMemory {
    /// Bytes of the buffers of live tensors (and scratch buffers in use).
    public static var liveBytes: Int { live.load(ordering: .relaxed) }
    /// Bytes taken from the system for tensors: live ones and the pool's cache of freed ones.
    /// What the tensors add to the process's resident memory once written.
    public static var reservedBytes: Int { reserved.load(ordering: .relaxed) }
    /// The most `reservedBytes` has been since the process started or `resetPeak()`.
    public static var peakReservedBytes: Int { peakReserved.load(ordering: .relaxed) }
    /// The most `liveBytes` has been since the process started or `resetPeak()`.
    public static var peakLiveBytes: Int { peakLive.load(ordering: .relaxed) }
    /// Bytes of the parameters' accumulated gradients (`Parameter.gradient`).
    public static var gradientBytes: Int { gradients.load(ordering: .relaxed) }
    /// The most `liveBytes − gradientBytes` has been since the process started or `resetPeak()`:
    /// the peak of everything but the parameters' gradients (activations, outputs, scratch),
    /// which grows with a model's input where the gradients do not.
    public static var peakLiveBytesBesidesGradients: Int { peakBesidesGradients.load(ordering: .relaxed) }

    /// Starts the peaks afresh from the current values.
    public static func resetPeak() {
        peakReserved.store(reservedBytes, ordering: .relaxed)
        peakLive.store(liveBytes, ordering: .relaxed)
        peakBesidesGradients.store(liveBytes - gradientBytes, ordering: .relaxed)
    }

    private static let live = Atomic<Int>(0), reserved = Atomic<Int>(0), gradients = Atomic<Int>(0)
    private static let peakLive = Atomic<Int>(0), peakReserved = Atomic<Int>(0)
    private static let peakBesidesGradients = Atomic<Int>(0)

    /// A buffer of `bytes` handed out, `fresh` from the system or reused from the pool.
    static func taken(_ bytes: Int, fresh: Bool) {
        let nowLive = live.wrappingAdd(bytes, ordering: .relaxed).newValue
        raise(peakLive, to: nowLive)
        raise(peakBesidesGradients, to: nowLive - gradients.load(ordering: .relaxed))
        if fresh { raise(peakReserved, to: reserved.wrappingAdd(bytes, ordering: .relaxed).newValue) }
    }

    /// A parameter's gradient grew (or, negative, shrank or went) by `bytes`.
    static func gradientsChanged(by bytes: Int) {
        if bytes != 0 { gradients.wrappingAdd(bytes, ordering: .relaxed) }
    }

    /// A buffer of `bytes` given back, `freed` to the system or kept by the pool.
    static func given(_ bytes: Int, freed: Bool) {
        live.wrappingSubtract(bytes, ordering: .relaxed)
        if freed { reserved.wrappingSubtract(bytes, ordering: .relaxed) }
    }

    private static func raise(_ peak: borrowing Atomic<Int>, to value: Int) {
        var current = peak.load(ordering: .relaxed)
        while value > current {
            let (exchanged, original) = peak.compareExchange(
                expected: current, desired: value, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }
}

/// `bytes` for a person: "512 MB", "3.25 GB" (powers of 1000, as `free -h --si` and disk sizes).
public func describeBytes(_ bytes: Int) -> String {
    let value = Double(bytes)
    switch value {
    case ..<1e6: return String(format: "%.0f kB", value / 1e3)
    case ..<1e9: return String(format: "%.0f MB", value / 1e6)
    case ..<1e12: return String(format: "%.2f GB", value / 1e9)
    default: return String(format: "%.1f TB", value / 1e12)
    }
}
