import DeepLearning

// ONNX export of the library's layers (see ONNXExportable for the layouts). Each conformance
// writes the same computation as the layer's `callAsFunction` in ONNX operators of opset 17.

private typealias G = ONNXGraphBuilder

/// The library's HWIO / HWOI kernels as ONNX's OIHW / IOHW: the same permutation for both.
private func onnxKernel(_ kernel: Tensor) -> Tensor { kernel.permuted([3, 2, 0, 1]) }

extension Conv2D: ONNXExportable {
    public func exportONNX(_ input: String, into graph: ONNXGraphBuilder) throws -> String {
        let shape = kernel.value.shape  // [kh, kw, in/groups, out]
        var attributes = [
            G.attribute("kernel_shape", ints: [shape[0], shape[1]]),
            G.attribute("strides", ints: [strides.height, strides.width]),
            G.attribute("dilations", ints: [dilation.height, dilation.width]),
            G.attribute("group", int: groups),
        ]
        switch padding {
        // Keras's 'same' is TensorFlow's: the odd pixel of padding goes at the end.
        case .same: attributes.append(G.attribute("auto_pad", string: "SAME_UPPER"))
        case .valid: attributes.append(G.attribute("pads", ints: [0, 0, 0, 0]))
        case .explicit(let h, let w): attributes.append(G.attribute("pads", ints: [h, w, h, w]))
        }
        var inputs = [input, graph.constant(onnxKernel(kernel.value), name: "conv_weight")]
        if let bias { inputs.append(graph.constant(bias.value, name: "conv_bias")) }
        return graph.node("Conv", inputs, attributes: attributes, name: "conv")
    }
}

extension Conv2DTranspose: ONNXExportable {
    public func exportONNX(_ input: String, into graph: ONNXGraphBuilder) throws -> String {
        let shape = kernel.value.shape  // [kh, kw, out, in]
        // Per axis: (pad at the start, at the end, output padding) giving the library's output
        // size (transposedOutputSize) for every input size.
        func axis(_ k: Int, _ s: Int, _ d: Int, _ outputPadding: Int, _ explicit: Int) -> (Int, Int, Int) {
            let extent = d * (k - 1) + 1
            switch padding {
            case .same:
                // The adjoint of a 'same' convolution of the H·s output: it crops that
                // convolution's padding t, ⌊t/2⌋ at the start and the rest at the end (and
                // ONNX's output padding makes up the size when the kernel is below the stride).
                let total = Swift.max(extent - s, 0)
                return (total / 2, total - total / 2, Swift.max(s - extent, 0))
            case .valid:
                return (0, 0, outputPadding == 0 ? Swift.max(s - extent, 0) : outputPadding)
            case .explicit:
                return (explicit, explicit, outputPadding)
            }
        }
        var explicit = (0, 0)
        if case .explicit(let h, let w) = padding { explicit = (h, w) }
        let h = axis(shape[0], strides.height, dilation.height, outputPadding.height, explicit.0)
        let w = axis(shape[1], strides.width, dilation.width, outputPadding.width, explicit.1)
        let attributes = [
            G.attribute("kernel_shape", ints: [shape[0], shape[1]]),
            G.attribute("strides", ints: [strides.height, strides.width]),
            G.attribute("dilations", ints: [dilation.height, dilation.width]),
            G.attribute("pads", ints: [h.0, w.0, h.1, w.1]),
            G.attribute("output_padding", ints: [h.2, w.2]),
        ]
        var inputs = [input, graph.constant(onnxKernel(kernel.value), name: "deconv_weight")]
        if let bias { inputs.append(graph.constant(bias.value, name: "deconv_bias")) }
        return graph.node("ConvTranspose", inputs, attributes: attributes, name: "deconv")
    }
}

