/// Anything that owns parameters, buffers or sub-modules as stored properties.
///
/// Nothing needs registering: `parameters`, `buffers`, checkpoints and `setTraining(_:)`
/// find them by reflecting over stored properties (including optionals and arrays of
/// modules), like PyTorch's `nn.Module` and mlx-swift's `Module`. A model is a class whose
/// layers are `let` properties:
///
/// ```swift
/// final class TinyNet: Layer {
///     let conv = Conv2D(3, 8, kernelSize: 3)
///     let norm = BatchNorm(8)
///     func callAsFunction(_ x: Tensor) -> Tensor { leakyReLU(norm(conv(x)), slope: 0.2) }
/// }
/// ```
///
/// Names follow the property path: `encoder.1.conv.kernel` is property `kernel` of property
/// `conv` of element 1 of array property `encoder`.
///
/// Store layers in `let` (or `var`) properties, arrays of them, or optionals. State kept
/// anywhere else — a `lazy var`, a dictionary, a tuple, a struct — would be neither trained nor
/// saved, so the first reflection over such a model (creating an optimizer, saving, counting
/// parameters) stops with a message naming the property.
public protocol Module: AnyObject {}

/// A module applied to one tensor.
///
/// A block with several inputs — a diffusion U-Net block takes the image and the timestep
/// embedding, attention takes query, key and value — is a `Module` with a `callAsFunction` of
/// its own signature; reflection, optimizers and checkpoints treat it like any layer:
///
/// ```swift
/// final class TimeConditionedBlock: Module {
///     let conv = Conv2D(64, 64, kernelSize: 3)
///     let time = Linear(128, 64)
///     func callAsFunction(_ x: Tensor, _ t: Tensor) -> Tensor {   // [N, H, W, 64], [N, 128]
///         silu(conv(x) + time(t).reshaped(to: [t.shape[0], 1, 1, 64]))
///     }
/// }
/// ```
public protocol Layer: Module {
    /// Applies the layer. Shapes are documented on each conforming type.
    func callAsFunction(_ input: Tensor) -> Tensor
}

/// A module whose behaviour differs between training and inference (BatchNorm, Dropout).
public protocol TrainingModeDependent: Module {
    /// `true` while training (the default), `false` for inference.
    var isTraining: Bool { get set }
}

/// Non-trainable state saved with a model (BatchNorm's running statistics): PyTorch's buffers.
public final class Buffer {
    /// The current value.
    public var value: Tensor
    /// Creates a buffer holding `value`.
    public init(_ value: Tensor) { self.value = value.detached() }
}

/// One entry found by reflection: a parameter, a buffer or a sub-module, with its dotted path.
enum ModuleMember {
    case parameter(String, Parameter)
    case buffer(String, Buffer)
    case module(String, Module)
}

extension Module {
    /// Walks the stored properties (and those of superclasses) depth-first, in declaration order.
    ///
    /// - Precondition: no parameter, buffer or module is stored where reflection cannot follow
    ///   it (see `unreachableStatePaths()`): such state would silently be neither trained nor saved.
    func visitMembers(prefix: String = "", _ visit: (ModuleMember) -> Void) {
        if prefix.isEmpty {
            let unreachable = unreachableStatePaths()
            precondition(
                unreachable.isEmpty,
                "\(type(of: self)): \(unreachable.joined(separator: "; ")). Reflection finds parameters, buffers and modules only in stored properties, arrays and optionals; state stored elsewhere would be neither trained nor saved"
            )
        }
        for (label, value) in storedProperties() where !label.hasPrefix(lazyStoragePrefix) {
            Self.visit(value, path: prefix + label, visit)
        }
    }

    /// The stored properties of this module and its superclasses, in declaration order.
    private func storedProperties() -> [(String, Any)] {
        var mirror: Mirror? = Mirror(reflecting: self)
        var children: [(String, Any)] = []
        while let current = mirror {
            children.insert(
                contentsOf: current.children.compactMap { child in
                    child.label.map { ($0, child.value) }
                }, at: 0)
            mirror = current.superclassMirror
        }
        return children
    }

    /// The property paths (from this module down) that hold a parameter, buffer or module where
    /// reflection does not look: a `lazy var`, a dictionary or set, a tuple, or a struct, enum
    /// or non-module class, each described. Empty for a well-formed model.
    func unreachableStatePaths(prefix: String = "") -> [String] {
        var problems: [String] = []
        for (label, value) in storedProperties() {
            if label.hasPrefix(lazyStoragePrefix) {
                let name = String(label.dropFirst(lazyStoragePrefix.count))
                if value is any LazyStateStorage || value is any LazyParameterStorage || holdsState(value, depth: 4) {
                    problems.append("'\(prefix + name)' is a lazy var holding a layer or parameter")
                }
                continue
            }
            Self.collectUnreachable(value, path: prefix + label, into: &problems)
        }
        return problems
    }

