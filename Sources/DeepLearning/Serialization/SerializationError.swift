/// A file could not be read or written: the message names the file and what is wrong
/// ("generator.safetensors: tensor encoder.0.conv.kernel has shape [4, 4, 3, 64] but the model expects [4, 4, 6, 64]").
public struct SerializationError: Error, CustomStringConvertible, Equatable {
    /// The full message, starting with the file's path when there is one.
    public let message: String
    /// Creates an error with a complete message.
    public init(_ message: String) { self.message = message }
    /// Creates an error about `file`.
    public init(file: String, _ problem: String) { message = "\(file): \(problem)" }
    public var description: String { message }
}
