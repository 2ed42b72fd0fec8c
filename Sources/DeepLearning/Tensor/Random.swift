import Foundation

/// A small, fast, seedable generator (xoshiro256**, seeded through SplitMix64).
///
/// Every random thing in the library (initializers, dropout masks, shuffling, jitter)
/// takes one of these, so a run is reproducible from its seed.
public struct SeededGenerator: RandomNumberGenerator, Sendable, Codable, Equatable {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    /// Creates a generator whose whole stream is determined by `seed`.
    public init(seed: UInt64) {
        var s = seed
        func splitMix() -> UInt64 {
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    public mutating func next() -> UInt64 {
        let result = rotate(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = rotate(state.3, 45)
        return result
    }

    @inline(__always) private func rotate(_ x: UInt64, _ k: UInt64) -> UInt64 {
        (x << k) | (x >> (64 - k))
    }

    /// A uniform float in [0, 1) with 24 random bits.
    @inline(__always)
    public mutating func nextUnitFloat() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// A standard normal sample (Box–Muller; uses one pair of uniforms per call).
    public mutating func nextNormal() -> Float {
        var u1 = nextUnitFloat()
        while u1 <= Float.leastNormalMagnitude { u1 = nextUnitFloat() }
        let u2 = nextUnitFloat()
        return (-2 * logf(u1)).squareRoot() * cosf(2 * .pi * u2)
    }

    // Codable so optimizer/trainer state can checkpoint the exact stream position.
    private enum CodingKeys: String, CodingKey { case state }
    public init(from decoder: Decoder) throws {
        let words = try decoder.container(keyedBy: CodingKeys.self).decode([UInt64].self, forKey: .state)
        guard words.count == 4 else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: [CodingKeys.state],
                    debugDescription: "expected 4 state words, got \(words.count)"))
        }
        state = (words[0], words[1], words[2], words[3])
    }
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode([state.0, state.1, state.2, state.3], forKey: .state)
    }
    public static func == (a: SeededGenerator, b: SeededGenerator) -> Bool {
        a.state == b.state
    }
}

/// The process-wide default generator that initializers and dropout layers draw from when no
/// generator is passed (PyTorch's `torch.manual_seed`). Seed it once before building a model to
/// make the whole run reproducible.
///
/// It is lock-protected, so any thread may draw from it; draws from several threads at once
/// interleave in an unspecified order. For reproducible work on several threads, build the
/// models on one thread (each `Dropout` keeps a generator of its own) or pass generators.
public enum RandomState {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var generator = SeededGenerator(seed: 0)  // guarded by `lock`

    /// Restarts the default generator from `seed`.
    public static func seed(_ seed: UInt64) {
        withGenerator { $0 = SeededGenerator(seed: seed) }
    }

    /// Runs `body` with exclusive access to the default generator.
    ///
    /// ```swift
    /// let noise = RandomState.withGenerator { Tensor.randomNormal([4, 4], generator: &$0) }
    /// ```
    public static func withGenerator<R>(_ body: (inout SeededGenerator) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&generator)
    }
}
