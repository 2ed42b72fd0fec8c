// swift-format-ignore-file
// (This file mirrors code blocks of the docs line for line, as the test below checks: it keeps their layout.)
// The code of Docs/Extending.md, compiled and run. `testTheTutorialShowsThisCode` fails if a
// ```swift block of the tutorial is not found verbatim in this file, so the two cannot drift.
import DeepLearning
import Foundation
import Pix2Pix
import XCTest

// MARK: 1. A new op

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

final class ExtendingTutorialTests: XCTestCase {
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
}
