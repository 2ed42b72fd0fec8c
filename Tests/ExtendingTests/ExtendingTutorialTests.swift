// swift-format-ignore-file
// (This file mirrors code blocks of the docs line for line, as the test below checks: it keeps their layout.)
// The code of Docs/Extending.md, compiled and run. `testTheTutorialShowsThisCode` fails if a
// ```swift block of the tutorial is not found verbatim in this file, so the two cannot drift.
import DeepLearning
import Foundation
import Pix2Pix
import XCTest

// MARK: 1. A new op

/// Swish (Ramachandran et al. 2017): x · σ(x), elementwise; the derivative reads the input.
struct Swish: ElementwiseFunction {
    func callAsFunction(_ x: Float) -> Float { x / (1 + exp(-x)) }
    var derivativeReadsOutput: Bool { false }
    func derivative(_ gradient: Float, at x: Float) -> Float {
        // d/dx [x·σ(x)] = σ(x) + x·σ(x)·(1 − σ(x))
        let s = 1 / (1 + exp(-x))
        return gradient * (s + x * s * (1 - s))
    }
    /// The same derivative with differentiable ops, for gradients of gradients.
    func derivative(at x: Tensor) -> Tensor? {
        let s = x.sigmoid()
        return s * (1 + x * (1 - s))
    }
}

/// Swish (Ramachandran et al. 2017): x · σ(x), elementwise.
func swish(_ x: Tensor) -> Tensor {
    let input = x.detached()
    let output = Tensor(shape: x.shape, scalars: input.scalars.map { $0 / (1 + exp(-$0)) })
    return Tensor.recording(output, inputs: [x]) { outputGradient, _ in
        // d/dx [x·σ(x)] = σ(x) + x·σ(x)·(1 − σ(x))
        let inputGradient = zip(outputGradient.scalars, input.scalars).map { g, x -> Float in
            let s = 1 / (1 + exp(-x))
            return g * (s + x * s * (1 - s))
        }
        return [Tensor(shape: input.shape, scalars: inputGradient)]
    }
}

/// log(cosh(x)), elementwise: ≈ x²/2 near 0 and |x| − log 2 far from it. f′ = tanh x.
func logCosh(_ x: Tensor) -> Tensor {
    let output = Tensor(shape: x.shape, scalars: x.scalars.map { v in
        abs(v) + log1p(exp(-2 * abs(v))) - log(2)
    })
    return Tensor.recording(output, inputs: [x]) { outputGradient, _ in
        [outputGradient * x.tanh()]  // differentiable: f″ = 1 − tanh² comes for free
    }
}

// MARK: 2. A new layer and a new model

/// conv 3×3 → instance norm → swish.
final class SwishBlock: Layer {
    let conv: Conv2D
    let norm: InstanceNorm

    init(_ inChannels: Int, _ outChannels: Int, stride: Int = 1) {
        conv = Conv2D(inChannels, outChannels, kernelSize: 3, stride: stride, padding: .same)
        norm = InstanceNorm(outChannels)
    }

    func callAsFunction(_ x: Tensor) -> Tensor { swish(norm(conv(x))) }
}

/// A small image-to-image network: down, two residual swish blocks, up, tanh.
final class TinyTranslator: Layer {
    let down = SwishBlock(3, 16, stride: 2)
    let blocks = [SwishBlock(16, 16), SwishBlock(16, 16)]
    let up = Conv2DTranspose(16, 3, kernelSize: 4, stride: 2, padding: .same)

    func callAsFunction(_ x: Tensor) -> Tensor {
        var y = down(x)
        for block in blocks { y = y + block(y) }
        return tanh(up(y))
    }
}

// MARK: 5. A classifier

final class SmallClassifier: Layer {
    let conv1 = Conv2D(1, 16, kernelSize: 3, padding: .same), norm1 = BatchNorm(16)
    let conv2 = Conv2D(16, 32, kernelSize: 3, padding: .same), norm2 = BatchNorm(32)
    let pool = MaxPool2D(kernelSize: 2)
    let flatten = Flatten()
    let head = Linear(2 * 2 * 32, 10)

    func callAsFunction(_ x: Tensor) -> Tensor {             // [N, 8, 8, 1] → [N, 10] logits
        let y = pool(norm1(conv1(x), activation: .relu))
        return head(flatten(pool(norm2(conv2(y), activation: .relu))))
    }
}