extension ONNXGraphBuilder {
    /// Normalises an NCHW value with the statistics of the batch being run, per channel over
    /// N, H and W (as batch norm in training mode, without updating anything), then scales
    /// and shifts: written out, because ONNX's BatchNormalization with `training_mode` is not
    /// available for inference in every runtime.
    func batchStatisticsNormalized(
        _ input: String, gamma: Tensor, beta: Tensor, epsilon: Float, axes: [Int]
    ) -> String {
        let c = gamma.count
        let normalized = standardized(input, axes: axes, epsilon: epsilon, name: "bn")
        let scaled = node(
            "Mul", [normalized, constant(gamma.reshaped(to: [1, c, 1, 1]), name: "bn_gamma")], name: "bn_scaled")
        return node("Add", [scaled, constant(beta.reshaped(to: [1, c, 1, 1]), name: "bn_beta")], name: "bn")
    }

    /// (x − mean) / √(variance + ε) with the mean and biased variance over `axes` (kept), as
    /// ReduceMean → Sub → Mul → ReduceMean → Add → Sqrt → Div: the normalisation of batch norm
    /// on batch statistics, non-affine instance norm and group norm.
    func standardized(_ input: String, axes: [Int], epsilon: Float, name: String) -> String {
        let over = [G.attribute("axes", ints: axes)]
        let mean = node("ReduceMean", [input], attributes: over, name: "\(name)_mean")
        let centred = node("Sub", [input, mean], name: "\(name)_centred")
        let variance = node(
            "ReduceMean", [node("Mul", [centred, centred], name: "\(name)_squares")], attributes: over,
            name: "\(name)_variance")
        let shifted = node(
            "Add", [variance, constant(Tensor(shape: [1], scalars: [epsilon]), name: "\(name)_epsilon")],
            name: "\(name)_var_eps")
        return node("Div", [centred, node("Sqrt", [shifted], name: "\(name)_deviation")], name: "\(name)_normalized")
    }

    /// The activation as ONNX nodes.
    func activation(_ activation: Activation, _ input: String) -> String {
        switch activation {
        case .identity: return input
        case .relu: return node("Relu", [input])
        case .tanh: return node("Tanh", [input])
        case .leakyReLU(let slope):
            return node("LeakyRelu", [input], attributes: [G.attribute("alpha", float: slope)], name: "leakyrelu")
        }
    }
}

extension BatchNorm: ONNXExportable {
    public func exportONNX(_ input: String, into graph: ONNXGraphBuilder) throws -> String {
        if graph.mode == .deterministic {
            return graph.node(
                "BatchNormalization",
                [
                    input, graph.constant(gamma.value, name: "bn_gamma"), graph.constant(beta.value, name: "bn_beta"),
                    graph.constant(runningMean.value, name: "bn_running_mean"),
                    graph.constant(runningVariance.value, name: "bn_running_var"),
                ], attributes: [G.attribute("epsilon", float: epsilon)], name: "bn")
        }
        return graph.batchStatisticsNormalized(
            input, gamma: gamma.value, beta: beta.value, epsilon: epsilon, axes: [0, 2, 3])
    }
}

extension InstanceNorm: ONNXExportable {
    public func exportONNX(_ input: String, into graph: ONNXGraphBuilder) throws -> String {
        let channels = gamma?.value.count ?? beta?.value.count
        guard let channels else {
            // Non-affine: ONNX's InstanceNormalization needs a scale and offset of the channel
            // count, which the graph does not know; normalise over H and W directly.
            return try nonAffine(input, into: graph)
        }
        return graph.node(
            "InstanceNormalization",
            [
                input, graph.constant(gamma?.value ?? Tensor.ones([channels]), name: "in_scale"),
                graph.constant(beta?.value ?? Tensor.zeros([channels]), name: "in_bias"),
            ], attributes: [G.attribute("epsilon", float: epsilon)], name: "instancenorm")
    }

    private func nonAffine(_ input: String, into graph: ONNXGraphBuilder) throws -> String {
        graph.standardized(input, axes: [2, 3], epsilon: epsilon, name: "instancenorm")
    }
}

