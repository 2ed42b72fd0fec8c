// A printable overview of a model, as Keras's `model.summary()` and torchinfo print: every
// module with its type and parameter counts, and output shapes for a given input.

extension Module {
    /// A table of every module below this one — property path, type, trainable and
    /// non-trainable (buffer) scalars — and the totals.
    ///
    /// With `input`, the model is also run once on it (without recording gradients, in its
    /// current training mode) and the output shape is shown: for the whole model when it is a
    /// `Layer`, and for every layer of each `Sequential`, which are run one after the other.
    /// (A model's own `callAsFunction` is opaque, so other per-layer shapes are not known.)
    ///
    /// ```swift
    /// print(model.summary(input: Tensor.zeros([1, 8, 8, 1])))
    /// ```
    public func summary(input: Tensor? = nil) -> String {
        var shapes: [ObjectIdentifier: [Int]] = [:]
        if let input, let layer = self as? Layer {
            withoutGradient {
                if let sequential = layer as? Sequential {
                    var x = input
                    for child in sequential.layers {
                        x = child(x)
                        shapes[ObjectIdentifier(child)] = x.shape
                    }
                }
                shapes[ObjectIdentifier(self)] = layer(input).shape
            }
        }
        func counts(_ module: Module) -> (trainable: Int, frozen: Int, buffers: Int) {
            let parameters = module.parameters
            let trainable = parameters.filter(\.requiresGradient).reduce(0) { $0 + $1.shape.reduce(1, *) }
            let frozen = parameters.filter { !$0.requiresGradient }.reduce(0) { $0 + $1.shape.reduce(1, *) }
            return (trainable, frozen, module.namedBuffers.reduce(0) { $0 + $1.buffer.value.count })
        }
        var rows: [[String]] = [["module", "type", "output shape", "trainable", "other"]]
        func shape(of module: Module) -> String {
            shapes[ObjectIdentifier(module)].map { describeShape($0) } ?? ""
        }
        let total = counts(self)
        rows.append([
            "(model)", "\(type(of: self))", shape(of: self), "\(total.trainable)", "\(total.frozen + total.buffers)",
        ])
        for (name, module) in namedModules {
            let own = counts(module)
            let indent = String(repeating: "  ", count: name.split(separator: ".").count - 1)
            rows.append([
                "\(indent)\(name)", "\(type(of: module))", shape(of: module), "\(own.trainable)",
                "\(own.frozen + own.buffers)",
            ])
        }
        var widths = [Int](repeating: 0, count: 5)
        for row in rows {
            for (column, text) in row.enumerated() { widths[column] = Swift.max(widths[column], text.count) }
        }
        func line(_ row: [String]) -> String {
            row.enumerated().map { column, text -> String in
                let padding = String(repeating: " ", count: widths[column] - text.count)
                return column >= 3 ? padding + text : text + padding  // counts right-aligned
            }.joined(separator: "  ")
        }
        var lines = rows.map(line)
        lines.append(
            "total: \(total.trainable) trainable, \(total.frozen) frozen parameters; \(total.buffers) buffer values"
                + " (\((total.trainable + total.frozen + total.buffers) * 4) bytes as float32)")
        return lines.joined(separator: "\n")
    }
}
