// Timing, memory and FLOP counting for pix2pix-benchmark.
import COpenBLAS
@_spi(Benchmarks) import DeepLearning
import Foundation
import Pix2Pix

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func timed(warmup: Int, runs: Int, _ body: () throws -> Void) rethrows -> (min: Double, median: Double) {
    for _ in 0..<warmup { try body() }
    var times: [Double] = []
    for _ in 0..<runs { times.append(try seconds(body)) }
    times.sort()
    return (times[0], times[times.count / 2])
}

/// A memory figure of this process from /proc/self/status (`VmHWM` = peak RSS, `VmRSS` = current), in bytes.
func processMemory(_ key: String) -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix(key + ":") {
        return (line.split(separator: " ").compactMap { Int($0) }.first ?? 0) * 1024
    }
    return 0
}

/// Peak resident set size of this process, in bytes.
func peakRSS() -> Int { processMemory("VmHWM") }

func sgemmGFLOPS(size n: Int = 2048) -> Double {
    OpenBLASSetup.configure()
    let a = [Float](repeating: 1, count: n * n), b = a
    var c = [Float](repeating: 0, count: n * n)
    let best = (0..<4).map { _ in
        seconds {
            cblas_sgemm(
                CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1, a, Int32(n), b, Int32(n), 0,
                &c, Int32(n))
        }
    }.dropFirst().min()!
    return 2 * Double(n * n * n) / best / 1e9
}

/// Multiply-add FLOPs (×2) of every convolution in a forward pass of the seed's models at
/// `size`×`size`: conv 2·Ho·Wo·k²·Cin·Cout; a transposed conv costs the same from its input side.
func forwardFLOPs(
    generator: UNetGenerator, discriminator: PatchDiscriminator, size: Int
) -> (generator: Double, discriminator: Double) {
    func conv(_ layer: Conv2D, outputSize: Int) -> Double {
        let s = layer.kernel.shape  // [k, k, in, out]
        return 2 * Double(outputSize * outputSize * s[0] * s[1] * s[2] * s[3])
    }
    func deconv(_ layer: Conv2DTranspose, inputSize: Int) -> Double {
        let s = layer.kernel.shape  // [k, k, out, in]
        return 2 * Double(inputSize * inputSize * s[0] * s[1] * s[2] * s[3])
    }
    var g = 0.0, resolution = size
    for block in generator.encoder { resolution /= 2; g += conv(block.conv, outputSize: resolution) }
    resolution /= 2
    g += conv(generator.bottleneck, outputSize: resolution)
    for block in generator.decoder { g += deconv(block.deconv, inputSize: resolution); resolution *= 2 }
    g += deconv(generator.output, inputSize: resolution)
    var d = 0.0
    resolution = size
    for stage in discriminator.stages {
        if stage.conv.strides.height == 2 { resolution /= 2 }
        d += conv(stage.conv, outputSize: resolution)
    }
    d += conv(discriminator.output, outputSize: resolution)
    return (g, d)
}

/// Current resident set size, in bytes.
func currentRSS() -> Int { processMemory("VmRSS") }

/// What a figure was measured on, printed and saved with it so that figures from different
/// machines are never mixed: the CPU model, the vector level the library's kernels use, whether
/// the CPU has AVX512_BF16, and OpenBLAS's kernel.
struct MachineDescription {
    let cpu: String, kernelLevel: String, bf16: Bool, openBLASCore: String, cores: Int

    init() {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        func field(_ name: String) -> String? {
            cpuinfo.split(separator: "\n").first { $0.hasPrefix(name) }
                .flatMap { $0.split(separator: ":", maxSplits: 1).last }.map { $0.trimmingCharacters(in: .whitespaces) }
        }
        cpu = field("model name") ?? "unknown CPU"
        bf16 = (field("flags") ?? "").split(separator: " ").contains("avx512_bf16")
        kernelLevel = ["none (Swift SIMD only)", "AVX2 + FMA", "AVX-512F"][Swift.min(2, ThinProduct.supportedLevel)]
        openBLASCore = OpenBLASSetup.coreName
        cores = ProcessInfo.processInfo.activeProcessorCount
    }

    var summary: String {
        "\(cpu), \(cores) cores; kernels \(kernelLevel); AVX512_BF16 \(bf16 ? "yes" : "no"); OpenBLAS \(openBLASCore)"
    }

    var json: [String: Any] {
        ["cpu": cpu, "cores": cores, "kernel_level": kernelLevel, "avx512_bf16": bf16, "openblas_core": openBLASCore]
    }
}
