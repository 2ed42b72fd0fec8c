import DeepLearning

/// How a generator behaves when translating images after training.
public enum InferenceMode: String, Codable, Sendable, CaseIterable {
    /// The paper's (and the seed's) test-time behaviour: dropout stays active and batch norm
    /// uses the statistics of the batch being translated. Outputs vary run to run.
    case paper
    /// Classic evaluation mode: no dropout, batch norm with its running statistics.
    /// Outputs are deterministic.
    case deterministic
}

extension Layer {
    /// Translates images with this generator without recording gradients.
    ///
    /// - Parameters:
    ///   - images: `[H, W, C]` or `[N, H, W, C]`, values in [-1, 1].
    ///   - mode: `.paper` (dropout on, batch statistics) or `.deterministic`.
    /// - Returns: the translated images, same rank as `images`, values in [-1, 1].
    ///
    /// The model's training flags are restored afterwards; in `.paper` mode the running
    /// statistics are not touched.
    public func translate(_ images: Tensor, mode: InferenceMode = .paper) -> Tensor {
        let single = images.rank == 3
        let batch = single ? images.reshaped(to: [1] + images.shape) : images
        let all = modules
        let norms = all.compactMap { $0 as? BatchNorm }
        let dropouts = all.compactMap { $0 as? Dropout }
        let saved = (
            training: all.compactMap { ($0 as? TrainingModeDependent)?.isTraining },
            force: norms.map(\.forceBatchStatistics), active: dropouts.map(\.activeAtInference)
        )
        setTraining(false)
        for norm in norms { norm.forceBatchStatistics = mode == .paper }
        for dropout in dropouts { dropout.activeAtInference = mode == .paper }
        defer {
            for (module, flag) in zip(all.compactMap { $0 as? TrainingModeDependent }, saved.training) {
                module.isTraining = flag
            }
            for (norm, flag) in zip(norms, saved.force) { norm.forceBatchStatistics = flag }
            for (dropout, flag) in zip(dropouts, saved.active) { dropout.activeAtInference = flag }
        }
        let output = withoutGradient { self(batch) }
        return single ? output.reshaped(to: Array(output.shape.dropFirst())) : output
    }
}