    private static func collectUnreachable(_ value: Any, path: String, into problems: inout [String]) {
        switch value {
        case is Parameter, is Buffer:
            return
        case let module as Module:
            problems += module.unreachableStatePaths(prefix: path + ".")
        case let array as [Any]:
            for (index, element) in array.enumerated() {
                collectUnreachable(element, path: "\(path).\(index)", into: &problems)
            }
        default:
            let mirror = Mirror(reflecting: value)
            if mirror.displayStyle == .optional {
                if let wrapped = mirror.children.first?.value {
                    collectUnreachable(wrapped, path: path, into: &problems)
                }
            } else if holdsState(value, depth: 4) {
                let kind = mirror.displayStyle.map { "\($0)" } ?? "\(type(of: value))"
                problems.append("'\(path)' holds a layer or parameter inside a \(kind) (\(type(of: value)))")
            }
        }
    }

    private static func visit(_ value: Any, path: String, _ visit: (ModuleMember) -> Void) {
        switch value {
        case let parameter as Parameter:
            visit(.parameter(path, parameter))
        case let buffer as Buffer:
            visit(.buffer(path, buffer))
        case let module as Module:
            visit(.module(path, module))
            module.visitMembers(prefix: path + ".", visit)
        case let array as [Any]:
            for (index, element) in array.enumerated() { Self.visit(element, path: "\(path).\(index)", visit) }
        default:
            // Optionals holding a module/parameter are unwrapped by the casts above; plain
            // values (Ints, configuration structs, closures) are not state.
            break
        }
    }

    /// Every trainable parameter with its property path, in declaration order.
    public var namedParameters: [(name: String, parameter: Parameter)] {
        var result: [(String, Parameter)] = []
        visitMembers { if case let .parameter(name, p) = $0 { result.append((name, p)) } }
        return deduplicated(result)
    }

    /// Every parameter (once, even if shared by two layers), in declaration order.
    public var parameters: [Parameter] { namedParameters.map(\.parameter) }

    /// Every buffer (non-trainable state such as running statistics) with its property path.
    public var namedBuffers: [(name: String, buffer: Buffer)] {
        var result: [(String, Buffer)] = []
        visitMembers { if case let .buffer(name, b) = $0 { result.append((name, b)) } }
        return deduplicated(result)
    }

    /// Every module below this one with its property path, depth-first.
    public var namedModules: [(name: String, module: Module)] {
        var result: [(String, Module)] = []
        var seen = Set<ObjectIdentifier>()
        visitMembers {
            if case let .module(name, m) = $0, seen.insert(ObjectIdentifier(m)).inserted { result.append((name, m)) }
        }
        return result.map { (name: $0.0, module: $0.1) }
    }

    /// This module and every module below it, depth-first.
    public var modules: [Module] {
        var result: [Module] = [self]
        visitMembers { if case let .module(_, m) = $0 { result.append(m) } }
        return result
    }

    /// Total number of trainable scalars.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

    /// Switches every `TrainingModeDependent` module below (and including) this one.
    public func setTraining(_ training: Bool) {
        for case let module as TrainingModeDependent in modules { module.isTraining = training }
    }

    /// Clears the accumulated gradient of every parameter.
    public func zeroGradients() {
        for parameter in parameters { parameter.zeroGradient() }
    }
}

private func deduplicated<T: AnyObject>(_ items: [(String, T)]) -> [(name: String, T)] {
    var seen = Set<ObjectIdentifier>()
    return items.filter { seen.insert(ObjectIdentifier($0.1)).inserted }.map { (name: $0.0, $0.1) }
}

/// Applies layers in order: `Sequential(conv, norm, LeakyReLU(0.2))`.
/// Its members are named by index: `layers.0.kernel`, `layers.1.gamma`, ….
public final class Sequential: Layer {
    /// The layers, applied first to last.
    public let layers: [Layer]

    /// Creates a chain of `layers`.
    public init(_ layers: [Layer]) { self.layers = layers }
    /// Creates a chain of `layers`.
    public convenience init(_ layers: Layer...) { self.init(layers) }

    /// Feeds `input` through every layer in order.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        layers.reduce(input) { x, layer in layer(x) }
    }
}

/// The label prefix Swift gives the storage of a `lazy var`.
private let lazyStoragePrefix = "$__lazy_storage_$_"

/// The storage of a `lazy var` whose type is a module or parameter (recognisable even while
/// it is still `nil`).
private protocol LazyStateStorage {}
extension Optional: LazyStateStorage where Wrapped: Module {}
private protocol LazyParameterStorage {}
extension Optional: LazyParameterStorage where Wrapped == Parameter {}

/// Whether `value` contains a parameter, buffer or module within `depth` levels (collections
/// are sampled: their first few elements stand for the rest).
private func holdsState(_ value: Any, depth: Int) -> Bool {
    if value is Parameter || value is Buffer || value is Module { return true }
    if value is Tensor || value is String || value is Int || value is Float || value is Double || value is Bool {
        return false
    }
    guard depth > 0 else { return false }
    let mirror = Mirror(reflecting: value)
    switch mirror.displayStyle {
    case .collection?, .set?, .dictionary?:
        return mirror.children.prefix(4).contains { holdsState($0.value, depth: depth - 1) }
    case .optional?, .tuple?, .struct?, .enum?, .class?:
        return mirror.children.contains { holdsState($0.value, depth: depth - 1) }
    default:
        return false
    }
}
