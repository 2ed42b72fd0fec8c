import DeepLearning
import XCTest

/// Two convolutions, batch norm and LeakyReLU learn a toy image task end to end.
final class TinyModelTrainingTests: XCTestCase {
    private final class TinyNet: Layer {
        let conv1 = Conv2D(3, 8, kernelSize: 3, padding: .same)
        let norm = BatchNorm(8)
        let conv2 = Conv2D(8, 1, kernelSize: 3, padding: .same)
        func callAsFunction(_ x: Tensor) -> Tensor { conv2(leakyReLU(norm(conv1(x)), slope: 0.2)) }
    }

    func testLossDropsOnAToyProblem() {
        RandomState.seed(1)
        let model = TinyNet()
        let adam = Adam(for: model, learningRate: 0.01)
        var generator = SeededGenerator(seed: 2)
        // Target: the local mean of the input's first channel minus its third (a fixed linear filter).
        let x = Tensor.randomUniform([4, 8, 8, 3], lowerBound: -1, upperBound: 1, generator: &generator)
        let target = (x.slice(axis: 3, 0..<1) - x.slice(axis: 3, 2..<3)) * 0.5
        var losses: [Float] = []
        for _ in 0..<60 {
            let loss = meanSquaredError(model(x), target)
            losses.append(loss.scalar)
            loss.backward()
            adam.update()
        }
        XCTAssertLessThan(losses.last!, 0.2 * losses.first!, "\(losses.first!) → \(losses.last!)")
    }
}
