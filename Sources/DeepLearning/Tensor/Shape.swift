/// Errors about tensor shapes that a user's data can cause (wrong image size, mismatched
/// checkpoint). Programmer errors inside the library use `precondition` with the same wording.
public struct ShapeError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Formats a shape the way NumPy prints it: `[2, 3, 4]`.
@inlinable
public func describeShape(_ shape: [Int]) -> String {
    "[" + shape.map(String.init).joined(separator: ", ") + "]"
}

/// Number of elements of a tensor of this shape (1 for a scalar `[]`).
///
/// - Precondition: the product fits in `Int`, and a tensor of it in the address space
///   (checked with the shape in the message, never a silent wrap-around).
func elementCount(_ shape: [Int]) -> Int {
    guard let bytes = checkedByteCount(shape: shape, itemSize: MemoryLayout<Float>.stride) else {
        preconditionFailure(
            "shape \(describeShape(shape)) has a negative size or more elements than fit in memory (its float32 byte count overflows a 64-bit integer)"
        )
    }
    return bytes / MemoryLayout<Float>.stride
}

/// Row-major (C-order) strides, in elements.
func contiguousStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var running = 1
    for axis in stride(from: shape.count - 1, through: 0, by: -1) {
        strides[axis] = running
        running *= shape[axis]
    }
    return strides
}

/// The NumPy broadcast of two shapes, or `nil` if they are incompatible.
///
/// Shapes are aligned at their last axis; each pair of sizes must be equal or contain a 1.
public func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? {
    let rank = Swift.max(a.count, b.count)
    var result = [Int](repeating: 1, count: rank)
    for i in 0..<rank {
        let sa = i < rank - a.count ? 1 : a[i - (rank - a.count)]
        let sb = i < rank - b.count ? 1 : b[i - (rank - b.count)]
        if sa == sb || sb == 1 {
            result[i] = sa
        } else if sa == 1 {
            result[i] = sb
        } else {
            return nil
        }
    }
    return result
}

/// Strides that read a tensor of `shape` as if it had `target` shape (NumPy broadcasting):
/// broadcast axes get stride 0.
func broadcastStrides(_ shape: [Int], to target: [Int]) -> [Int] {
    let own = contiguousStrides(shape)
    let offset = target.count - shape.count
    return (0..<target.count).map { axis in
        axis < offset || shape[axis - offset] == 1 ? 0 : own[axis - offset]
    }
}

/// Normalises a possibly negative axis (`-1` is the last) and checks it is in range.
func normalizeAxis(_ axis: Int, rank: Int, function: StaticString = #function) -> Int {
    let resolved = axis < 0 ? axis + rank : axis
    precondition(
        resolved >= 0 && resolved < Swift.max(rank, 1),
        "\(function): axis \(axis) is out of range for a rank-\(rank) tensor")
    return resolved
}
