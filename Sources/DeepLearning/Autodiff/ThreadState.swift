#if canImport(Glibc)
import Glibc
#endif

/// The library's per-thread state: whether this thread records the autodiff graph, its op
/// profiler, the kernel settings tests and benchmarks override, and the batch-norm scope. Each thread gets its own on
/// first use, released when the thread exits, so a forward pass on one thread never sees
/// another thread's `withoutGradient`, profile or settings.
final class ThreadState {
    /// Nesting depth of `withoutGradient` on this thread; recording is on at 0.
    var gradientDisabledDepth = 0
    /// The profile this thread is collecting, if any (`OpProfiler.start()`).
    var profile: OpProfiler.Session?
    /// How this thread's ops choose and chunk their kernels.
    var kernelSettings = KernelSettings()
    /// How this thread's batch norms compute their statistics (BatchNormScopes.swift).
    var batchNormScope = BatchNormScope()

    /// The calling thread's state (one `pthread_getspecific` call).
    static var current: ThreadState {
        if let existing = pthread_getspecific(threadStateKey) {
            return Unmanaged<ThreadState>.fromOpaque(existing).takeUnretainedValue()
        }
        let state = ThreadState()
        pthread_setspecific(threadStateKey, Unmanaged.passRetained(state).toOpaque())
        return state
    }
}

/// The key of `ThreadState.current`; its destructor releases a thread's state at thread exit.
private let threadStateKey: pthread_key_t = {
    var key = pthread_key_t()
    let status = pthread_key_create(&key) { pointer in
        guard let pointer else { return }
        Unmanaged<ThreadState>.fromOpaque(pointer).release()
    }
    precondition(status == 0, "pthread_key_create failed with \(status)")
    return key
}()

/// Kernel choices that tests and benchmarks vary (`ConvGeometry.scratchBudget`,
/// `ThinProduct.level`, `ThinProduct.minimumLargeOperand`) and the matrix precision
/// (`withMatrixPrecision`). They change which kernel runs or how work is chunked, and so the
/// rounding of results: per thread, never process-wide.
struct KernelSettings {
    /// Floats of patch matrix per convolution chunk (16 MB).
    var scratchBudget = 1 << 22
    /// The thin-product kernels' instruction-set level (see `ThinProduct.level`).
    var thinProductLevel = ThinProduct.defaultLevel
    /// The fewest floats of the large operand for a thin-product kernel.
    var thinProductMinimumLargeOperand = 1 << 18
    /// The instruction-set level of the pointwise C kernels (see `PointwiseKernels.level`).
    var pointwiseLevel = ThinProduct.defaultLevel
    /// Whether general matrix products run in bfloat16 (`withMatrixPrecision`).
    var bfloat16Products = false
    /// Whether stride-1 3×3 convolutions take the Winograd route (`ConvGeometry.usesWinograd`).
    var winograd = true
    /// The fewest 2×2 output tiles for the Winograd route (tests lower it to reach small shapes).
    var winogradMinimumTiles = 256
    /// Whether convolutions with at most 4 output channels take the direct loops
    /// (`ConvGeometry.usesThinOutputKernels`).
    var thinOutputConvolutions = true
}