extension Dropout: ONNXExportable {
    public func exportONNX(_ input: String, into graph: ONNXGraphBuilder) throws -> String {
        guard graph.mode == .paper(dropout: true) else { return input }
        return graph.node(
            "Dropout",
            [
                input, graph.constant(Tensor(shape: [], scalars: [rate]), name: "dropout_ratio"),
                graph.constant(bool: true, name: "dropout_training_mode"),
            ], name: "dropout")
    }
}

extension ReLU: ONNXExportable {
    public func exportONNX(_ input: String, into graph: ONNXGraphBuilder) throws -> String {
        graph.activation(.relu, input)
    }
}

extension LeakyReLU: ONNXExportable {
    public func exportONNX(_ input: String, into graph: ONNXGraphBuilder) throws -> String {
        graph.activation(.leakyReLU(slope: slope), input)
    }
}

extension Tanh: ONNXExportable {
    public func exportONNX(_ input: String, into graph: ONNXGraphBuilder) throws -> String {
        graph.activation(.tanh, input)
    }
}

extension Sigmoid: ONNXExportable {
    public func exportONNX(_ input: String, into graph: ONNXGraphBuilder) throws -> String {
        graph.node("Sigmoid", [input])
    }
}

extension SiLU: ONNXExportable {
    public func exportONNX(_ input: String, into graph: ONNXGraphBuilder) throws -> String {
        graph.node("Mul", [input, graph.node("Sigmoid", [input])], name: "silu")
    }
}

extension GELU: ONNXExportable {
    /// Written out (ONNX's own Gelu needs opset 20): ½x(1 + erf(x/√2)), or the tanh form.
    public func exportONNX(_ input: String, into graph: ONNXGraphBuilder) throws -> String {
        func scalar(_ value: Float, _ name: String) -> String {
            graph.constant(Tensor(shape: [1], scalars: [value]), name: name)
        }
        let inner: String
        switch approximate {
        case .none:
            inner = graph.node(
                "Erf", [graph.node("Mul", [input, scalar(0.70710677, "gelu_rsqrt2")], name: "gelu_scaled")])
        case .tanh:
            // tanh(√(2/π)·(x + 0.044715·x³))
            let cube = graph.node(
                "Mul", [input, graph.node("Mul", [input, input], name: "gelu_square")], name: "gelu_cube")
            let sum = graph.node(
                "Add", [input, graph.node("Mul", [cube, scalar(0.044715, "gelu_c")], name: "gelu_cubic")],
                name: "gelu_sum")
            inner = graph.node("Tanh", [graph.node("Mul", [sum, scalar(0.7978846, "gelu_k")], name: "gelu_arg")])
        }
        let onePlus = graph.node("Add", [inner, scalar(1, "gelu_one")], name: "gelu_one_plus")
        return graph.node(
            "Mul", [graph.node("Mul", [input, scalar(0.5, "gelu_half")], name: "gelu_half_x"), onePlus], name: "gelu")
    }
}

extension ReflectionPad2D: ONNXExportable {
    public func exportONNX(_ input: String, into graph: ONNXGraphBuilder) throws -> String {
        graph.reflectionPadded(input, padding)
    }
}

extension ONNXGraphBuilder {
    /// Pads height and width of an NCHW value by `p` on every side, by reflection.
    public func reflectionPadded(_ input: String, _ p: Int) -> String {
        node(
            "Pad", [input, constant(int64: [0, 0, Int64(p), Int64(p), 0, 0, Int64(p), Int64(p)], name: "pads")],
            attributes: [G.attribute("mode", string: "reflect")], name: "reflectpad")
    }
}

