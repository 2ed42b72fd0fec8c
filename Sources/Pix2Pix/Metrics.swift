import DeepLearning
import Foundation

/// Image-quality metrics for translated images, computed on 8-bit images as saved files hold
/// them: predictions and targets are first rounded to the nearest integer and clamped to
/// 0…255 (so a target that went through [-1, 1] in float32 and back, 41.999996, is exactly 42
/// again, and a prediction 5 away counts the same for every target value).
///
/// - `pixelAccuracy`: the fraction of pixels with max over channels |real − fake| < 5
///   (`tolerance`) — the definition of GcGAN's `evaluate_maps.py`, used for the maps results
///   of later papers.
/// - `rmse`: root mean squared error over all channels.
/// - `psnr`: 20·log₁₀(255 / RMSE) in dB.
/// - `ssim`: structural similarity with an 11×11 Gaussian window (σ = 1.5), K₁ = 0.01,
///   K₂ = 0.03, per channel, averaged over valid windows, channels and images
///   (`tf.image.ssim`'s definition).
public struct ImageMetrics: Codable, Equatable, Sendable, CustomStringConvertible {
    /// Fraction of pixels correct in every channel, 0…1.
    public var pixelAccuracy: Double
    /// Root mean squared error on 0…255.
    public var rmse: Double
    /// Peak signal-to-noise ratio in dB (infinite for identical images).
    public var psnr: Double
    /// Mean structural similarity, −1…1.
    public var ssim: Double
    /// Number of images measured.
    public var count: Int

    /// Measures `predictions` against `targets`.
    ///
    /// - Parameters:
    ///   - predictions: `[N, H, W, C]` or `[H, W, C]`, 0…255 (rounded and clamped here).
    ///   - targets: same shape, 0…255 (rounded and clamped here).
    ///   - tolerance: a pixel is correct when every channel differs by less than this (5).
    /// - Throws: `ShapeError` when the shapes differ.
    public init(predictions: Tensor, targets: Tensor, tolerance: Float = 5) throws {
        guard predictions.shape == targets.shape else {
            throw ShapeError(
                "metrics: predictions \(describeShape(predictions.shape)) and targets \(describeShape(targets.shape)) differ"
            )
        }
        guard predictions.rank == 3 || predictions.rank == 4 else {
            throw ShapeError("metrics: expected [N, H, W, C] or [H, W, C], got \(describeShape(predictions.shape))")
        }
        let shape = predictions.rank == 3 ? [1] + predictions.shape : predictions.shape
        let (n, h, w, c) = (shape[0], shape[1], shape[2], shape[3])
        let p = predictions.scalars.map(eightBit), t = targets.scalars.map(eightBit)
        var correct = 0
        var squaredError = 0.0
        for pixel in 0..<(n * h * w) {
            var ok = true
            for k in 0..<c {
                let d = p[pixel * c + k] - t[pixel * c + k]
                squaredError += Double(d * d)
                if Swift.abs(d) >= tolerance { ok = false }
            }
            if ok { correct += 1 }
        }
        pixelAccuracy = Double(correct) / Double(Swift.max(n * h * w, 1))
        rmse = (squaredError / Double(Swift.max(p.count, 1))).squareRoot()
        psnr = rmse == 0 ? .infinity : 20 * Foundation.log10(255 / rmse)
        var ssimTotal = 0.0
        for image in 0..<n {
            for k in 0..<c {
                ssimTotal += structuralSimilarity(
                    p, t, offset: image * h * w * c, channel: k, channels: c, height: h, width: w)
            }
        }
        ssim = ssimTotal / Double(Swift.max(n * c, 1))
        count = n
    }

    /// Memberwise initialiser (for aggregating or decoding).
    public init(pixelAccuracy: Double, rmse: Double, psnr: Double, ssim: Double, count: Int) {
        self.pixelAccuracy = pixelAccuracy
        self.rmse = rmse
        self.psnr = psnr
        self.ssim = ssim
        self.count = count
    }

