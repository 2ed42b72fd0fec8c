import DeepLearning

/// A small convolutional classifier for 8×8 digits:
/// (conv3×3 → BN → ReLU) ×2 → max-pool 2 → conv3×3 → BN → ReLU → max-pool 2 → flatten →
/// Linear(256, 64) → ReLU → dropout 0.2 → Linear(64, 10); 45,418 trainable parameters.
public final class DigitsNet: Layer {
    let conv1 = Conv2D(1, 32, kernelSize: 3, padding: .same), norm1 = BatchNorm(32)
    let conv2 = Conv2D(32, 32, kernelSize: 3, padding: .same), norm2 = BatchNorm(32)
    let pool1 = MaxPool2D(kernelSize: 2)
    let conv3 = Conv2D(32, 64, kernelSize: 3, padding: .same), norm3 = BatchNorm(64)
    let pool2 = MaxPool2D(kernelSize: 2)
    let flatten = Flatten()
    let hidden = Linear(256, 64)
    let dropout = Dropout(rate: 0.2)
    let classifier = Linear(64, 10)

    /// Creates the network; weights are drawn from `RandomState` (seed it first).
    public init() {}

    /// `[N, 8, 8, 1]` pixels in 0…1 → `[N, 10]` class logits.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var y = norm1(conv1(x), activation: .relu)
        y = pool1(norm2(conv2(y), activation: .relu))
        y = pool2(norm3(conv3(y), activation: .relu))
        return classifier(dropout(relu(hidden(flatten(y)))))
    }
}