extension Linear: ONNXExportable {
    /// `[N, in]` → `[N, out]` as Gemm with the `[in, out]` weight as is; on `[N, T, in]` (any rank
    /// but an image's) as MatMul and Add on the last axis; on an image, on its channels (the NCHW
    /// value transposed to NHWC around it).
    public func exportONNX(_ input: String, into graph: ONNXGraphBuilder) throws -> String {
        let weightName = graph.constant(weight.value, name: "linear_weight")
        let biasName = bias.map { graph.constant($0.value, name: "linear_bias") }
        switch graph.rank(of: input) {
        case 2:
            return graph.node("Gemm", [input, weightName] + (biasName.map { [$0] } ?? []), name: "linear", rank: 2)
        case 4:
            let nhwc = graph.node(
                "Transpose", [input], attributes: [G.attribute("perm", ints: [0, 2, 3, 1])], name: "to_nhwc")
            let y = graph.affine(nhwc, weightName, biasName)
            return graph.node("Transpose", [y], attributes: [G.attribute("perm", ints: [0, 3, 1, 2])], name: "to_nchw")
        case .some:
            return graph.affine(input, weightName, biasName)
        case nil:
            throw ONNXExportError("ONNX export: Linear of a value of unknown rank")
        }
    }
}

extension ONNXGraphBuilder {
    /// x·W (+ b) on the last axis.
    fileprivate func affine(_ input: String, _ weight: String, _ bias: String?) -> String {
        let product = node("MatMul", [input, weight], name: "linear_matmul")
        return bias.map { node("Add", [product, $0], name: "linear") } ?? product
    }
}

extension Flatten: ONNXExportable {
    /// The library flattens NHWC images in (H, W, C) order, so the NCHW value is transposed
    /// back to NHWC first; the Linear layer after it then keeps its weights as they are.
    public func exportONNX(_ input: String, into graph: ONNXGraphBuilder) throws -> String {
        let nhwc = graph.node(
            "Transpose", [input], attributes: [G.attribute("perm", ints: [0, 2, 3, 1])], name: "to_nhwc")
        return graph.node("Flatten", [nhwc], attributes: [G.attribute("axis", int: 1)], name: "flatten", rank: 2)
    }
}

extension Sequential: ONNXExportable {
    public func exportONNX(_ input: String, into graph: ONNXGraphBuilder) throws -> String {
        var value = input
        for (index, layer) in layers.enumerated() {
            guard let exportable = layer as? ONNXExportable else {
                throw ONNXExportError(
                    "ONNX export: layer \(index) of Sequential (\(type(of: layer))) has no ONNX export")
            }
            value = try exportable.exportONNX(value, into: graph)
        }
        return value
    }
}

extension ONNXGraphBuilder {
    /// `layer` exported, or an error naming its type when it has no ONNX export.
    public func export(_ layer: Layer, _ input: String) throws -> String {
        guard let exportable = layer as? ONNXExportable else {
            throw ONNXExportError("ONNX export: \(type(of: layer)) has no ONNX export")
        }
        return try exportable.exportONNX(input, into: self)
    }

    /// A normalisation layer followed by `activation`.
    public func normalized(_ norm: Layer?, _ input: String, activation: Activation = .identity) throws -> String {
        let y = try norm.map { try export($0, input) } ?? input
        return self.activation(activation, y)
    }
}

// Pooling, upsampling, pixel shuffle, layer and group norm, softmax.

/// The window attributes both pooling operators take (PyTorch's symmetric padding).
private func poolingAttributes(
    _ kernel: (height: Int, width: Int), _ stride: (height: Int, width: Int), _ padding: (height: Int, width: Int),
    ceilMode: Bool
) -> [Onnx_AttributeProto] {
    [
        G.attribute("kernel_shape", ints: [kernel.height, kernel.width]),
        G.attribute("strides", ints: [stride.height, stride.width]),
        G.attribute("pads", ints: [padding.height, padding.width, padding.height, padding.width]),
        G.attribute("ceil_mode", int: ceilMode ? 1 : 0),
    ]
}

extension MaxPool2D: ONNXExportable {
    public func exportONNX(_ input: String, into graph: ONNXGraphBuilder) throws -> String {
        graph.node(
            "MaxPool", [input], attributes: poolingAttributes(kernelSize, stride, padding, ceilMode: ceilMode),
            name: "maxpool")
    }
}

