import DeepLearning
import Foundation
import SwiftProtobuf

/// How an exported model behaves at inference, chosen by the caller (Docs/Interop.md).
public enum ONNXInferenceMode: Equatable, Sendable {
    /// Evaluation mode: batch norm with its running statistics, no dropout. Deterministic.
    case deterministic
    /// The pix2pix paper's test-time behaviour: batch norm normalises with the statistics of the
    /// batch being run (written out as ReduceMean/Sub/Mul/Sqrt/Div, exact at any batch size), and
    /// dropout stays active (ONNX `Dropout` with `training_mode` true) unless `dropout` is false
    /// — which makes the graph deterministic, for checks against another runtime.
    case paper(dropout: Bool)
}

/// An error of the ONNX export, naming the layer or value that cannot be exported.
public struct ONNXExportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A layer that can write itself into an ONNX graph.
///
/// The graph is NCHW, ONNX's convention: an exported image model takes `[N, C, H, W]` inputs
/// and returns `[N, C', H', W']`, with kernels converted from the library's layouts (HWIO and
/// HWOI) to ONNX's (OIHW, and IOHW for transposed convolutions). Rank-2 values (`[N, features]`)
/// are the same in both layouts.
///
/// To make your own layer exportable, add the ONNX nodes that compute it from `input` with the
/// builder's `node`, `constant` and attribute helpers and return the name of the output value —
/// usually by calling the `exportONNX` of its sub-layers in the order its `callAsFunction`
/// runs them (Docs/Interop.md has an example).
public protocol ONNXExportable {
    /// Adds the nodes computing this layer on the value named `input` (rank 4 NCHW or rank 2)
    /// and returns the name of the output value.
    func exportONNX(_ input: String, into graph: ONNXGraphBuilder) throws -> String
}

/// Collects the nodes and weights of an ONNX graph while layers export themselves.
public final class ONNXGraphBuilder {
    /// The inference behaviour being exported.
    public let mode: ONNXInferenceMode
    /// The ONNX operator set the nodes use.
    public static let opset: Int64 = 17

    private var nodes: [Onnx_NodeProto] = []
    private var initializers: [Onnx_TensorProto] = []
    private var used: [String: Int] = [:]
    private var ranks: [String: Int] = [:]

    /// The rank of the value `name`: a graph input's, or a node output's (by default that of
    /// the node's first input; nodes that change it say so with `rank:`).
    public func rank(of name: String) -> Int? { ranks[name] }

    func setRank(_ rank: Int, of name: String) { ranks[name] = rank }

    init(mode: ONNXInferenceMode) { self.mode = mode }

    /// A fresh value name starting with `hint`.
    public func uniqueName(_ hint: String) -> String {
        let count = used[hint, default: 0]
        used[hint] = count + 1
        return count == 0 ? hint : "\(hint)_\(count)"
    }

    /// Adds `tensor` as a float32 weight of the graph (its shape as given) and returns its name.
    @discardableResult
    public func constant(_ tensor: Tensor, name hint: String) -> String {
        var proto = Onnx_TensorProto()
        proto.name = uniqueName(hint)
        proto.dims = tensor.shape.map(Int64.init)
        proto.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        // raw_data is little-endian, as the floats of every platform this package runs on.
        proto.rawData = tensor.scalars.withUnsafeBytes { Data($0) }
        initializers.append(proto)
        return proto.name
    }

    /// Adds a constant of 64-bit integers (shapes, pads, axes as inputs) and returns its name.
    @discardableResult
    public func constant(int64 values: [Int64], name hint: String) -> String {
        var proto = Onnx_TensorProto()
        proto.name = uniqueName(hint)
        proto.dims = [Int64(values.count)]
        proto.dataType = Int32(Onnx_TensorProto.DataType.int64.rawValue)
        proto.int64Data = values
        initializers.append(proto)
        return proto.name
    }

    /// Adds a boolean scalar constant (e.g. Dropout's `training_mode`) and returns its name.
    @discardableResult
    public func constant(bool value: Bool, name hint: String) -> String {
        var proto = Onnx_TensorProto()
        proto.name = uniqueName(hint)
        proto.dataType = Int32(Onnx_TensorProto.DataType.bool.rawValue)
        proto.int32Data = [value ? 1 : 0]
        initializers.append(proto)
        return proto.name
    }

    /// Adds a node of operator `op` and returns the name of its (first) output.
    @discardableResult
    public func node(
        _ op: String, _ inputs: [String], attributes: [Onnx_AttributeProto] = [], name hint: String? = nil,
        rank: Int? = nil
    ) -> String {
        let output = node(op, inputs, attributes: attributes, output: uniqueName(hint ?? op.lowercased()))
        if let rank = rank ?? inputs.first.flatMap({ ranks[$0] }) { ranks[output] = rank }
        return output
    }

    /// Adds a node whose output has exactly the name `output` (reserved by the caller).
    @discardableResult
    func node(_ op: String, _ inputs: [String], attributes: [Onnx_AttributeProto] = [], output: String) -> String {
        var proto = Onnx_NodeProto()
        proto.opType = op
        proto.name = output
        proto.input = inputs
        proto.output = [output]
        proto.attribute = attributes
        nodes.append(proto)
        return output
    }

