/// An n-dimensional array of `Float`, the value every op, layer and loss works on.
///
/// `Tensor` is a value type with copy-on-write storage: assigning it is O(1), and the
/// elements are copied only when a shared buffer is written to. Elements are stored
/// contiguously in row-major order; images are `[batch, height, width, channels]` (NHWC).
///
/// A tensor produced by an op on a tensor that requires a gradient (a `Parameter`'s
/// value, or the result of such ops) carries a node of the autodiff graph; call
/// `backward()` on a scalar result to fill the parameters' gradients.
public struct Tensor {
    /// The size of each axis; `[]` for a scalar.
    public private(set) var shape: [Int]
    var storage: TensorStorage
    /// The autodiff node that produced this value, if gradients flow through it.
    var node: GradNode?

    init(shape: [Int], storage: TensorStorage, node: GradNode? = nil) {
        precondition(
            storage.count == elementCount(shape),
            "storage of \(storage.count) elements cannot back shape \(describeShape(shape))")
        self.shape = shape
        self.storage = storage
        self.node = node
    }

    /// A tensor whose elements are not initialised; the caller writes every one.
    init(uninitializedShape shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative size in shape \(describeShape(shape))")
        self.init(shape: shape, storage: TensorStorage(uninitializedCount: elementCount(shape)))
    }

    /// A tensor of the given shape with every element equal to `value`.
    public init(shape: [Int], repeating value: Float) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative size in shape \(describeShape(shape))")
        self.init(shape: shape, storage: TensorStorage(repeating: value, count: elementCount(shape)))
    }

    /// A tensor of the given shape holding `scalars` in row-major order.
    ///
    /// - Precondition: `scalars.count` equals the product of `shape`.
    public init(shape: [Int], scalars: [Float]) {
        precondition(
            scalars.count == elementCount(shape),
            "\(scalars.count) scalars cannot fill shape \(describeShape(shape)) (\(elementCount(shape)) elements)")
        self.init(uninitializedShape: shape)
        scalars.withUnsafeBufferPointer { source in
            storage.pointer.update(from: source.baseAddress!, count: source.count)
        }
    }

    /// A rank-1 tensor holding `scalars`.
    public init(_ scalars: [Float]) {
        self.init(shape: [scalars.count], scalars: scalars)
    }

    /// A rank-0 (scalar) tensor.
    public init(_ scalar: Float) {
        self.init(shape: [], repeating: scalar)
    }

    /// All zeros.
    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(shape: shape, repeating: 0) }
    /// All ones.
    public static func ones(_ shape: [Int]) -> Tensor { Tensor(shape: shape, repeating: 1) }

    /// Samples from N(mean, standardDeviation²), reproducibly from `generator`.
    public static func randomNormal(
        _ shape: [Int], mean: Float = 0, standardDeviation: Float = 1,
        generator: inout SeededGenerator
    ) -> Tensor {
        let result = Tensor(uninitializedShape: shape)
        let p = result.storage.pointer
        for i in 0..<result.count { p[i] = mean + standardDeviation * generator.nextNormal() }
        return result
    }

    /// Samples uniformly from `[lowerBound, upperBound)`, reproducibly from `generator`.
    public static func randomUniform(
        _ shape: [Int], lowerBound: Float = 0, upperBound: Float = 1,
        generator: inout SeededGenerator
    ) -> Tensor {
        let result = Tensor(uninitializedShape: shape)
        let p = result.storage.pointer
        let width = upperBound - lowerBound
        for i in 0..<result.count { p[i] = lowerBound + width * generator.nextUnitFloat() }
        return result
    }

    /// Number of axes.
    public var rank: Int { shape.count }
    /// Number of elements.
    public var count: Int { storage.count }

    /// The elements in row-major order.
    public var scalars: [Float] {
        Array(UnsafeBufferPointer(start: storage.pointer, count: count))
    }

    /// The only element of a one-element tensor (a loss, say).
    public var scalar: Float {
        precondition(count == 1, "scalar of a tensor with shape \(describeShape(shape))")
        return storage.pointer[0]
    }

    /// The element at a full multi-index, e.g. `t[0, 5, 7, 2]`. For inspection, not for loops.
    public subscript(indices: Int...) -> Float {
        precondition(indices.count == rank, "\(indices.count) indices for a rank-\(rank) tensor")
        var offset = 0
        for (axis, index) in indices.enumerated() {
            precondition(
                index >= 0 && index < shape[axis],
                "index \(index) out of range for axis \(axis) of shape \(describeShape(shape))")
            offset = offset * shape[axis] + index
        }
        return storage.pointer[offset]
    }

    /// Calls `body` with a read-only view of the elements.
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.pointer, count: count))
    }

    /// Calls `body` with a writable view of the elements, copying first if the buffer is shared.
    ///
    /// Writing through this bypasses autodiff: the result no longer carries a graph node.
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        storage.knownFinite = false
        node = nil
        return try body(UnsafeMutableBufferPointer(start: storage.pointer, count: count))
    }

    /// Whether gradients flow back through this value.
    public var requiresGradient: Bool { node != nil }

    /// The same values cut off from the autodiff graph (PyTorch's `detach()`).
    public func detached() -> Tensor {
        Tensor(shape: shape, storage: storage)
    }

    /// A copy that shares nothing with `self`.
    func copied() -> Tensor {
        Tensor(shape: shape, storage: storage.copy())
    }

    /// Reinterprets the elements with a new shape of equal count, without autodiff bookkeeping.
    func withShape(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, storage: storage)
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = scalars.prefix(16).map { String(format: "%.4g", Double($0)) }.joined(separator: ", ")
        return "Tensor(shape: \(describeShape(shape)), [\(shown)\(count > 16 ? ", …" : "")])"
    }
}

extension Tensor {
    /// Elementwise closeness, NumPy's `allclose`: `|a - b| <= atol + rtol * |b|` everywhere.
    public func isClose(to other: Tensor, absoluteTolerance: Float = 1e-5, relativeTolerance: Float = 1e-5) -> Bool {
        guard shape == other.shape else { return false }
        let a = storage.pointer, b = other.storage.pointer
        for i in 0..<count {
            let difference: Float = Swift.abs(a[i] - b[i])
            let allowed: Float = absoluteTolerance + relativeTolerance * Swift.abs(b[i])
            guard difference <= allowed else { return false }
        }
        return true
    }

    /// The largest absolute elementwise difference to a tensor of the same shape.
    public func maxAbsoluteDifference(to other: Tensor) -> Float {
        precondition(
            shape == other.shape,
            "maxAbsoluteDifference: shapes \(describeShape(shape)) and \(describeShape(other.shape)) differ")
        let a = storage.pointer, b = other.storage.pointer
        var worst: Float = 0
        for i in 0..<count {
            let d = Swift.abs(a[i] - b[i])
            if d.isNaN { return .nan }
            worst = Swift.max(worst, d)
        }
        return worst
    }

    /// Whether every element is finite (no NaN, no ±infinity).
    public var isFinite: Bool {
        withPointer { allFinite($0, count: count) }
    }
}

import Foundation
