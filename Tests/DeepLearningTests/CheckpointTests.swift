@testable import DeepLearning
import Foundation
import XCTest

/// A dense layer with a buffer, standing in for Conv2D + BatchNorm running statistics.
private final class TinyDense: Module {
    let kernel: Parameter
    let runningMean: Buffer
    init(_ inputs: Int, _ outputs: Int, seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        kernel = Parameter(Tensor.randomNormal([inputs, outputs], generator: &generator))
        runningMean = Buffer(Tensor.randomUniform([outputs], generator: &generator))
    }
}

private final class TinyBlock: Module {
    let dense: TinyDense
    let extra: TinyDense?
    init(seed: UInt64, withExtra: Bool) {
        dense = TinyDense(2, 3, seed: seed)
        extra = withExtra ? TinyDense(3, 1, seed: seed + 100) : nil
    }
}

/// Parameter, buffer, nested module, array of modules, optional module (set and nil).
private final class TinyNet: Module {
    let scale: Parameter
    let stem: TinyDense
    let blocks: [TinyBlock]
    let head: TinyDense?
    let unused: TinyDense? = nil
    let width = 3  // configuration, not state
    init(seed: UInt64) {
        scale = Parameter(Tensor([Float(seed)]))
        stem = TinyDense(4, 2, seed: seed)
        blocks = [TinyBlock(seed: seed + 1, withExtra: false), TinyBlock(seed: seed + 2, withExtra: true)]
        head = TinyDense(3, 2, seed: seed + 3)
    }
}

final class CheckpointTests: XCTestCase {
    func testStateDictionaryNamesFollowPropertyPaths() {
        let names = TinyNet(seed: 1).stateDictionary().map(\.name)
        XCTAssertEqual(
            names,
            [
                "scale", "stem.kernel", "stem.runningMean",
                "blocks.0.dense.kernel", "blocks.0.dense.runningMean",
                "blocks.1.dense.kernel", "blocks.1.dense.runningMean", "blocks.1.extra.kernel",
                "blocks.1.extra.runningMean",
                "head.kernel", "head.runningMean",
            ])
    }

    func testSaveThenLoadRestoresEveryParameterAndBufferBitExactly() throws {
        let url = try serializationTemporaryDirectory(self).appendingPathComponent("net.safetensors")
        let source = TinyNet(seed: 1)
        try source.save(to: url, metadata: ["epoch": "7"])
        let target = TinyNet(seed: 50)
        XCTAssertNotEqual(target.stem.kernel.value.scalars, source.stem.kernel.value.scalars)
        let metadata = try target.load(from: url)
        XCTAssertEqual(metadata, ["epoch": "7"])
        let expected = source.stateDictionary()
        let actual = target.stateDictionary()
        XCTAssertEqual(actual.map(\.name), expected.map(\.name))
        for (a, e) in zip(actual, expected) { assertSerializedBitExact(a.tensor, e.tensor) }
        // Loaded values are plain values: training on continues to produce gradients.
        let loss = (target.stem.kernel.value * target.scale.value).sum()
        loss.backward()
        XCTAssertNotNil(target.stem.kernel.gradient)
    }

    func testShapeMismatchNamesTheTensorAndBothShapesAndLeavesTheModelUnchanged() throws {
        let net = TinyNet(seed: 1)
        let before = net.stateDictionary()
        var tensors = Dictionary(uniqueKeysWithValues: TinyNet(seed: 9).stateDictionary().map { ($0.name, $0.tensor) })
        tensors["blocks.1.extra.kernel"] = Tensor.zeros([4, 1])
        let url = try serializationTemporaryDirectory(self).appendingPathComponent("bad.safetensors")
        try SafeTensors.write(tensors.sorted { $0.key < $1.key }.map { (name: $0.key, tensor: $0.value) }, to: url)
        assertSerializationError(
            try net.load(from: url),
            mentioning: "blocks.1.extra.kernel has shape [4, 1] in the checkpoint but [3, 1] in the model",
            path: url.path)
        for (a, e) in zip(net.stateDictionary(), before) { assertSerializedBitExact(a.tensor, e.tensor) }
    }

    func testStrictLoadListsMissingAndUnexpectedNames() throws {
        let net = TinyNet(seed: 1)
        var tensors = Dictionary(uniqueKeysWithValues: net.stateDictionary().map { ($0.name, $0.tensor) })
        tensors["head.kernel"] = nil
        tensors["head.runningMean"] = nil
        tensors["tail.kernel"] = Tensor(1)
        assertSerializationError(
            try net.loadStateDictionary(tensors),
            mentioning: "missing: head.kernel, head.runningMean; unexpected: tail.kernel", path: "state dictionary")
        // Non-strict: the rest loads, missing ones keep their values, unknown names are ignored.
        let other = TinyNet(seed: 2)
        let headBefore = other.head!.kernel.value.scalars
        try other.loadStateDictionary(tensors, strict: false)
        XCTAssertEqual(other.head!.kernel.value.scalars, headBefore)
        assertSerializedBitExact(other.stem.kernel.value, net.stem.kernel.value)
        assertSerializedBitExact(other.blocks[1].extra!.runningMean.value, net.blocks[1].extra!.runningMean.value)
    }

    func testLoadingAModelWithADifferentOptionalLayoutFails() throws {
        let url = try serializationTemporaryDirectory(self).appendingPathComponent("net.safetensors")
        try TinyBlock(seed: 1, withExtra: true).save(to: url.path)
        assertSerializationError(
            try TinyBlock(seed: 1, withExtra: false).load(from: url.path),
            mentioning: "unexpected: extra.kernel, extra.runningMean", path: url.path)
    }

    func testSavedCheckpointIsReadableBySafetensorsPackage() throws {
        try exportForPythonCheck { directory in
            try TinyNet(seed: 1).save(to: directory.appendingPathComponent("swift_module.safetensors"))
        }
    }
}
