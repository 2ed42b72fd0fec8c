// How the batch norms called inside a block compute their statistics: scoped, per thread, like
// `withoutGradient` and `withMatrixPrecision`, so a `BatchNorm` holds only its own math and
// state, and a caller's concern (a trainer scoring two batches at once, a data-parallel job, a
// paper's test-time behaviour) lasts exactly as long as the caller's block.

/// The calling thread's batch-norm scope (`ThreadState.batchNormScope`).
struct BatchNormScope {
    /// Equal, independent sub-batches along the first axis (1: the whole batch).
    var subBatches = 1
    /// Sums training statistics over the processes of a data-parallel job; nil: this process's own.
    var reducer: CrossProcessReducer?
    /// Whether layers in inference normalise with the batch's statistics instead of the running ones.
    var batchStatisticsInInference = false
}

extension BatchNorm {
    /// Runs `body` with every `BatchNorm` it calls on this thread treating its batch as `count`
    /// equal, independent sub-batches along the first axis: statistics per sub-batch, and in
    /// training the running statistics updated once per sub-batch, in order — the same results
    /// as passing each sub-batch through on its own, in one pass with taller GEMMs. The pix2pix
    /// trainer scores the real and the generated pairs this way.
    ///
    /// - Parameter count: at least 1; every batch norm's batch must divide by it.
    @discardableResult
    public static func withIndependentSubBatches<R>(_ count: Int, _ body: () throws -> R) rethrows -> R {
        precondition(count >= 1, "BatchNorm.withIndependentSubBatches: \(count) must be at least 1")
        return try withScope({ $0.subBatches = count }, body)
    }

    /// Synchronised batch normalisation (PyTorch's `SyncBatchNorm`): runs `body` with every
    /// `BatchNorm` it calls in training mode on this thread computing its batch statistics over
    /// the batches of every process of a data-parallel job, summed by `reducer` (the
    /// `Distributed` module's `ProcessGroup`), and so the sums its input gradient needs (the
    /// pullback keeps the reducer, so `backward()` may run outside the block). N processes at
    /// batch B then normalise like one process at batch N·B. Layers in inference stay local.
    /// Every process must run the same layers in the same order.
    @discardableResult
    public static func synchronized<R>(over reducer: CrossProcessReducer, _ body: () throws -> R) rethrows -> R {
        try withScope({ $0.reducer = reducer }, body)
    }

    /// Runs `body` with every `BatchNorm` it calls in inference mode on this thread normalising
    /// with the statistics of the batch it is given, leaving the running statistics untouched:
    /// the pix2pix paper's and the seed's test-time behaviour (Keras's
    /// `BatchNormalization()(x, training=True)`, junyanz's test without `--eval`).
    @discardableResult
    public static func withBatchStatisticsInInference<R>(_ body: () throws -> R) rethrows -> R {
        try withScope({ $0.batchStatisticsInInference = true }, body)
    }

    private static func withScope<R>(_ change: (inout BatchNormScope) -> Void, _ body: () throws -> R) rethrows -> R {
        let state = ThreadState.current
        let previous = state.batchNormScope
        change(&state.batchNormScope)
        defer { state.batchNormScope = previous }
        return try body()
    }
}
