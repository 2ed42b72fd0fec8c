// bfloat16 mixed precision for matrix products, in the manner of PyTorch's CPU autocast
// (`torch.autocast("cpu", dtype=torch.bfloat16)`): inside `withMatrixPrecision(.bfloat16)`,
// the matrix products of convolutions, transposed convolutions, linear layers, `matmul` and
// attention round both operands to bfloat16 and accumulate in float32 (AVX512_BF16's
// `vdpbf16ps`, CKernels/bf16gemm.c). Everything else — tensors, parameters (the "master
// weights"), gradients, the optimizer, normalisation, activations, losses — stays float32, and
// results are float32 tensors. Docs/Performance.md has the measurements.

import CKernels
import Foundation

/// The arithmetic matrix products use on the calling thread.
public enum MatrixPrecision: String, Codable, Sendable, CaseIterable {
    /// IEEE single precision throughout (the default).
    case float32
    /// Operands rounded to bfloat16 (8 significant bits, float32's range), products summed in
    /// float32: about 3 significant decimal digits per operand. Needs AVX512_BF16.
    case bfloat16

    /// The precision of the calling thread's matrix products: `.float32` unless inside
    /// `withMatrixPrecision(.bfloat16)` on a CPU that supports it.
    public static var current: MatrixPrecision {
        ThreadState.current.kernelSettings.bfloat16Products ? .bfloat16 : .float32
    }

    /// Whether this CPU runs `precision` (float32 always; bfloat16 with AVX-512F/BW/VL and
    /// AVX512_BF16), or `DEEPLEARNING_BF16=0` in the environment turns bfloat16 off.
    public var isSupported: Bool { self == .float32 || MatrixPrecision.bfloat16Available }

    /// Why `precision` falls back to float32 here, or nil when it is supported: the message a
    /// program should show when the user asked for it.
    public var unsupportedReason: String? {
        guard !isSupported else { return nil }
        if ProcessInfo.processInfo.environment["DEEPLEARNING_BF16"] == "0" {
            return "bfloat16 products are turned off (DEEPLEARNING_BF16=0); using float32"
        }
        return "this CPU lacks AVX512_BF16, so bfloat16 matrix products are unavailable; using float32"
    }

    /// bfloat16's multiply-add rate over float32's on this CPU, timed once (under a millisecond)
    /// on first use: about 2 where `vdpbf16ps` (two multiply-adds per lane) issues as fast as
    /// `vfmadd231ps`, 0.5 on the project's Intel Xeon (model 207, no AMX), where it issues at
    /// a quarter of that; nil without bfloat16 support.
    public static let bfloat16RelativeRate: Double? = bfloat16Available ? dl_bf16_relative_rate() : nil

    /// A warning for a program to show when bfloat16 is asked for on a CPU where its products
    /// run no faster than float32's (a relative rate under 1.3), else nil.
    public static var bfloat16SpeedWarning: String? {
        guard let rate = bfloat16RelativeRate, rate < 1.3 else { return nil }
        return String(
            format:
                "this CPU does bfloat16 multiply-adds at %.2f× its float32 rate (no AMX; vdpbf16ps issues slowly), so bf16 products are slower than fp32 here",
            rate)
    }

    static let bfloat16Available: Bool =
        ProcessInfo.processInfo.environment["DEEPLEARNING_BF16"] != "0" && dl_bf16_supported() != 0
}

/// Runs `body` with the calling thread's matrix products at `precision` (PyTorch's
/// `torch.autocast`); other threads are not affected, and the previous precision comes back
/// afterwards. Where the CPU lacks bfloat16 (`MatrixPrecision.isSupported`), products stay
/// float32. Call `backward()` inside too for the gradient products to use it.
@discardableResult
public func withMatrixPrecision<R>(_ precision: MatrixPrecision, _ body: () throws -> R) rethrows -> R {
    let state = ThreadState.current
    let previous = state.kernelSettings.bfloat16Products
    state.kernelSettings.bfloat16Products = precision == .bfloat16 && precision.isSupported
    defer { state.kernelSettings.bfloat16Products = previous }
    return try body()
}

extension Tensor {
    /// Every element rounded to the nearest bfloat16 (ties to even; NaN stays NaN, infinities
    /// stay, subnormals become zero as AVX512_BF16 makes them) and back to float32: the values
    /// the bfloat16 products multiply. Not differentiable (the result carries no graph).
    public func roundedToBFloat16() -> Tensor {
        var copy = detached()
        copy.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            dl_bf16_round(base, base, buffer.count, MatrixPrecision.bfloat16Available ? 1 : 0)
        }
        return copy
    }
}
