// Ops and pullbacks work on raw element pointers. A pointer taken from a tensor is valid only
// while its storage is alive, and Swift may release a value right after its last use, so
// every such access goes through one helper that keeps the tensors alive for the block:
//
//     withPointers(input, kernel, bias) { x, w, b in … }     // b is nil when bias is nil

/// A value whose element pointers can be borrowed: a tensor, an optional tensor (the pointer is
/// `nil` when the tensor is) or an array of tensors.
protocol ElementPointers {
    associatedtype Pointers
    /// The pointers; valid only while `self` is alive (see `withPointers`).
    var unsafePointers: Pointers { get }
}

extension Tensor: ElementPointers {
    var unsafePointers: UnsafeMutablePointer<Float> { storage.pointer }
}

extension Optional: ElementPointers where Wrapped == Tensor {
    var unsafePointers: UnsafeMutablePointer<Float>? { self?.storage.pointer }
}

extension Array: ElementPointers where Element == Tensor {
    var unsafePointers: [UnsafeMutablePointer<Float>] { map(\.storage.pointer) }
}

/// Runs `body` with the element pointers of `values`, keeping every one alive until it returns.
///
/// Write only through the pointers of tensors the caller has just created (unshared storage);
/// the others are for reading.
@inline(__always)
func withPointers<each Value: ElementPointers, Result>(
    _ values: repeat each Value, body: (repeat (each Value).Pointers) throws -> Result
) rethrows -> Result {
    try withExtendedLifetime((repeat each values)) { try body(repeat (each values).unsafePointers) }
}

extension Tensor {
    /// Runs `body` with the pointer to this tensor's elements, keeping them alive until it returns.
    @inline(__always)
    func withPointer<Result>(_ body: (UnsafeMutablePointer<Float>) throws -> Result) rethrows -> Result {
        try withPointers(self, body: body)
    }
}
