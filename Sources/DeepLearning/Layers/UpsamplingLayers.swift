// Upsampling layers over NHWC images: nearest/bilinear resizing (PyTorch `nn.Upsample`, Keras
// `UpSampling2D`) and depth-to-space (PyTorch `nn.PixelShuffle`, `nn.PixelUnshuffle`). The ops
// and their exact semantics are in Ops/Resampling/Upsampling.swift and Ops/Resampling/PixelShuffle.swift.

/// How `Upsample2D` interpolates.
public enum UpsamplingMode: String, Sendable, Codable {
    /// Copy the nearest input pixel (PyTorch `mode="nearest"`, see `upsampleNearest2D`).
    case nearest
    /// Blend the four nearest input pixels with half-pixel centres (PyTorch `mode="bilinear",
    /// align_corners=False`; Keras `interpolation="bilinear"`; see `upsampleBilinear2D`).
    case bilinear
}

/// Resizes height and width by integer factors or to a fixed size, as a layer (PyTorch
/// `nn.Upsample(scale_factor:)` / `nn.Upsample(size:)`, Keras `UpSampling2D(size:interpolation:)`).
///
/// `[N, H, W, C]` → `[N, sh·H, sw·W, C]` with `scale`, or `[N, size.height, size.width, C]`.
///
/// ```swift
/// let up = Upsample2D(scale: 2, mode: .bilinear)   // [1, 16, 16, 64] -> [1, 32, 32, 64]
/// ```
public final class Upsample2D: Layer {
    /// The interpolation.
    public let mode: UpsamplingMode
    /// The factors (height, width), or `nil` when the layer resizes to `size`.
    public let scale: (height: Int, width: Int)?
    /// The output (height, width), or `nil` when the layer scales by `scale`.
    public let size: (height: Int, width: Int)?

    /// Scales both axes by `scale` (default 2, Keras's default; mode default `.nearest`).
    public convenience init(scale: Int = 2, mode: UpsamplingMode = .nearest) {
        self.init(scale: (scale, scale), mode: mode)
    }

    /// Scales height and width by `scale` (mode default `.nearest`).
    public init(scale: (Int, Int), mode: UpsamplingMode = .nearest) {
        precondition(scale.0 > 0 && scale.1 > 0, "Upsample2D: scale \(scale) must be positive")
        (self.scale, self.size, self.mode) = (scale, nil, mode)
    }

    /// Resizes every input to `size` (height, width) (mode default `.nearest`).
    public init(size: (Int, Int), mode: UpsamplingMode = .nearest) {
        precondition(size.0 > 0 && size.1 > 0, "Upsample2D: size \(size) must be positive")
        (self.scale, self.size, self.mode) = (nil, size, mode)
    }

    /// Resizes `input` `[N, H, W, C]`.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        switch (mode, scale, size) {
        case (.nearest, let scale?, _): return upsampleNearest2D(input, scale: scale)
        case (.bilinear, let scale?, _): return upsampleBilinear2D(input, scale: scale)
        case (.nearest, nil, let size?): return upsampleNearest2D(input, size: size)
        case (.bilinear, nil, let size?): return upsampleBilinear2D(input, size: size)
        case (_, nil, nil): preconditionFailure("Upsample2D: neither scale nor size")
        }
    }
}

/// Depth-to-space, as a layer (PyTorch `nn.PixelShuffle(r)` with its channel order, see
/// `pixelShuffle`): `[N, H, W, C·r²]` → `[N, H·r, W·r, C]`.
public final class PixelShuffle: Layer {
    /// The factor r by which height and width grow.
    public let upscaleFactor: Int
    /// Creates the layer.
    public init(upscaleFactor: Int) {
        precondition(upscaleFactor >= 1, "PixelShuffle: upscale factor \(upscaleFactor) must be positive")
        self.upscaleFactor = upscaleFactor
    }
    /// Rearranges `input` `[N, H, W, C·r²]` into `[N, H·r, W·r, C]`.
    public func callAsFunction(_ input: Tensor) -> Tensor { pixelShuffle(input, upscaleFactor: upscaleFactor) }
}

/// Space-to-depth, as a layer (PyTorch `nn.PixelUnshuffle(r)`, the inverse of `PixelShuffle`):
/// `[N, H·r, W·r, C]` → `[N, H, W, C·r²]`.
public final class PixelUnshuffle: Layer {
    /// The factor r by which height and width shrink.
    public let downscaleFactor: Int
    /// Creates the layer.
    public init(downscaleFactor: Int) {
        precondition(downscaleFactor >= 1, "PixelUnshuffle: downscale factor \(downscaleFactor) must be positive")
        self.downscaleFactor = downscaleFactor
    }
    /// Rearranges `input` `[N, H·r, W·r, C]` into `[N, H, W, C·r²]`.
    public func callAsFunction(_ input: Tensor) -> Tensor { pixelUnshuffle(input, downscaleFactor: downscaleFactor) }
}
