// Elementwise +, −, ×, ÷ with NumPy broadcasting, and their pullbacks.
// A broadcast input's gradient is the output gradient summed back to the input's shape.

extension Tensor {
    private static func checkedBroadcast(_ a: Tensor, _ b: Tensor, _ op: String) -> [Int] {
        guard let shape = broadcastShape(a.shape, b.shape) else {
            preconditionFailure(
                "\(op): shapes \(describeShape(a.shape)) and \(describeShape(b.shape)) cannot be broadcast together")
        }
        return shape
    }

    /// Elementwise sum with broadcasting.
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        let shape = checkedBroadcast(a, b, "+")
        let output = broadcastElements(a, b, to: shape) { $0 + $1 }
        let (shapeA, shapeB) = (a.shape, b.shape)
        return recording(output, inputs: [a, b]) { gradient, needed in
            [
                needed[0] ? gradient.summed(toShape: shapeA) : nil,
                needed[1] ? gradient.summed(toShape: shapeB) : nil,
            ]
        }
    }

    /// Elementwise difference with broadcasting.
    public static func - (a: Tensor, b: Tensor) -> Tensor {
        let shape = checkedBroadcast(a, b, "-")
        let output = broadcastElements(a, b, to: shape) { $0 - $1 }
        let (shapeA, shapeB) = (a.shape, b.shape)
        return recording(output, inputs: [a, b]) { gradient, needed in
            [
                needed[0] ? gradient.summed(toShape: shapeA) : nil,
                needed[1] ? (-gradient).summed(toShape: shapeB) : nil,
            ]
        }
    }

    /// Elementwise product with broadcasting.
    public static func * (a: Tensor, b: Tensor) -> Tensor {
        let shape = checkedBroadcast(a, b, "*")
        let output = broadcastElements(a, b, to: shape) { $0 * $1 }
        // The operands are kept with their nodes: a recorded pass differentiates through them.
        return recording(output, inputs: [a, b]) { gradient, needed in
            [
                needed[0] ? (gradient * b).summed(toShape: a.shape) : nil,
                needed[1] ? (gradient * a).summed(toShape: b.shape) : nil,
            ]
        }
    }

    /// Elementwise quotient with broadcasting.
    public static func / (a: Tensor, b: Tensor) -> Tensor {
        let shape = checkedBroadcast(a, b, "/")
        let output = broadcastElements(a, b, to: shape) { $0 / $1 }
        let shapeA = a.shape  // a itself is not needed: the pullback reads b and the quotient
        return recording(output, inputs: [a, b]) { gradient, needed, quotient in
            // ∂(a/b)/∂a = 1/b,  ∂(a/b)/∂b = −(a/b)/b
            let scaled = gradient / b
            return [
                needed[0] ? scaled.summed(toShape: shapeA) : nil,
                needed[1] ? (-(scaled * quotient)).summed(toShape: b.shape) : nil,
            ]
        }
    }

    /// Negation.
    public static prefix func - (x: Tensor) -> Tensor {
        let output = x.mapElements { -$0 }
        return recording(output, inputs: [x]) { gradient, _ in [-gradient] }
    }

    /// Adds a constant to every element.
    public static func + (x: Tensor, scalar: Float) -> Tensor {
        let output = x.mapElements { $0 + scalar }
        return recording(output, inputs: [x]) { gradient, _ in [gradient] }
    }
    /// Adds a constant to every element.
    public static func + (scalar: Float, x: Tensor) -> Tensor { x + scalar }
    /// Subtracts a constant from every element.
    public static func - (x: Tensor, scalar: Float) -> Tensor { x + (-scalar) }
    /// `scalar − x` elementwise.
    public static func - (scalar: Float, x: Tensor) -> Tensor { -x + scalar }

    /// Multiplies every element by a constant.
    public static func * (x: Tensor, scalar: Float) -> Tensor {
        let output = x.mapElements { $0 * scalar }
        return recording(output, inputs: [x]) { gradient, _ in [gradient * scalar] }
    }
    /// Multiplies every element by a constant.
    public static func * (scalar: Float, x: Tensor) -> Tensor { x * scalar }
    /// Divides every element by a constant.
    public static func / (x: Tensor, scalar: Float) -> Tensor { x * (1 / scalar) }
    /// `scalar / x` elementwise (a reciprocal for `1 / x`).
    public static func / (scalar: Float, x: Tensor) -> Tensor {
        let output = x.mapElements { scalar / $0 }
        return recording(output, inputs: [x]) { gradient, _ in
            // ∂(s/x)/∂x = −s/x²
            [gradient * (-scalar) / x.squared()]
        }
    }

    /// Compound assignment versions; they record like the binary operators.
    public static func += (a: inout Tensor, b: Tensor) { a = a + b }
    /// Compound assignment versions; they record like the binary operators.
    public static func -= (a: inout Tensor, b: Tensor) { a = a - b }
    /// Compound assignment versions; they record like the binary operators.
    public static func *= (a: inout Tensor, b: Tensor) { a = a * b }

    /// The gradient of a broadcast input: this (output-shaped) gradient summed over the axes
    /// that broadcasting expanded, reshaped to `target`. Recorded, like the ops it uses.
    func summed(toShape target: [Int]) -> Tensor {
        if shape == target { return self }
        let offset = rank - target.count
        var axes = Array(0..<offset)
        for (i, size) in target.enumerated() where size == 1 && shape[offset + i] != 1 { axes.append(offset + i) }
        return sum(alongAxes: axes).reshaped(to: target)
    }
}