extension AvgPool2D: ONNXExportable {
    public func exportONNX(_ input: String, into graph: ONNXGraphBuilder) throws -> String {
        graph.node(
            "AveragePool", [input],
            attributes: poolingAttributes(kernelSize, stride, padding, ceilMode: ceilMode)
                + [G.attribute("count_include_pad", int: countIncludePad ? 1 : 0)], name: "avgpool")
    }
}

extension ONNXGraphBuilder {
    /// A global pool of an NCHW value: `[N, C, 1, 1]`, or `[N, C]` unless `keepingDimensions`.
    fileprivate func globalPool(_ op: String, _ input: String, keepingDimensions: Bool) -> String {
        let pooled = node(op, [input], name: op.lowercased())
        return keepingDimensions
            ? pooled : node("Flatten", [pooled], attributes: [G.attribute("axis", int: 1)], name: "flatten", rank: 2)
    }
}

extension GlobalAveragePool2D: ONNXExportable {
    public func exportONNX(_ input: String, into graph: ONNXGraphBuilder) throws -> String {
        graph.globalPool("GlobalAveragePool", input, keepingDimensions: keepingDimensions)
    }
}

extension GlobalMaxPool2D: ONNXExportable {
    public func exportONNX(_ input: String, into graph: ONNXGraphBuilder) throws -> String {
        graph.globalPool("GlobalMaxPool", input, keepingDimensions: keepingDimensions)
    }
}

extension Upsample2D: ONNXExportable {
    /// ONNX `Resize`: nearest as PyTorch's (`asymmetric` coordinates, `floor`), bilinear with
    /// `half_pixel` coordinates (`align_corners=False`); a fixed `size` through the input's
    /// own N and C.
    public func exportONNX(_ input: String, into graph: ONNXGraphBuilder) throws -> String {
        let attributes =
            mode == .nearest
            ? [
                G.attribute("mode", string: "nearest"),
                G.attribute("coordinate_transformation_mode", string: "asymmetric"),
                G.attribute("nearest_mode", string: "floor"),
            ]
            : [
                G.attribute("mode", string: "linear"),
                G.attribute("coordinate_transformation_mode", string: "half_pixel"),
            ]
        if let scale {
            let scales = graph.constant(
                Tensor(shape: [4], scalars: [1, 1, Float(scale.height), Float(scale.width)]), name: "resize_scales")
            return graph.node("Resize", [input, "", scales], attributes: attributes, name: "resize")
        }
        let size = size!
        if mode == .nearest { return graph.nearestResized(input, to: size) }
        let shape = graph.node("Shape", [input], name: "resize_input_shape", rank: 1)
        let batchAndChannels = graph.node(
            "Slice",
            [shape, graph.constant(int64: [0], name: "slice_start"), graph.constant(int64: [2], name: "slice_end")],
            name: "resize_nc", rank: 1)
        let sizes = graph.node(
            "Concat",
            [batchAndChannels, graph.constant(int64: [Int64(size.height), Int64(size.width)], name: "resize_hw")],
            attributes: [G.attribute("axis", int: 0)], name: "resize_sizes", rank: 1)
        return graph.node("Resize", [input, "", "", sizes], attributes: attributes, name: "resize")
    }
}

