// Pooling layers over NHWC images: windowed max and average pooling (PyTorch's `MaxPool2d`,
// `AvgPool2d`) and the global pools (Keras's `GlobalAveragePooling2D`, `GlobalMaxPooling2D`).
// The ops, their exact semantics and gradients are in Ops/Resampling/Pooling.swift.

/// Max pooling over height and width, as a layer (PyTorch `nn.MaxPool2d` without dilation;
/// Keras `MaxPooling2D(padding="valid")` when `padding` is 0).
///
/// `[N, H, W, C]` → `[N, Ho, Wo, C]` with `Ho = ⌊(H + 2·padding − kernel) / stride⌋ + 1`
/// (rounded up with `ceilMode`, see `maxPool2D`), and likewise `Wo`.
///
/// ```swift
/// let pool = MaxPool2D(kernelSize: 3, stride: 2, padding: 1)   // [1, 64, 64, 8] -> [1, 32, 32, 8]
/// ```
public final class MaxPool2D: Layer {
    /// The window's (height, width).
    public let kernelSize: (height: Int, width: Int)
    /// The step (height, width).
    public let stride: (height: Int, width: Int)
    /// Rows and columns of −∞ added on each side (height, width).
    public let padding: (height: Int, width: Int)
    /// Whether the output size is rounded up (PyTorch `ceil_mode`).
    public let ceilMode: Bool

    /// Creates the layer.
    ///
    /// - Parameters:
    ///   - kernelSize: the window's (height, width).
    ///   - stride: the step; default `kernelSize`.
    ///   - padding: added on each side, at most half the kernel size; default (0, 0).
    ///   - ceilMode: round the output size up; default `false`.
    public init(kernelSize: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0), ceilMode: Bool = false)
    {
        (self.kernelSize, self.stride, self.padding, self.ceilMode) = (
            kernelSize, stride ?? kernelSize, padding, ceilMode
        )
        checkPoolingSettings("MaxPool2D", kernelSize: kernelSize, stride: self.stride, padding: padding)
    }

    /// Creates the layer with a square window, stride (default `kernelSize`) and padding (default 0).
    public convenience init(kernelSize: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false) {
        self.init(
            kernelSize: (kernelSize, kernelSize), stride: stride.map { ($0, $0) }, padding: (padding, padding),
            ceilMode: ceilMode)
    }

    /// Pools `input` `[N, H, W, C]` into `[N, Ho, Wo, C]`.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        maxPool2D(input, kernelSize: kernelSize, stride: stride, padding: padding, ceilMode: ceilMode)
    }
}

/// Average pooling over height and width, as a layer (PyTorch `nn.AvgPool2d` without
/// `divisor_override`; Keras `AveragePooling2D(padding="valid")` when `padding` is 0).
///
/// `[N, H, W, C]` → `[N, Ho, Wo, C]`, sizes as for `MaxPool2D`. With `countIncludePad` (the
/// default, as in PyTorch) the zero padding counts in each window's divisor; without it only the
/// real elements do (see `avgPool2D` for the exact rule, also under `ceilMode`).
public final class AvgPool2D: Layer {
    /// The window's (height, width).
    public let kernelSize: (height: Int, width: Int)
    /// The step (height, width).
    public let stride: (height: Int, width: Int)
    /// Rows and columns of zeros added on each side (height, width).
    public let padding: (height: Int, width: Int)
    /// Whether the output size is rounded up (PyTorch `ceil_mode`).
    public let ceilMode: Bool
    /// Whether padding counts in the divisor (PyTorch `count_include_pad`).
    public let countIncludePad: Bool

    /// Creates the layer.
    ///
    /// - Parameters:
    ///   - kernelSize: the window's (height, width).
    ///   - stride: the step; default `kernelSize`.
    ///   - padding: added on each side, at most half the kernel size; default (0, 0).
    ///   - ceilMode: round the output size up; default `false`.
    ///   - countIncludePad: whether padding counts in the divisor; default `true`.
    public init(
        kernelSize: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0), ceilMode: Bool = false,
        countIncludePad: Bool = true
    ) {
        (self.kernelSize, self.stride, self.padding) = (kernelSize, stride ?? kernelSize, padding)
        (self.ceilMode, self.countIncludePad) = (ceilMode, countIncludePad)
        checkPoolingSettings("AvgPool2D", kernelSize: kernelSize, stride: self.stride, padding: padding)
    }

    /// Creates the layer with a square window, stride (default `kernelSize`) and padding (default 0).
    public convenience init(
        kernelSize: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false, countIncludePad: Bool = true
    ) {
        self.init(
            kernelSize: (kernelSize, kernelSize), stride: stride.map { ($0, $0) }, padding: (padding, padding),
            ceilMode: ceilMode, countIncludePad: countIncludePad)
    }

    /// Pools `input` `[N, H, W, C]` into `[N, Ho, Wo, C]`.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        avgPool2D(
            input, kernelSize: kernelSize, stride: stride, padding: padding, ceilMode: ceilMode,
            countIncludePad: countIncludePad)
    }
}

/// The mean over height and width, as a layer (Keras `GlobalAveragePooling2D`, PyTorch
/// `nn.AdaptiveAvgPool2d(1)` followed by a flatten).
///
/// `[N, H, W, C]` → `[N, C]`, or `[N, 1, 1, C]` with `keepingDimensions`.
public final class GlobalAveragePool2D: Layer {
    /// Whether the output keeps the pooled axes as size 1 (Keras `keepdims`).
    public let keepingDimensions: Bool
    /// Creates the layer; `keepingDimensions` defaults to `false` (`[N, C]`).
    public init(keepingDimensions: Bool = false) { self.keepingDimensions = keepingDimensions }
    /// Averages `input` `[N, H, W, C]` over H and W.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        globalAveragePool2D(input, keepingDimensions: keepingDimensions)
    }
}

/// The maximum over height and width, as a layer (Keras `GlobalMaxPooling2D`, PyTorch
/// `nn.AdaptiveMaxPool2d(1)` followed by a flatten); the gradient goes to the first maximum.
///
/// `[N, H, W, C]` → `[N, C]`, or `[N, 1, 1, C]` with `keepingDimensions`.
public final class GlobalMaxPool2D: Layer {
    /// Whether the output keeps the pooled axes as size 1 (Keras `keepdims`).
    public let keepingDimensions: Bool
    /// Creates the layer; `keepingDimensions` defaults to `false` (`[N, C]`).
    public init(keepingDimensions: Bool = false) { self.keepingDimensions = keepingDimensions }
    /// Takes the maximum of `input` `[N, H, W, C]` over H and W.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        globalMaxPool2D(input, keepingDimensions: keepingDimensions)
    }
}
