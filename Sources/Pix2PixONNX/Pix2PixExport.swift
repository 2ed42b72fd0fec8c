import DeepLearning
import Foundation
import ONNX
import Pix2Pix

// ONNX export of the pix2pix networks (Docs/Interop.md): each writes the graph its
// `callAsFunction` computes, in NCHW.

extension ConvBlock: ONNXExportable {
    public func exportONNX(_ input: String, into graph: ONNXGraphBuilder) throws -> String {
        try graph.normalized(norm, conv.exportONNX(input, into: graph), activation: .leakyReLU(slope: 0.2))
    }
}

extension UNetUp {
    /// `x` and the skip connection `skip` → `relu(concat(dropout(norm(deconv(x))), skip))`.
    public func exportONNX(_ input: String, skip: String, into graph: ONNXGraphBuilder) throws -> String {
        var y = try graph.normalized(norm, deconv.exportONNX(input, into: graph))
        if let dropout { y = try dropout.exportONNX(y, into: graph) }
        let joined = graph.node(
            "Concat", skipFirst ? [skip, y] : [y, skip], attributes: [ONNXGraphBuilder.attribute("axis", int: 1)],
            name: "concat")
        return graph.node("Relu", [joined])
    }
}

extension UNetGenerator: ONNXExportable {
    public func exportONNX(_ input: String, into graph: ONNXGraphBuilder) throws -> String {
        var skips: [String] = []
        var y = input
        for block in encoder {
            y = try block.exportONNX(y, into: graph)
            skips.append(y)
        }
        y = graph.node("Relu", [try bottleneck.exportONNX(y, into: graph)])
        for (block, skip) in zip(decoder, skips.reversed()) {
            y = try block.exportONNX(y, skip: skip, into: graph)
        }
        return graph.node("Tanh", [try output.exportONNX(y, into: graph)])
    }
}

extension ResidualBlock: ONNXExportable {
    public func exportONNX(_ input: String, into graph: ONNXGraphBuilder) throws -> String {
        var y = try conv1.exportONNX(graph.reflectionPadded(input, 1), into: graph)
        y = try graph.normalized(norm1, y, activation: .relu)
        if let dropout { y = try dropout.exportONNX(y, into: graph) }
        y = try conv2.exportONNX(graph.reflectionPadded(y, 1), into: graph)
        y = try graph.normalized(norm2, y)
        return graph.node("Add", [input, y], name: "residual")
    }
}

extension ResNetGenerator: ONNXExportable {
    public func exportONNX(_ input: String, into graph: ONNXGraphBuilder) throws -> String {
        var y = try graph.normalized(
            stemNorm, stem.exportONNX(graph.reflectionPadded(input, 3), into: graph), activation: .relu)
        for (i, conv) in down.enumerated() {
            y = try graph.normalized(
                downNorms.isEmpty ? nil : downNorms[i], conv.exportONNX(y, into: graph), activation: .relu)
        }
        for block in residuals { y = try block.exportONNX(y, into: graph) }
        for (i, deconv) in up.enumerated() {
            y = try graph.normalized(
                upNorms.isEmpty ? nil : upNorms[i], deconv.exportONNX(y, into: graph), activation: .relu)
        }
        return graph.node("Tanh", [try output.exportONNX(graph.reflectionPadded(y, 3), into: graph)])
    }
}

extension PatchDiscriminator {
    /// The discriminator's logits for the NCHW values `source` and `target`.
    public func exportONNX(source: String, target: String, into graph: ONNXGraphBuilder) throws -> String {
        var y = graph.node(
            "Concat", [source, target], attributes: [ONNXGraphBuilder.attribute("axis", int: 1)], name: "pair")
        for stage in stages { y = try stage.exportONNX(y, into: graph) }
        return try output.exportONNX(y, into: graph)
    }

    /// Exports the discriminator (inputs `source` and `target`, `[N, C, H, W]` each; output
    /// `logits`, `[N, 1, H', W']`) to `url`.
    public func exportONNX(mode: ONNXInferenceMode, to url: URL) throws {
        let half = configuration.inputChannels / 2
        let data = try exportONNXModel(
            inputs: [.image("source", channels: half), .image("target", channels: configuration.inputChannels - half)],
            output: ONNXValue(
                name: "logits",
                dimensions: [.dynamic("batch"), .fixed(1), .dynamic("patches_h"), .dynamic("patches_w")]),
            mode: mode, graphName: "patch_discriminator"
        ) { graph, inputs in try exportONNX(source: inputs[0], target: inputs[1], into: graph) }
        try data.write(to: url, options: .atomic)
    }
}
