@testable import DeepLearning
import Foundation
import XCTest

/// LayerNorm, GroupNorm, gathering/Embedding, broadcasting matmul, scaled dot-product attention
/// and MultiHeadAttention against PyTorch (Fixtures/general), and their numerical gradients.
final class ModernLayerTests: XCTestCase {
    func testLayerNormAndGroupNormMatchPyTorch() throws {
        let f = try generalFixtures("norms")
        for (name, layer) in [("ln", LayerNorm(6) as Layer), ("gn", GroupNorm(groups: 3, channels: 6))] {
            let (gamma, beta) =
                layer is LayerNorm
                ? ((layer as! LayerNorm).gamma!, (layer as! LayerNorm).beta!)
                : ((layer as! GroupNorm).gamma!, (layer as! GroupNorm).beta!)
            gamma.value = f["ln.gamma"]!
            beta.value = f["ln.beta"]!
            let x = Parameter(f["ln.x"]!)
            let y = layer(x.value)
            (y * f["ln.dy"]!).sum().backward()
            assertMatchesReference(y, f["\(name).y"], tolerance: 1e-5, "\(name) forward")
            assertMatchesReference(x.gradient!, f["\(name).dx"], tolerance: 1e-4, "\(name) input gradient")
            assertMatchesReference(gamma.gradient!, f["\(name).dgamma"], tolerance: 1e-4, "\(name) γ gradient")
            assertMatchesReference(beta.gradient!, f["\(name).dbeta"], tolerance: 1e-4, "\(name) β gradient")
        }
    }

    func testGradientsOfLayerAndGroupNorm() {
        let x = randomTensor([2, 3, 2, 6], seed: 11, lower: -2, upper: 2)
        let g = randomTensor([6], seed: 12), b = randomTensor([6], seed: 13)
        checkGradients(of: { layerNormalized($0[0], gamma: $0[1], beta: $0[2]) }, at: [x, g, b])
        checkGradients(of: { groupNormalized($0[0], groups: 2, gamma: $0[1], beta: $0[2]) }, at: [x, g, b])
        checkGradients(of: { groupNormalized($0[0], groups: 6, gamma: nil, beta: nil) }, at: [x])
    }

    /// Rows wider than the 16-lane vectors (and with a tail) against the same normalisation
    /// composed of primitive ops, values and gradients.
    func testLayerAndGroupNormVectorPathsMatchTheirDefinition() {
        func reference(_ x: Tensor, axes: [Int], _ g: Tensor, _ b: Tensor) -> Tensor {
            let mean = x.mean(alongAxes: axes, keepingDimensions: true)
            let centered = x - mean
            let variance = (centered * centered).mean(alongAxes: axes, keepingDimensions: true)
            return centered / (variance + 1e-5).sqrt() * g + b
        }
        let x = randomTensor([3, 37], seed: 22, lower: -2, upper: 2)
        let g = randomTensor([37], seed: 23), b = randomTensor([37], seed: 24)
        assertClose(layerNormalized(x, gamma: g, beta: b), reference(x, axes: [1], g, b), tolerance: 1e-5)
        checkGradients(of: { layerNormalized($0[0], gamma: $0[1], beta: $0[2]) }, at: [x, g, b])
        let image = randomTensor([2, 2, 3, 40], seed: 25, lower: -2, upper: 2)
        let g40 = randomTensor([40], seed: 26), b40 = randomTensor([40], seed: 27)
        let grouped = image.reshaped(to: [2, 2, 3, 2, 20])
        let expected = reference(grouped, axes: [1, 2, 4], g40.reshaped(to: [2, 20]), b40.reshaped(to: [2, 20]))
        assertClose(
            groupNormalized(image, groups: 2, gamma: g40, beta: b40), expected.reshaped(to: [2, 2, 3, 40]),
            tolerance: 1e-5)
        checkGradients(of: { groupNormalized($0[0], groups: 2, gamma: $0[1], beta: $0[2]) }, at: [image, g40, b40])
    }

