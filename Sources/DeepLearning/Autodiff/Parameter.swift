/// A trainable tensor: a value that layers read and optimizers update, and the gradient
/// that `backward()` accumulates for it.
///
/// Reading `value` while gradients are recorded links the result into the autodiff graph.
/// Gradients accumulate across `backward()` calls until `zeroGradient()` (optimizers do
/// it after each update).
public final class Parameter {
    private var storedValue: Tensor
    /// ∂loss/∂value summed over the `backward()` calls since the last `zeroGradient()`.
    public private(set) var gradient: Tensor? {
        didSet {
            gradientFiniteness = nil
            TensorMemory.gradientsChanged(by: ((gradient?.count ?? 0) - (oldValue?.count ?? 0)) * 4)
        }
    }
    /// Whether `gradient` is finite, when known (checked while it is still in cache).
    private var gradientFiniteness: Bool?
    /// `false` freezes the parameter: its value enters graphs as a constant.
    public var requiresGradient: Bool
    private lazy var leaf = GradNode(parameter: self)

    /// Creates a parameter holding `value`.
    public init(_ value: Tensor, requiresGradient: Bool = true) {
        storedValue = value.detached()
        self.requiresGradient = requiresGradient
    }

    /// The current value; connected to the graph when recording and `requiresGradient`.
    public var value: Tensor {
        get {
            var result = storedValue
            if requiresGradient && GradientMode.isRecording { result.node = leaf }
            return result
        }
        set {
            precondition(
                newValue.shape == storedValue.shape,
                "Parameter: cannot assign shape \(describeShape(newValue.shape)) to a parameter of shape \(describeShape(storedValue.shape))"
            )
            storedValue = newValue.detached()
        }
    }

    /// The shape of the value.
    public var shape: [Int] { storedValue.shape }

    /// Updates the value in place (no allocation when the buffer is not shared).
    public func update(_ body: (UnsafeMutableBufferPointer<Float>) -> Void) {
        storedValue.withUnsafeMutableBufferPointer(body)
    }

    /// Forgets the accumulated gradient.
    public func zeroGradient() { gradient = nil }

    /// Replaces the accumulated gradient (of this parameter's shape), e.g. by its mean over the
    /// processes of a data-parallel job; nil forgets it.
    public func replaceGradient(with newGradient: Tensor?) {
        if let newGradient {
            precondition(
                newGradient.shape == storedValue.shape,
                "replaceGradient: shape \(describeShape(newGradient.shape)) for a parameter of shape \(describeShape(storedValue.shape))"
            )
        }
        gradient = newGradient?.detached()
    }

    /// Whether the accumulated gradient has no NaN or infinity (`true` when there is none).
    ///
    /// O(1) after `backward()`: each gradient is scanned as it is accumulated, while it is
    /// still in cache, which is several times cheaper than a separate pass over all parameters
    /// (or not at all when the op that produced it proved it finite).
    public var gradientIsFinite: Bool {
        guard let gradient else { return true }
        if let gradientFiniteness { return gradientFiniteness }
        let finite = gradient.isFinite
        gradientFiniteness = finite
        return finite
    }

    /// Replaces the accumulated gradient by `transform` of each element (gradient clipping).
    func transformGradient(_ transform: (Float) -> Float) {
        guard var updated = gradient else { return }
        updated.withUnsafeMutableBufferPointer { values in
            for i in values.indices { values[i] = transform(values[i]) }
        }
        gradient = updated
    }

    /// Adds a gradient recorded by `backward(createGraph: true)`, keeping its graph so that the
    /// gradient can be differentiated again (PyTorch's `.grad` after `create_graph=True`).
    func accumulateRecordedGradient(_ incoming: Tensor) {
        precondition(
            incoming.shape == storedValue.shape,
            "gradient of shape \(describeShape(incoming.shape)) for a parameter of shape \(describeShape(storedValue.shape))"
        )
        gradient = gradient.map { $0 + incoming } ?? incoming
    }

    func accumulateGradient(_ incoming: Tensor) {
        precondition(
            incoming.shape == storedValue.shape,
            "gradient of shape \(describeShape(incoming.shape)) for a parameter of shape \(describeShape(storedValue.shape))"
        )
        if gradient == nil {
            gradient = incoming.detached()
            // An op may have proved its result finite (a convolution's kernel gradient from
            // bounds on its inputs): no need to read tens of megabytes again.
            gradientFiniteness = incoming.storage.knownFinite || gradient!.isFinite
        } else {
            gradient!.addInPlace(incoming)
            gradientFiniteness = gradient!.isFinite
        }
    }
}