// MARK: 6. A modern residual block

/// Sinusoidal embedding of integer timesteps: [N] → [N, dimension] (as in DDPM).
func timestepEmbedding(_ steps: [Int], dimension: Int) -> Tensor {
    let half = dimension / 2
    var values = [Float]()
    for step in steps {
        let angles = (0..<half).map { Float(step) * Foundation.exp(-Foundation.log(10_000) * Float($0) / Float(half)) }
        values += angles.map { Foundation.sin($0) } + angles.map { Foundation.cos($0) }
    }
    return Tensor(shape: [steps.count, dimension], scalars: values)
}

final class DiffusionBlock: Module {
    let norm1 = GroupNorm(groups: 8, channels: 32)
    let conv1 = Conv2D(32, 32, kernelSize: 3, padding: .same)
    let time = Linear(64, 32)
    let norm2 = GroupNorm(groups: 8, channels: 32)
    let conv2 = Conv2D(32, 32, kernelSize: 3, padding: .same)
    let attentionNorm = GroupNorm(groups: 8, channels: 32)
    let attention = MultiHeadAttention(embedding: 32, heads: 4)

    /// x: [N, H, W, 32]; t: [N, 64] timestep embeddings.
    func callAsFunction(_ x: Tensor, _ t: Tensor) -> Tensor {
        let (n, h, w) = (x.shape[0], x.shape[1], x.shape[2])
        var y = conv1(silu(norm1(x)))
        y = y + time(silu(t)).reshaped(to: [n, 1, 1, 32])           // broadcast over the pixels
        y = x + conv2(silu(norm2(y)))                                  // residual
        let tokens = attentionNorm(y).reshaped(to: [n, h * w, 32])    // pixels as a sequence
        return y + attention(tokens).reshaped(to: [n, h, w, 32])      // self-attention, residual
    }
}

final class ExtendingTutorialTests: XCTestCase {
    func testTheElementwiseSwishEqualsTheWrittenOutOneAndSiLU() {
        let values: [Float] = (0..<40).map { Float($0) / 4 - 5 }  // 40 elements: two vectors and a tail
        let a = Parameter(Tensor(values)), b = Parameter(Tensor(values))
        let viaFunction = a.value.applying(Swish()), writtenOut = swish(b.value)
        XCTAssertLessThan(viaFunction.maxAbsoluteDifference(to: writtenOut), 1e-6)
        XCTAssertLessThan(viaFunction.maxAbsoluteDifference(to: silu(Tensor(values))), 1e-5)
        viaFunction.sum().backward()
        writtenOut.sum().backward()
        XCTAssertLessThan(a.gradient!.maxAbsoluteDifference(to: b.gradient!), 1e-6)
    }

    func testSwishGradientMatchesFiniteDifferences() {
        let x = Parameter(Tensor([-2, -0.5, 0.1, 1.5]))
        swish(x.value).sum().backward()
        let analytic = x.gradient!.scalars
        for i in 0..<4 {
            var plus = x.value.scalars, minus = plus
            plus[i] += 1e-3
            minus[i] -= 1e-3
            let numeric = (swish(Tensor(plus)).sum().scalar - swish(Tensor(minus)).sum().scalar) / 2e-3
            XCTAssertEqual(analytic[i], numeric, accuracy: 1e-3)
        }
    }

    func testTheCustomOpsAreDifferentiableTwice() throws {
        let x = Tensor([-1.5, 0.2, 2]), v = Tensor([1, 1, 1])
        let hv = try hessianVectorProduct(at: x, along: v) { logCosh($0).sum() }
        for i in 0..<3 {
            let t = tanh(x.scalars[i])
            XCTAssertEqual(hv.scalars[i], 1 - t * t, accuracy: 1e-5)
        }
        XCTAssertEqual(logCosh(Tensor([0.3])).scalar, log(cosh(0.3)), accuracy: 1e-6)
        // Swish's recorded derivative: its Hessian-vector product equals the library's SiLU's.
        let y = Tensor([-2, -0.5, 0.1, 1.5]), w = Tensor([1, -1, 2, 0.5])
        let swishHV = try hessianVectorProduct(at: y, along: w) { $0.applying(Swish()).sum() }
        let siluHV = try hessianVectorProduct(at: y, along: w) { $0.silu().sum() }
        XCTAssertLessThan(swishHV.maxAbsoluteDifference(to: siluHV), 1e-5)
    }