    func testGatheringAndBroadcastingMatmulMatchPyTorch() throws {
        let f = try generalFixtures("indexing")
        let table = Parameter(f["table"]!)
        let y = table.value.gathering(f["indices"]!.scalars.map { Int($0) })
        (y * f["dy"]!).sum().backward()
        assertMatchesReference(y, f["y"], tolerance: 1e-6, "index select")
        assertMatchesReference(table.gradient!, f["dtable"], tolerance: 1e-5, "index select gradient (repeats add)")
        let embedding = Embedding(7, 4)
        embedding.weight.value = f["table"]!
        assertMatchesReference(
            embedding(Tensor(shape: [5, 1], scalars: f["indices"]!.scalars)).reshaped(to: [5, 4]), f["y"],
            tolerance: 1e-6, "embedding lookup")

        let a = Parameter(f["mm.a"]!), b = Parameter(f["mm.b"]!)  // [2, 1, 3, 4]·[5, 4, 2] → [2, 5, 3, 2]
        let product = matmul(a.value, b.value)
        (product * f["mm.dy"]!).sum().backward()
        assertMatchesReference(product, f["mm.y"], tolerance: 1e-5, "broadcast matmul")
        assertMatchesReference(a.gradient!, f["mm.da"], tolerance: 1e-4, "broadcast matmul ∂a")
        assertMatchesReference(b.gradient!, f["mm.db"], tolerance: 1e-4, "broadcast matmul ∂b")
    }

    func testGradientsOfGatheringAndBroadcastingMatmul() {
        checkGradients(of: { $0[0].gathering([2, 0, 2], alongAxis: 1) }, at: [randomTensor([2, 3, 2], seed: 14)])
        checkGradients(
            of: { matmul($0[0], $0[1]) },
            at: [randomTensor([3, 1, 2, 4], seed: 15), randomTensor([2, 4, 3], seed: 16)])
        checkGradients(
            of: { matmul($0[0], $0[1]) }, at: [randomTensor([2, 3, 4], seed: 17), randomTensor([4, 2], seed: 18)])
    }

    func testScaledDotProductAttentionMatchesPyTorch() throws {
        let f = try generalFixtures("attention")
        for name in ["mask", "causal"] {
            let q = Parameter(f["q"]!), k = Parameter(f["k"]!), v = Parameter(f["v"]!)
            let y = scaledDotProductAttention(
                query: q.value, key: k.value, value: v.value, mask: name == "mask" ? f["mask"]! : nil,
                causal: name == "causal")
            (y * f["\(name).dy"]!).sum().backward()
            assertMatchesReference(y, f["\(name).y"], tolerance: 1e-5, "attention with \(name)")
            assertMatchesReference(q.gradient!, f["\(name).dq"], tolerance: 1e-4, "attention with \(name) ∂q")
            assertMatchesReference(k.gradient!, f["\(name).dk"], tolerance: 1e-4, "attention with \(name) ∂k")
            assertMatchesReference(v.gradient!, f["\(name).dv"], tolerance: 1e-4, "attention with \(name) ∂v")
        }
    }

    func testMultiHeadAttentionMatchesPyTorchWithItsWeights() throws {
        let f = try generalFixtures("attention")
        let attention = MultiHeadAttention(embedding: 8, heads: 2)
        for (layer, prefix) in [
            (attention.queryProjection, "q"), (attention.keyProjection, "k"), (attention.valueProjection, "v"),
            (attention.outputProjection, "o"),
        ] {
            layer.weight.value = f["mha.w\(prefix)"]!
            layer.bias!.value = f["mha.b\(prefix)"]!
        }
        let x = Parameter(f["mha.x"]!)
        let y = attention(x.value, causal: true)
        (y * f["mha.dy"]!).sum().backward()
        assertMatchesReference(y, f["mha.y"], tolerance: 1e-5, "multi-head attention")
        assertMatchesReference(x.gradient!, f["mha.dx"], tolerance: 1e-4, "multi-head attention ∂x")
        assertMatchesReference(attention.queryProjection.weight.gradient!, f["mha.dwq"], tolerance: 1e-4, "∂W_q")
        assertMatchesReference(attention.outputProjection.weight.gradient!, f["mha.dwo"], tolerance: 1e-4, "∂W_out")
    }

