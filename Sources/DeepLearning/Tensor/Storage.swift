import Foundation

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
                return (reused, capacity)
            }
            lock.unlock()
        }
        return (UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64), capacity)
    }

    static func release(_ pointer: UnsafeMutableRawPointer, capacity: Int) {
        if capacity >= minimumPooledBytes && limit > 0 {
            lock.lock()
            if cachedBytes + capacity <= limit {
                free[capacity, default: []].append(pointer)
                cachedBytes += capacity
                lock.unlock()
                return
            }
            lock.unlock()
        }
        pointer.deallocate()
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
