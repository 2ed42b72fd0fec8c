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
    /// In `.paper` mode the dropout masks are drawn from a generator split off the default
    /// generator (`RandomState`); use `translate(_:mode:generator:)` to choose it.
    public func translate(_ images: Tensor, mode: InferenceMode = .paper) -> Tensor {
        var generator = SeededGenerator(seed: RandomState.withGenerator { $0.next() })
        return translate(images, mode: mode, generator: &generator)
    }

    /// Translates images with this generator without recording gradients, drawing `.paper`
    /// mode's dropout masks from `generator`.
    ///
    /// Inference never touches training's state: the model's training flags and every
    /// `Dropout` layer's own generator (training's random stream) are restored afterwards, and
    /// in `.paper` mode the running statistics are not updated. So translating samples in the
    /// middle of training does not change the training run.
    ///
    /// - Parameters:
    ///   - images: `[H, W, C]` or `[N, H, W, C]`, values in [-1, 1].
    ///   - mode: `.paper` (dropout on, batch statistics) or `.deterministic`.
    ///   - generator: the source of `.paper` mode's dropout masks (unused in `.deterministic`).
    /// - Returns: the translated images, same rank as `images`, values in [-1, 1].
    public func translate(_ images: Tensor, mode: InferenceMode, generator: inout SeededGenerator) -> Tensor {
        let single = images.rank == 3
        let batch = single ? images.reshaped(to: [1] + images.shape) : images
        let all = modules
        let modeDependent = all.compactMap { $0 as? TrainingModeDependent }
        let dropouts = all.compactMap { $0 as? Dropout }
        let saved = (
            training: modeDependent.map(\.isTraining),
            active: dropouts.map(\.activeAtInference), streams: dropouts.map(\.generator)
        )
        setTraining(false)
        for dropout in dropouts {
            dropout.activeAtInference = mode == .paper
            dropout.generator = SeededGenerator(seed: generator.next())
        }
        defer {
            for (module, flag) in zip(modeDependent, saved.training) { module.isTraining = flag }
            for (index, dropout) in dropouts.enumerated() {
                dropout.activeAtInference = saved.active[index]
                dropout.generator = saved.streams[index]
            }
        }
        let output = withoutGradient {
            mode == .paper ? BatchNorm.withBatchStatisticsInInference { self(batch) } : self(batch)
        }
        return single ? output.reshaped(to: Array(output.shape.dropFirst())) : output
    }
}