extension ONNXGraphBuilder {
    /// Nearest resizing of an NCHW value to a fixed `size` with PyTorch's (legacy "nearest")
    /// indices, source = min(⌊destination · (in / out)⌋, in − 1) computed in float32 — as
    /// `Gather`s along H and W: ONNX's `Resize` divides by the scale instead, which rounds
    /// differently at exact multiples when in/out is not an integer.
    fileprivate func nearestResized(_ input: String, to size: (height: Int, width: Int)) -> String {
        let shape = node("Shape", [input], name: "nearest_input_shape", rank: 1)
        var value = input
        for (axis, length) in [(2, size.height), (3, size.width)] {
            let inputLength = node(
                "Gather", [shape, constant(int64: [Int64(axis)], name: "nearest_axis")], name: "nearest_in", rank: 1)
            let ratio = node(
                "Div",
                [
                    node("Cast", [inputLength], attributes: [G.attribute("to", int: 1)], name: "nearest_in_float"),
                    constant(Tensor(shape: [1], scalars: [Float(length)]), name: "nearest_out"),
                ], name: "nearest_ratio")
            let destinations = constant(
                Tensor(shape: [length], scalars: (0..<length).map(Float.init)), name: "nearest_dst")
            let source = node(
                "Floor", [node("Mul", [destinations, ratio], name: "nearest_scaled")], name: "nearest_floor")
            let last = node(
                "Sub", [inputLength, constant(int64: [1], name: "nearest_one")], name: "nearest_last", rank: 1)
            let indices = node(
                "Min", [node("Cast", [source], attributes: [G.attribute("to", int: 7)], name: "nearest_index"), last],
                name: "nearest_indices", rank: 1)
            value = node(
                "Gather", [value, indices], attributes: [G.attribute("axis", int: axis)], name: "nearest_gather")
        }
        return value
    }
}

extension PixelShuffle: ONNXExportable {
    /// ONNX `DepthToSpace` in `CRD` mode, which is PyTorch's (and this library's) channel order.
    public func exportONNX(_ input: String, into graph: ONNXGraphBuilder) throws -> String {
        graph.node(
            "DepthToSpace", [input],
            attributes: [G.attribute("blocksize", int: upscaleFactor), G.attribute("mode", string: "CRD")],
            name: "pixelshuffle")
    }
}

extension LayerNorm: ONNXExportable {
    /// ONNX `LayerNormalization` over the features: the last axis of `[N, F]`, or of an image's
    /// channels (the graph's NCHW value transposed to NHWC around it).
    public func exportONNX(_ input: String, into graph: ONNXGraphBuilder) throws -> String {
        let image = graph.rank(of: input) == 4
        let features = gamma?.value.count ?? beta?.value.count
        guard let features else {
            // Without parameters the feature count is unknown here: the standardisation itself.
            return graph.standardized(input, axes: [image ? 1 : -1], epsilon: epsilon, name: "layernorm")
        }
        let x =
            image
            ? graph.node("Transpose", [input], attributes: [G.attribute("perm", ints: [0, 2, 3, 1])], name: "to_nhwc")
            : input
        let y = graph.node(
            "LayerNormalization",
            [
                x, graph.constant(gamma?.value ?? Tensor.ones([features]), name: "ln_gamma"),
                graph.constant(beta?.value ?? Tensor.zeros([features]), name: "ln_beta"),
            ], attributes: [G.attribute("axis", int: -1), G.attribute("epsilon", float: epsilon)], name: "layernorm")
        return image
            ? graph.node("Transpose", [y], attributes: [G.attribute("perm", ints: [0, 3, 1, 2])], name: "to_nchw") : y
    }
}

extension GroupNorm: ONNXExportable {
    /// Written out on `[N, G, C/G·H·W]` (ONNX's GroupNormalization needs opset 18, and changed
    /// meaning in 21): the statistics per sample and group, then γ and β per channel.
    public func exportONNX(_ input: String, into graph: ONNXGraphBuilder) throws -> String {
        guard graph.rank(of: input) == 4 else { throw ONNXExportError("ONNX export: GroupNorm needs an image input") }
        let shape = graph.node("Shape", [input], name: "gn_input_shape", rank: 1)
        let grouped = graph.node(
            "Reshape", [input, graph.constant(int64: [0, Int64(groups), -1], name: "gn_groups")], name: "gn_grouped",
            rank: 3)
        let normalized = graph.standardized(grouped, axes: [2], epsilon: epsilon, name: "gn")
        var y = graph.node("Reshape", [normalized, shape], name: "gn_ungrouped", rank: 4)
        if let gamma {
            let c = gamma.value.count
            y = graph.node(
                "Mul", [y, graph.constant(gamma.value.reshaped(to: [1, c, 1, 1]), name: "gn_gamma")], name: "gn_scaled")
        }
        if let beta {
            let c = beta.value.count
            y = graph.node(
                "Add", [y, graph.constant(beta.value.reshaped(to: [1, c, 1, 1]), name: "gn_beta")], name: "groupnorm")
        }
        return y
    }
}