    func testGradientsOfAttention() {
        let q = randomTensor([2, 3, 4], seed: 19), k = randomTensor([2, 5, 4], seed: 20),
            v = randomTensor([2, 5, 3], seed: 21)
        checkGradients(of: { scaledDotProductAttention(query: $0[0], key: $0[1], value: $0[2]) }, at: [q, k, v])
        checkGradients(
            of: { scaledDotProductAttention(query: $0[0], key: $0[1], value: $0[2], causal: true) }, at: [q, k, v])
    }
}

/// Reflection finds state in stored properties, arrays and optionals; anywhere else it must
/// not silently skip it.
final class ReflectionTests: XCTestCase {
    final class Lazy: Module {
        lazy var conv = Conv2D(3, 4, kernelSize: 3, padding: .same)
    }
    final class Keyed: Module {
        let blocks: [String: Linear] = ["a": Linear(2, 2)]
    }
    final class Paired: Module {
        let pair = (Linear(2, 2), 3)
    }
    struct Holder { let layer = Linear(2, 2) }
    final class Wrapped: Module {
        let holder = Holder()
    }
    final class Fine: Module {
        let layers: [Layer] = [Linear(2, 2), GELU()]
        let optional: Linear? = Linear(2, 3)
        let configuration = (width: 3, name: "x")
    }

    func testStateWhereReflectionDoesNotLookIsReported() {
        XCTAssertEqual(Lazy().unreachableStatePaths(), ["'conv' is a lazy var holding a layer or parameter"])
        let lazy = Lazy()
        _ = lazy.conv
        XCTAssertEqual(lazy.unreachableStatePaths().count, 1, "also once the lazy var is filled")
        XCTAssertEqual(
            Keyed().unreachableStatePaths().first?.hasPrefix("'blocks' holds a layer or parameter inside a dictionary"),
            true)
        XCTAssertEqual(
            Paired().unreachableStatePaths().first?.hasPrefix("'pair' holds a layer or parameter inside a tuple"), true)
        XCTAssertEqual(
            Wrapped().unreachableStatePaths().first?.hasPrefix("'holder' holds a layer or parameter inside a struct"),
            true)
        XCTAssertEqual(Fine().unreachableStatePaths(), [])
        XCTAssertEqual(
            Fine().namedParameters.map(\.name),
            ["layers.0.weight", "layers.0.bias", "optional.weight", "optional.bias"])
    }
}

final class SummaryTests: XCTestCase {
    func testSummaryListsModulesShapesAndParameterCounts() {
        let model = Sequential(
            Conv2D(1, 4, kernelSize: 3, padding: .same), BatchNorm(4), Flatten(), Linear(8 * 8 * 4, 10))
        let text = model.summary(input: Tensor.zeros([2, 8, 8, 1]))
        let lines = text.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 1 + 1 + 4 + 1, text)
        XCTAssertTrue(lines[1].contains("Sequential") && lines[1].contains("[2, 10]"), text)
        XCTAssertTrue(lines[2].contains("layers.0") && lines[2].contains("Conv2D") && lines[2].contains("[2, 8, 8, 4]"))
        XCTAssertTrue(
            lines[3].contains("BatchNorm") && lines[3].hasSuffix("8"), "4 + 4 running statistics: \(lines[3])")
        XCTAssertTrue(lines[5].contains("Linear") && lines[5].contains("2570"), lines[5])
        XCTAssertEqual(
            lines.last, "total: 2618 trainable, 0 frozen parameters; 8 buffer values (10504 bytes as float32)")
    }
}

final class AttentionMaskTests: XCTestCase {
    /// A learnable additive mask (a relative-position bias) receives its gradient too, also when
    /// it broadcasts over the batch and heads.
    func testGradientsOfAttentionWithABroadcastMask() {
        let q = randomTensor([2, 2, 3, 4], seed: 41), k = randomTensor([2, 2, 5, 4], seed: 42)
        let v = randomTensor([2, 2, 5, 3], seed: 43), bias = randomTensor([3, 5], seed: 44)
        checkGradients(
            of: { scaledDotProductAttention(query: $0[0], key: $0[1], value: $0[2], mask: $0[3], causal: true) },
            at: [q, k, v, bias])
        // A [Tk, D] key shared by every batch element broadcasts too.
        checkGradients(
            of: { scaledDotProductAttention(query: $0[0], key: $0[1], value: $0[2]) },
            at: [q, randomTensor([5, 4], seed: 45), randomTensor([5, 3], seed: 46)])
    }
}