    func testTheModelTrainsWithThePix2PixTrainer() throws {
        RandomState.seed(7)
        let model = TinyTranslator()
        print(model.namedParameters.map(\.name))
        // ["down.conv.kernel", "down.conv.bias", "down.norm.gamma", "down.norm.beta",
        //  "blocks.0.conv.kernel", …, "up.kernel", "up.bias"]
        let trainer = Pix2PixTrainer(generator: model,
                                     discriminator: PatchDiscriminator(.init(architecture: .patch(layers: 2), baseFilters: 8)),
                                     options: .init(learningRate: 1e-3))
        var random = SeededGenerator(seed: 1)
        let source = Tensor.randomUniform([1, 16, 16, 3], lowerBound: -1, upperBound: 1, generator: &random)
        let target = source * -0.5      // a fixed colour map to learn
        var first: Float = 0, last: Float = 0
        for step in 0..<40 {
            let losses = try trainer.step(source: source, target: target)
            if step == 0 { first = losses.generatorL1 }
            last = losses.generatorL1
        }
        XCTAssertLessThan(last, first)

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("tiny-translator.safetensors")
        try model.save(to: file)
        let restored = TinyTranslator()
        try restored.load(from: file)
        XCTAssertEqual(restored.translate(source, mode: .deterministic).scalars,
                       model.translate(source, mode: .deterministic).scalars)
        XCTAssertEqual(model.namedParameters.first?.name, "down.conv.kernel")
    }

    func testTheTutorialShowsThisCode() throws {
        let here = URL(fileURLWithPath: #filePath)
        let source = try String(contentsOf: here, encoding: .utf8)
        let tutorial = try String(contentsOf: here.deletingLastPathComponent().appendingPathComponent("../../Docs/Extending.md"),
                                  encoding: .utf8)
        let blocks = tutorial.components(separatedBy: "```swift\n").dropFirst().map { $0.components(separatedBy: "```")[0] }
        XCTAssertGreaterThanOrEqual(blocks.count, 4)
        for block in blocks {
            let normalized = block.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            let sourceLines = source.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            // Every line of every tutorial block appears in this file, in order.
            var position = 0
            for line in normalized {
                guard let found = sourceLines[position...].firstIndex(of: line) else {
                    XCTFail("Docs/Extending.md line not in the compiled tutorial: \(line)")
                    break
                }
                position = found + 1
            }
        }
    }

    func testTheClassifierTrainsAndItsLabelsAreChecked() throws {
        var random = SeededGenerator(seed: 2)
        let classifier = SmallClassifier()
        let optimizer = Adam(for: classifier, learningRate: 1e-3)
        let images = Tensor.randomUniform([16, 8, 8, 1], lowerBound: 0, upperBound: 1, generator: &random)
        let labels = (0..<16).map { $0 % 10 }
        var losses: [Float] = []
        for _ in 0..<20 {
            let loss = try crossEntropy(classifier(images), labels: labels, labelSmoothing: 0.1)
            losses.append(loss.scalar)
            loss.backward()
            clipGradientNorm(classifier.parameters, maxNorm: 5)
            optimizer.update()
        }
        classifier.setTraining(false)                             // batch norm on its running statistics
        let trainingAccuracy = accuracy(classifier(images), labels: labels)
        XCTAssertLessThan(losses.last!, 0.7 * losses.first!, "\(losses)")
        XCTAssertGreaterThanOrEqual(trainingAccuracy, 0)
        XCTAssertThrowsError(try crossEntropy(classifier(images), labels: labels.map { $0 + 1 }))
    }

    func testTheDiffusionBlockTrains() {
        var random = SeededGenerator(seed: 3)
        let block = DiffusionBlock()
        let blockOptimizer = Adam(for: block, learningRate: 1e-3)
        let noisy = Tensor.randomNormal([2, 8, 8, 32], generator: &random)
        let embedding = timestepEmbedding([10, 500], dimension: 64)
        var losses: [Float] = []
        for _ in 0..<5 {
            let loss = meanSquaredError(block(noisy, embedding), noisy * 0.5)
            losses.append(loss.scalar)
            loss.backward()
            blockOptimizer.update()
        }
        XCTAssertLessThan(losses.last!, losses.first!, "\(losses)")
        XCTAssertEqual(block.namedParameters.count, 20)
    }
}