extension Softmax: ONNXExportable {
    /// Along the channels of an image (NCHW axis 1) or the last axis of any other value.
    public func exportONNX(_ input: String, into graph: ONNXGraphBuilder) throws -> String {
        guard let rank = graph.rank(of: input) else { throw ONNXExportError("ONNX export: Softmax of an unknown rank") }
        let ours = axis < 0 ? axis + rank : axis
        // The library's NHWC axes (N, H, W, C) as the graph's NCHW ones.
        let onnxAxis = rank == 4 ? [0, 2, 3, 1][ours] : ours
        return graph.node("Softmax", [input], attributes: [G.attribute("axis", int: onnxAxis)], name: "softmax")
    }
}

extension ELU: ONNXExportable {
    public func exportONNX(_ input: String, into graph: ONNXGraphBuilder) throws -> String {
        graph.node("Elu", [input], attributes: [G.attribute("alpha", float: alpha)], name: "elu")
    }
}

extension Softplus: ONNXExportable {
    /// ONNX's Softplus is log(1 + eˣ); β is written around it, and PyTorch's threshold (above
    /// which the result is x) changes nothing in float32 at its default of 20.
    public func exportONNX(_ input: String, into graph: ONNXGraphBuilder) throws -> String {
        guard beta != 1 else { return graph.node("Softplus", [input], name: "softplus") }
        let b = graph.constant(Tensor(shape: [1], scalars: [beta]), name: "softplus_beta")
        let inner = graph.node(
            "Softplus", [graph.node("Mul", [input, b], name: "softplus_scaled")], name: "softplus_raw")
        return graph.node("Div", [inner, b], name: "softplus")
    }
}

extension MultiHeadAttention: ONNXExportable {
    /// Self-attention of a `[N, T, E]` value (no mask): the four projections, the heads split
    /// with Reshape/Transpose, softmax(q·kᵀ/√d)·v with MatMul and Softmax (ONNX's Attention
    /// operator needs opset 23), the heads joined again.
    public func exportONNX(_ input: String, into graph: ONNXGraphBuilder) throws -> String {
        guard graph.rank(of: input) == 3 else {
            throw ONNXExportError("ONNX export: MultiHeadAttention needs a [N, T, E] input")
        }
        let embedding = queryProjection.weight.value.shape[1], depth = embedding / heads
        let headShape = graph.constant(int64: [0, 0, Int64(heads), Int64(depth)], name: "mha_split")
        func split(_ projection: Linear, perm: [Int], _ name: String) throws -> String {
            let projected = try projection.exportONNX(input, into: graph)
            let reshaped = graph.node("Reshape", [projected, headShape], name: "\(name)_heads", rank: 4)
            return graph.node("Transpose", [reshaped], attributes: [G.attribute("perm", ints: perm)], name: name)
        }
        let q = try split(queryProjection, perm: [0, 2, 1, 3], "mha_q")  // [N, h, T, d]
        let k = try split(keyProjection, perm: [0, 2, 3, 1], "mha_kt")  // [N, h, d, T]
        let v = try split(valueProjection, perm: [0, 2, 1, 3], "mha_v")
        let scores = graph.node(
            "Mul",
            [
                graph.node("MatMul", [q, k], name: "mha_qk"),
                graph.constant(Tensor(shape: [1], scalars: [1 / Float(depth).squareRoot()]), name: "mha_scale"),
            ], name: "mha_scores")
        let probabilities = graph.node(
            "Softmax", [scores], attributes: [G.attribute("axis", int: -1)], name: "mha_probabilities")
        let attended = graph.node("MatMul", [probabilities, v], name: "mha_attended")
        let joined = graph.node(
            "Reshape",
            [
                graph.node(
                    "Transpose", [attended], attributes: [G.attribute("perm", ints: [0, 2, 1, 3])], name: "mha_tokens"),
                graph.constant(int64: [0, 0, Int64(embedding)], name: "mha_join"),
            ], name: "mha_joined", rank: 3)
        return try outputProjection.exportONNX(joined, into: graph)
    }
}

