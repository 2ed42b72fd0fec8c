import DeepLearning

/// The networks of the toy: a perceptron of three hidden ReLU layers of `width` units, without
/// normalisation and without an output activation — Gulrajani et al.'s generator and critic
/// (`gan_toy.py`, there 512 wide). The generator maps noise `[N, noise]` to points `[N, 2]`, the
/// critic maps points `[N, 2]` to unbounded scores `[N, 1]`.
public final class ToyPerceptron: Layer {
    let input: Linear
    let hidden1: Linear
    let hidden2: Linear
    let output: Linear

    /// Creates the network; weights are Glorot-uniform from `RandomState` (seed it first).
    public init(inputs: Int, width: Int, outputs: Int) {
        input = Linear(inputs, width)
        hidden1 = Linear(width, width)
        hidden2 = Linear(width, width)
        output = Linear(width, outputs)
    }

    /// `[N, inputs]` → `[N, outputs]`.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        output(relu(hidden2(relu(hidden1(relu(input(x)))))))
    }
}