    /// An integer-list attribute.
    public static func attribute(_ name: String, ints: [Int]) -> Onnx_AttributeProto {
        var proto = Onnx_AttributeProto()
        proto.name = name
        proto.type = .ints
        proto.ints = ints.map(Int64.init)
        return proto
    }

    /// An integer attribute.
    public static func attribute(_ name: String, int: Int) -> Onnx_AttributeProto {
        var proto = Onnx_AttributeProto()
        proto.name = name
        proto.type = .int
        proto.i = Int64(int)
        return proto
    }

    /// A float attribute.
    public static func attribute(_ name: String, float: Float) -> Onnx_AttributeProto {
        var proto = Onnx_AttributeProto()
        proto.name = name
        proto.type = .float
        proto.f = float
        return proto
    }

    /// A string attribute.
    public static func attribute(_ name: String, string: String) -> Onnx_AttributeProto {
        var proto = Onnx_AttributeProto()
        proto.name = name
        proto.type = .string
        proto.s = Data(string.utf8)
        return proto
    }

    fileprivate func graph(
        name: String, inputs: [Onnx_ValueInfoProto], outputs: [Onnx_ValueInfoProto]
    ) -> Onnx_GraphProto {
        var graph = Onnx_GraphProto()
        graph.name = name
        graph.node = nodes
        graph.initializer = initializers
        graph.input = inputs
        graph.output = outputs
        return graph
    }
}

/// One input or output of an exported model: a float32 tensor whose axes are fixed sizes or
/// named dynamic dimensions.
public struct ONNXValue: Sendable {
    /// An axis: a fixed size or a named dynamic dimension.
    public enum Dimension: Sendable {
        case fixed(Int)
        case dynamic(String)
    }

    public let name: String
    public let dimensions: [Dimension]

    public init(name: String, dimensions: [Dimension]) {
        self.name = name
        self.dimensions = dimensions
    }

    /// An NCHW image batch with `channels` channels and dynamic batch, height and width.
    public static func image(_ name: String, channels: Int) -> ONNXValue {
        ONNXValue(name: name, dimensions: [.dynamic("batch"), .fixed(channels), .dynamic("height"), .dynamic("width")])
    }

    var valueInfo: Onnx_ValueInfoProto {
        var info = Onnx_ValueInfoProto()
        info.name = name
        var tensorType = Onnx_TypeProto.Tensor()
        tensorType.elemType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        tensorType.shape.dim = dimensions.map { dimension in
            var proto = Onnx_TensorShapeProto.Dimension()
            switch dimension {
            case .fixed(let size): proto.dimValue = Int64(size)
            case .dynamic(let name): proto.dimParam = name
            }
            return proto
        }
        info.type.tensorType = tensorType
        return info
    }
}

/// Builds an ONNX model (opset 17) whose graph `body` writes: it receives the builder and the
/// names of `inputs`, and returns the name of the value to output.
///
/// - Parameters:
///   - inputs: the graph's inputs, e.g. `[.image("input", channels: 3)]`.
///   - output: the output's name and axes (the value `body` returns is renamed to it).
///   - mode: deterministic or the paper's inference behaviour.
///   - body: adds the nodes (usually a layer's `exportONNX`).
/// - Returns: the serialised `ModelProto`.
public func exportONNXModel(
    inputs: [ONNXValue], output: ONNXValue, mode: ONNXInferenceMode, graphName: String = "model",
    _ body: (ONNXGraphBuilder, [String]) throws -> String
) throws -> Data {
    let builder = ONNXGraphBuilder(mode: mode)
    for input in inputs {
        _ = builder.uniqueName(input.name)
        builder.setRank(input.dimensions.count, of: input.name)
    }
    _ = builder.uniqueName(output.name)
    let result = try body(builder, inputs.map(\.name))
    builder.node("Identity", [result], output: output.name)
    var model = Onnx_ModelProto()
    model.irVersion = 8
    model.producerName = "swift-deeplearning"
    model.producerVersion = "1"
    var opset = Onnx_OperatorSetIdProto()
    opset.domain = ""
    opset.version = ONNXGraphBuilder.opset
    model.opsetImport = [opset]
    model.graph = builder.graph(name: graphName, inputs: inputs.map(\.valueInfo), outputs: [output.valueInfo])
    return try model.serializedData()
}

/// Exports a one-input image model (`[N, C, H, W]` in, `[N, C', H', W']` out, dynamic batch,
/// height and width) to `url`, written atomically.
public func exportONNX(
    _ layer: ONNXExportable, inputChannels: Int, outputChannels: Int, mode: ONNXInferenceMode, to url: URL
) throws {
    let data = try exportONNXModel(
        inputs: [.image("input", channels: inputChannels)], output: .image("output", channels: outputChannels),
        mode: mode
    ) { graph, inputs in try layer.exportONNX(inputs[0], into: graph) }
    try data.write(to: url, options: .atomic)
}
