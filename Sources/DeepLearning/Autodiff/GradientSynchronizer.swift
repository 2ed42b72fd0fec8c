/// What a training loop calls to keep data-parallel copies of a model equal: the `Distributed`
/// module's `DataParallel` (gradients averaged over MPI processes) is one.
///
/// The loop passes `gradientReady` to `Tensor.backward(onGradientReady:)`, then calls
/// `synchronize()` before the optimizer step; afterwards every parameter's gradient is the
/// same on every process.
public protocol GradientSynchronizer: AnyObject {
    /// Called as each parameter's gradient of the current backward pass becomes final.
    func gradientReady(_ parameter: Parameter)
    /// Finishes the pass: every gradient becomes its mean over the processes.
    func synchronize() throws
}