extension Dropout2D: ONNXExportable {
    /// Removed in deterministic mode and in the paper's mode without dropout; ONNX has no
    /// channel dropout, so the paper's mode with dropout is refused.
    public func exportONNX(_ input: String, into graph: ONNXGraphBuilder) throws -> String {
        guard graph.mode == .paper(dropout: true) else { return input }
        throw ONNXExportError("ONNX export: Dropout2D with active dropout has no ONNX operator")
    }
}

extension Embedding: ONNXExportable {
    /// A value of whole-number indices (float, as the library passes them) → `[…, dimension]`:
    /// `Cast` to int64 and `Gather` from the table.
    public func exportONNX(_ input: String, into graph: ONNXGraphBuilder) throws -> String {
        let indices = graph.node("Cast", [input], attributes: [G.attribute("to", int: 7)], name: "embedding_indices")
        return graph.node(
            "Gather", [graph.constant(weight.value, name: "embedding_table"), indices],
            attributes: [G.attribute("axis", int: 0)], name: "embedding", rank: (graph.rank(of: input) ?? 1) + 1)
    }
}

extension PixelUnshuffle: ONNXExportable {
    /// Space-to-depth in PyTorch's channel order (ONNX's `SpaceToDepth` uses the other one):
    /// `[N, C, H, W]` → Reshape `[N, C, H/r, r, W/r, r]` → Transpose to `[N, C, r, r, H/r, W/r]`
    /// → Reshape `[N, C·r², H/r, W/r]`, with the shapes computed from the input's.
    public func exportONNX(_ input: String, into graph: ONNXGraphBuilder) throws -> String {
        let r = Int64(downscaleFactor)
        func slice(_ value: String, _ start: Int64, _ end: Int64) -> String {
            graph.node(
                "Slice",
                [
                    value, graph.constant(int64: [start], name: "unshuffle_start"),
                    graph.constant(int64: [end], name: "unshuffle_end"),
                ],
                name: "unshuffle_slice", rank: 1)
        }
        let shape = graph.node("Shape", [input], name: "unshuffle_shape", rank: 1)
        let factor = graph.constant(int64: [r], name: "unshuffle_r")
        let reduced = graph.node("Div", [slice(shape, 2, 4), factor], name: "unshuffle_hw", rank: 1)
        let six = graph.node(
            "Concat", [slice(shape, 0, 2), slice(reduced, 0, 1), factor, slice(reduced, 1, 2), factor],
            attributes: [G.attribute("axis", int: 0)], name: "unshuffle_six", rank: 1)
        let split = graph.node("Reshape", [input, six], name: "unshuffle_split", rank: 6)
        let moved = graph.node(
            "Transpose", [split], attributes: [G.attribute("perm", ints: [0, 1, 3, 5, 2, 4])], name: "unshuffle_moved")
        let channels = graph.node(
            "Mul", [slice(shape, 1, 2), graph.constant(int64: [r * r], name: "unshuffle_rr")], name: "unshuffle_c",
            rank: 1)
        let four = graph.node(
            "Concat", [slice(shape, 0, 1), channels, reduced], attributes: [G.attribute("axis", int: 0)],
            name: "unshuffle_four", rank: 1)
        return graph.node("Reshape", [moved, four], name: "pixelunshuffle", rank: 4)
    }
}
