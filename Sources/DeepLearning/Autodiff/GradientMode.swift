/// Whether ops record the autodiff graph on the calling thread.
///
/// Recording is on by default. Turn it off for inference and for work that must not be
/// differentiated (optimizer updates, metrics) with `withoutGradient { … }`. The switch is per
/// thread, like PyTorch's grad mode: `withoutGradient` on one thread never stops another
/// thread from recording.
public enum GradientMode {
    /// `true` unless the calling thread is inside `withoutGradient`.
    public static var isRecording: Bool { ThreadState.current.gradientDisabledDepth == 0 }
}

/// Runs `body` without recording gradients on the calling thread (PyTorch's `torch.no_grad()`).
///
/// Results computed inside carry no graph, use less memory, and cannot be differentiated.
/// Other threads keep recording.
@discardableResult
public func withoutGradient<R>(_ body: () throws -> R) rethrows -> R {
    let state = ThreadState.current
    state.gradientDisabledDepth += 1
    defer { state.gradientDisabledDepth -= 1 }
    return try body()
}
