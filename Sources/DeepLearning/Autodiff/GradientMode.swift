/// Whether ops record the autodiff graph.
///
/// Recording is on by default. Turn it off for inference and for work that must not be
/// differentiated (optimizer updates, metrics) with `withoutGradient { … }`. The switch is
/// process-wide: record graphs from one thread at a time.
public enum GradientMode {
    nonisolated(unsafe) static var recordingDepthDisabled = 0

    /// `true` unless inside `withoutGradient`.
    public static var isRecording: Bool { recordingDepthDisabled == 0 }
}

/// Runs `body` without recording gradients (PyTorch's `torch.no_grad()`).
///
/// Results computed inside carry no graph, use less memory, and cannot be differentiated.
@discardableResult
public func withoutGradient<R>(_ body: () throws -> R) rethrows -> R {
    GradientMode.recordingDepthDisabled += 1
    defer { GradientMode.recordingDepthDisabled -= 1 }
    return try body()
}