    /// Averages per-batch metrics weighted by image count (RMSE through the mean squared error).
    public static func combined(_ parts: [ImageMetrics]) -> ImageMetrics {
        let total = Double(Swift.max(parts.reduce(0) { $0 + $1.count }, 1))
        func mean(_ f: (ImageMetrics) -> Double) -> Double { parts.reduce(0) { $0 + f($1) * Double($1.count) } / total }
        let rmse = mean { $0.rmse * $0.rmse }.squareRoot()
        return ImageMetrics(
            pixelAccuracy: mean(\.pixelAccuracy), rmse: rmse,
            psnr: rmse == 0 ? .infinity : 20 * Foundation.log10(255 / rmse),
            ssim: mean(\.ssim), count: Int(total))
    }

    public var description: String {
        String(
            format: "pixel accuracy %.2f%%  RMSE %.2f  PSNR %.2f dB  SSIM %.4f  (%d images)",
            pixelAccuracy * 100, rmse, psnr, ssim, count)
    }
}

/// Mean SSIM of one channel of one image with an 11×11 Gaussian window (σ 1.5), over the
/// positions where the window fits ('valid'), like `tf.image.ssim`. Images smaller than the
/// window use a window of their size.
private func structuralSimilarity(
    _ a: [Float], _ b: [Float], offset: Int, channel: Int, channels: Int,
    height: Int, width: Int
) -> Double {
    let size = Swift.min(11, height, width)
    let sigma = 1.5
    var kernel = (0..<size).map { i -> Double in
        let x = Double(i) - Double(size - 1) / 2
        return Foundation.exp(-x * x / (2 * sigma * sigma))
    }
    let norm = kernel.reduce(0, +)
    kernel = kernel.map { $0 / norm }
    let c1 = (0.01 * 255) * (0.01 * 255), c2 = (0.03 * 255) * (0.03 * 255)
    // Separable filtering of x, y, x², y², xy: rows first, then columns ('valid').
    let outH = height - size + 1, outW = width - size + 1
    var rows = [[Double]](repeating: [Double](repeating: 0, count: height * outW), count: 5)
    for y in 0..<height {
        for x in 0..<outW {
            var s = (0.0, 0.0, 0.0, 0.0, 0.0)
            for k in 0..<size {
                let i = offset + (y * width + x + k) * channels + channel
                let u = Double(a[i]), v = Double(b[i]), g = kernel[k]
                s.0 += g * u; s.1 += g * v; s.2 += g * u * u; s.3 += g * v * v; s.4 += g * u * v
            }
            let o = y * outW + x
            rows[0][o] = s.0; rows[1][o] = s.1; rows[2][o] = s.2; rows[3][o] = s.3; rows[4][o] = s.4
        }
    }
    var total = 0.0
    for y in 0..<outH {
        for x in 0..<outW {
            var s = (0.0, 0.0, 0.0, 0.0, 0.0)
            for k in 0..<size {
                let o = (y + k) * outW + x, g = kernel[k]
                s.0 += g * rows[0][o]; s.1 += g * rows[1][o]; s.2 += g * rows[2][o]
                s.3 += g * rows[3][o]; s.4 += g * rows[4][o]
            }
            let (muA, muB) = (s.0, s.1)
            let varA = s.2 - muA * muA, varB = s.3 - muB * muB, cov = s.4 - muA * muB
            total += ((2 * muA * muB + c1) * (2 * cov + c2)) / ((muA * muA + muB * muB + c1) * (varA + varB + c2))
        }
    }
    return total / Double(outH * outW)
}

/// The value an 8-bit image file holds for `x`, as `saveImage` writes it: clamped to 0…255 and
/// rounded to the nearest integer (halves away from zero); NaN becomes 0.
@inline(__always)
private func eightBit(_ x: Float) -> Float {
    !(x > 0) ? 0 : x >= 255 ? 255 : x.rounded()
}
