// kernel-benchmark: how close do the convolution passes of a pix2pix training step come to
// OpenBLAS's own sgemm speed on this machine?
//
//   swift run -c release kernel-benchmark [--json] [--quick] [--threads N] [--scratch FLOATS] [--elementwise] [--thin]
//   swift run -c release kernel-benchmark --layers [--compare-torch] [--only NAME,NAME]
//   swift run -c release kernel-benchmark --bf16
//   swift run -c release kernel-benchmark --winograd
//
// Measures cblas_sgemm GFLOP/s for square 1024³ and 2048³ products, then, for every conv and
// transposed-conv shape of the pix2pix generator and discriminator at 256×256 batch 1, the
// forward, input-gradient and kernel-gradient passes: GFLOP/s (FLOPs = 2·N·Ho·Wo·k²·Cin·Cout
// per pass) and percent of the 2048³ sgemm rate. Times are the minimum over repeats after a
// warm-up run.

import COpenBLAS
@_spi(Benchmarks) import DeepLearning
import Foundation

let arguments = CommandLine.arguments.dropFirst()
let json = arguments.contains("--json")
let quick = arguments.contains("--quick")
// --threads N: run OpenBLAS and the library's own loops on N threads (single-threaded runs
// are steadier on a shared machine).
if let index = arguments.firstIndex(of: "--threads"), index + 1 < arguments.endIndex,
    let threads = Int(arguments[index + 1])
{
    Parallelism.threads = threads
    openblas_set_num_threads(Int32(threads))
}
// --scratch N: floats of patch matrix per chunk (default 4M = 16 MB), to tune the chunking.
if let index = arguments.firstIndex(of: "--scratch"), index + 1 < arguments.endIndex,
    let floats = Int(arguments[index + 1])
{
    ConvolutionPassRunner.scratchBudget = floats
}

/// Seconds of the fastest of `repeats` runs after one warm-up, stopping early past `budget` seconds.
func fastest(repeats: Int = quick ? 3 : 8, budget: Double = quick ? 0.3 : 1.5, _ body: () -> Void) -> Double {
    body()
    var best = Double.infinity, spent = 0.0
    for _ in 0..<repeats {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        best = min(best, seconds)
        spent += seconds
        if spent > budget { break }
    }
    return best
}

func sgemmRate(_ size: Int) -> Double {
    var generator = SeededGenerator(seed: 1)
    let a = Tensor.randomUniform([size, size], lowerBound: -1, upperBound: 1, generator: &generator)
    let b = Tensor.randomUniform([size, size], lowerBound: -1, upperBound: 1, generator: &generator)
    var c = [Float](repeating: 0, count: size * size)
    let seconds = a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
            c.withUnsafeMutableBufferPointer { pc in
                fastest {
                    cblas_sgemm(
                        CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(size), Int32(size), Int32(size),
                        1, pa.baseAddress, Int32(size), pb.baseAddress, Int32(size), 0, pc.baseAddress, Int32(size))
                }
            }
        }
    }
    return 2 * pow(Double(size), 3) / seconds / 1e9
}

/// One convolution of the pix2pix models at 256×256, batch 1, 4×4 kernels.
struct Shape {
    let name: String
    let transposed: Bool
    /// Spatial size of the op's input.
    let size: Int
    let inChannels: Int, outChannels: Int
    let stride: Int
}

let shapes: [Shape] = [
    Shape(name: "G enc1 / D1", transposed: false, size: 256, inChannels: 3, outChannels: 64, stride: 2),
    Shape(name: "D1 (6-ch)", transposed: false, size: 256, inChannels: 6, outChannels: 64, stride: 2),
    Shape(name: "enc2", transposed: false, size: 128, inChannels: 64, outChannels: 128, stride: 2),
    Shape(name: "enc3", transposed: false, size: 64, inChannels: 128, outChannels: 256, stride: 2),
    Shape(name: "enc4", transposed: false, size: 32, inChannels: 256, outChannels: 512, stride: 2),
    Shape(name: "enc5", transposed: false, size: 16, inChannels: 512, outChannels: 512, stride: 2),
    Shape(name: "enc6", transposed: false, size: 8, inChannels: 512, outChannels: 512, stride: 2),
    Shape(name: "enc7", transposed: false, size: 4, inChannels: 512, outChannels: 512, stride: 2),
    Shape(name: "bottleneck", transposed: false, size: 2, inChannels: 512, outChannels: 512, stride: 2),
    Shape(name: "dec1", transposed: true, size: 1, inChannels: 512, outChannels: 512, stride: 2),
    Shape(name: "dec2", transposed: true, size: 2, inChannels: 1024, outChannels: 512, stride: 2),
    Shape(name: "dec3", transposed: true, size: 4, inChannels: 1024, outChannels: 512, stride: 2),
    Shape(name: "dec4", transposed: true, size: 8, inChannels: 1024, outChannels: 512, stride: 2),
    Shape(name: "dec5", transposed: true, size: 16, inChannels: 1024, outChannels: 256, stride: 2),
    Shape(name: "dec6", transposed: true, size: 32, inChannels: 512, outChannels: 128, stride: 2),
    Shape(name: "dec7", transposed: true, size: 64, inChannels: 256, outChannels: 64, stride: 2),
    Shape(name: "G out", transposed: true, size: 128, inChannels: 128, outChannels: 3, stride: 2),
    Shape(name: "D 512 s1", transposed: false, size: 16, inChannels: 512, outChannels: 512, stride: 1),
    Shape(name: "D 1 s1", transposed: false, size: 16, inChannels: 512, outChannels: 1, stride: 1),
]

// --layers [--compare-torch] [--only NAME,NAME]: the general ops (Linear, pooling, upsampling,
// norms, softmax, cross-entropy, GELU, attention) at typical shapes, against PyTorch in the
// same run; --only keeps the named cases.
if arguments.contains("--layers") {
    var only: Set<String>? = nil
    if let index = arguments.firstIndex(of: "--only"), index + 1 < arguments.endIndex {
        only = Set(arguments[index + 1].split(separator: ",").map(String.init))
    }
    runLayerBenchmarks(compareTorch: arguments.contains("--compare-torch"), runs: quick ? 5 : 20, only: only)
    exit(0)
}

// --winograd: the stride-1 3×3 convolutions of a ResNet generator's residual blocks (and two
// U-Net-sized ones) with the Winograd route on and off: forward and input-gradient passes, the
// kernel gradient (always the patch-matrix GEMM) for scale.
if arguments.contains("--winograd") {
    var g = SeededGenerator(seed: 7)
    let cases: [(String, Int, Int, Int)] = [
        ("resnet block 256ch 64²", 66, 256, 256), ("resnet block 128ch 64²", 66, 128, 128),
        ("64ch 128²", 130, 64, 64), ("512ch 16²", 18, 512, 512),
    ]
    print("shape                       pass            GEMM (ms)  Winograd (ms)  speed-up")
    for (name, size, cin, cout) in cases {
        let x = Tensor.randomUniform([1, size, size, cin], lowerBound: -1, upperBound: 1, generator: &g)
        let w = Tensor.randomUniform([3, 3, cin, cout], lowerBound: -0.1, upperBound: 0.1, generator: &g)
        let runner = ConvolutionPassRunner(input: x, kernel: w, stride: 1, padding: .valid, transposed: false)
        for pass in [ConvolutionPass.forward, .inputGradient, .kernelGradient] {
            WinogradRoute.enabled = false
            let gemm = fastest { runner.run(pass) }
            WinogradRoute.enabled = true
            let winograd = fastest { runner.run(pass) }
            print(
                name.padding(toLength: 28, withPad: " ", startingAt: 0)
                    + pass.rawValue.padding(toLength: 16, withPad: " ", startingAt: 0)
                    + String(format: "%9.2f  %13.2f  %7.2f×", gemm * 1e3, winograd * 1e3, gemm / winograd))
        }
    }
    exit(0)
}

// --elementwise: the memory-bound ops around the convolutions instead, on one pix2pix-sized
// activation ([1, 128, 128, 64], 4 MB), as GB/s of the bytes each must move and as a share of
// a plain memcpy's rate.
if arguments.contains("--elementwise") {
    var g = SeededGenerator(seed: 5)
    let shape = [1, 128, 128, 64]
    let x = Tensor.randomUniform(shape, lowerBound: -1, upperBound: 1, generator: &g)
    let other = Tensor.randomUniform(shape, lowerBound: -1, upperBound: 1, generator: &g)
    let seed = Tensor.randomUniform(shape, lowerBound: -1, upperBound: 1, generator: &g)
    let bytes = Double(x.count * 4)
    let source = UnsafeMutablePointer<Float>.allocate(capacity: x.count)
    let target = UnsafeMutablePointer<Float>.allocate(capacity: x.count)
    source.initialize(repeating: 1, count: x.count)
    let copy = fastest { target.update(from: source, count: x.count) }
    let memcpyRate = 2 * bytes / copy / 1e9
    print(String(format: "memcpy 4 MB: %.1f GB/s (read + write)", memcpyRate))
    let parameter = Parameter(x)
    let gamma = Parameter(Tensor.ones([64])), beta = Parameter(Tensor.zeros([64]))
    // (name, buffers of 4 MB moved, body)
    let cases: [(String, Double, () -> Void)] = [
        ("leakyReLU forward", 2, { _ = withoutGradient { leakyReLU(x) } }),
        (
            "leakyReLU fwd+bwd", 2 + 3,
            {
                leakyReLU(parameter.value).backward(seed: seed); parameter.zeroGradient()
            }
        ),
        ("tanh forward", 2, { _ = withoutGradient { tanh(x) } }),
        (
            "relu fwd+bwd", 2 + 3,
            {
                relu(parameter.value).backward(seed: seed); parameter.zeroGradient()
            }
        ),
        ("batchNorm forward", 3, { _ = withoutGradient { batchNormalized(x, gamma: gamma.value, beta: beta.value) } }),
        (
            "batchNorm fwd+bwd", 3 + 4,
            {
                batchNormalized(parameter.value, gamma: gamma.value, beta: beta.value).output.backward(seed: seed)
                parameter.zeroGradient(); gamma.zeroGradient(); beta.zeroGradient()
            }
        ),
        ("x + y forward", 3, { _ = withoutGradient { x + other } }),
        ("concat forward", 4, { _ = withoutGradient { concatenate([x, other]) } }),
        ("isFinite", 1, { _ = x.isFinite }),
    ]
    for (name, buffers, body) in cases {
        let seconds = fastest(body)
        let rate = buffers * bytes / seconds / 1e9
        print(
            String(
                format: "%-20@ %7.3f ms  %6.1f GB/s  %4.0f%% of memcpy", name as NSString, seconds * 1e3, rate,
                100 * rate / memcpyRate))
    }
    exit(0)
}

// --thin: the thin products of the U-Net's bottom on the library's streaming kernels
// (`ThinProduct`) against OpenBLAS's sgemm, with the weights cold as in a training step:
// each timed call takes the next of 24 weight matrices of 33.5 MB (800 MB, more than any
// cache), alternating between the two implementations. Reported as the weight matrix's
// GB/s (the bytes that must come from DRAM) and the ratio.
if arguments.contains("--thin") {
    _ = matmul(Tensor.ones([2, 2]), Tensor.ones([2, 2]))  // OpenBLAS kernel selection first
    let rows = 16_384, columns = 512, weights = 24, bytes = Double(rows * columns * 4)
    func filledBuffer(_ count: Int, seed: Int) -> UnsafeMutablePointer<Float> {
        // 64-byte aligned, as tensors are (the TN kernel's streaming stores need it).
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: count * 4, alignment: 64).bindMemory(
            to: Float.self, capacity: count)
        for i in 0..<count { buffer[i] = Float((i * 7 + seed) % 97) / 97 - 0.5 }
        return buffer
    }
    let matrices = (0..<weights).map { filledBuffer(rows * columns, seed: $0) }
    let thin = filledBuffer(32 * rows, seed: 99), result = filledBuffer(rows * columns, seed: 0)
    print("thin products against a 16384×512 weight matrix (33.5 MB), cold; GB/s of the weight")
    print("product    | ours ms   GB/s | OpenBLAS ms   GB/s | ratio")
    // The weight is B for NN (k = 16384) and NT (n = 16384), and the result C for TN.
    for (kind, small) in [
        ("NN", 1), ("NN", 4), ("NN", 16), ("NT", 1), ("NT", 4), ("NT", 16), ("TN", 1), ("TN", 4), ("TN", 16),
    ] {
        let transposeA = kind == "TN", transposeB = kind == "NT"
        let m = kind == "TN" ? rows : small, n = kind == "NT" ? rows : columns
        let k = kind == "NN" ? rows : kind == "NT" ? columns : small
        let lda = kind == "NT" ? columns : rows, ldb = columns, ldc = kind == "NT" ? rows : columns
        var best = [Double.infinity, Double.infinity], next = 0
        for implementation in [0, 1, 0, 1, 0, 1] {
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<weights {
                let weight = matrices[next % weights]
                next += 1
                let a = UnsafePointer(thin), b = UnsafePointer(kind == "TN" ? thin + 16 * rows : weight)
                let c = kind == "TN" ? weight : result
                if implementation == 0 {
                    let handled = ThinProduct.runIfEligible(
                        transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                        a: a, lda: lda, b: b, ldb: ldb, beta: 0, c: c, ldc: ldc)
                    precondition(handled, "\(kind) \(small): declined by the kernels (DEEPLEARNING_SKINNY_KERNELS=0?)")
                } else {
                    cblas_sgemm(
                        CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                        Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb), 0, c, Int32(ldc))
                }
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(weights)
            best[implementation] = min(best[implementation], seconds)
        }
        let label = "\(kind) \(kind == "TN" ? "k" : "m") = \(small)"
        print(
            label.padding(toLength: 10, withPad: " ", startingAt: 0)
                + String(
                    format: " | %7.3f %6.1f | %11.3f %6.1f | %5.2f×",
                    best[0] * 1e3, bytes / best[0] / 1e9, best[1] * 1e3, bytes / best[1] / 1e9, best[1] / best[0]))
    }
    exit(0)
}

// The library corrects OpenBLAS's kernel choice on its first GEMM; make that happen before the
// raw cblas_sgemm reference below, so both sides use the same kernels.
_ = matmul(Tensor.ones([2, 2]), Tensor.ones([2, 2]))
let sgemm1024 = sgemmRate(1024), sgemm2048 = sgemmRate(2048)
// The library's own `matmul` (Tensor in, Tensor out, with autodiff bookkeeping) at 1024²,
// next to the raw sgemm above.
let matmulRate: Double = {
    var g = SeededGenerator(seed: 9)
    let a = Tensor.randomUniform([1024, 1024], generator: &g), b = Tensor.randomUniform([1024, 1024], generator: &g)
    _ = matmul(a, b)
    var best = Double.infinity
    for _ in 0..<5 {
        let start = DispatchTime.now().uptimeNanoseconds
        _ = matmul(a, b)
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    return 2 * 1024 * 1024 * 1024 / best / 1e9
}()
// --bf16: every pass of the table below at float32 and inside withMatrixPrecision(.bfloat16),
// the same runner, alternating; ms of each and the float32/bfloat16 ratio (> 1: bf16 faster).
if arguments.contains("--bf16") {
    guard MatrixPrecision.bfloat16.isSupported else {
        print(MatrixPrecision.bfloat16.unsupportedReason ?? "no bfloat16")
        exit(2)
    }
    print(
        String(
            format: "sgemm 2048³ %.1f GFLOP/s; bf16/fp32 multiply-add rate of this CPU %.2f", sgemm2048,
            MatrixPrecision.bfloat16RelativeRate ?? 0))
    print("shape        | forward fp32 bf16 ms (ratio) | input grad                  | kernel grad")
    var totals = [0.0, 0.0]
    for shape in shapes {
        var generator = SeededGenerator(seed: 2)
        let input = Tensor.randomUniform(
            [1, shape.size, shape.size, shape.inChannels], lowerBound: -1, upperBound: 1, generator: &generator)
        let kernelShape =
            shape.transposed
            ? [4, 4, shape.outChannels, shape.inChannels] : [4, 4, shape.inChannels, shape.outChannels]
        let kernel = Tensor.randomNormal(kernelShape, standardDeviation: 0.02, generator: &generator)
        let runner = ConvolutionPassRunner(
            input: input, kernel: kernel, stride: shape.stride, padding: .same, transposed: shape.transposed)
        var line = shape.name.padding(toLength: 12, withPad: " ", startingAt: 0)
        for pass in ConvolutionPass.allCases {
            var best = [Double.infinity, Double.infinity]
            for _ in 0..<3 {
                best[0] = min(best[0], fastest(repeats: 3) { runner.run(pass) })
                best[1] = min(best[1], fastest(repeats: 3) { withMatrixPrecision(.bfloat16) { runner.run(pass) } })
            }
            totals[0] += best[0]
            totals[1] += best[1]
            line += String(format: " | %8.3f %8.3f (%4.2f×)", best[0] * 1e3, best[1] * 1e3, best[0] / best[1])
        }
        print(line)
    }
    print(
        String(
            format: "all passes: fp32 %.1f ms, bf16 %.1f ms (%.2f×)", totals[0] * 1e3, totals[1] * 1e3,
            totals[0] / totals[1]))
    exit(0)
}

var results: [[String: Any]] = []
if !json {
    print("OpenBLAS kernels: \(String(cString: openblas_get_corename())), threads: \(openblas_get_num_threads())")
    print(
        String(format: "sgemm 1024³: %.1f GFLOP/s   2048³: %.1f GFLOP/s   (%% below is of 2048³)", sgemm1024, sgemm2048)
    )
    print(
        String(
            format: "matmul (DeepLearning) 1024×1024·1024×1024: %.1f GFLOP/s = %.0f%% of sgemm 1024³", matmulRate,
            100 * matmulRate / sgemm1024))
    print("GFLOP/s, % of 2048³ sgemm, % of an sgemm of the pass's own shape without im2col/col2im")
    print(
        "shape        op       in           out   | forward              | input grad           | kernel grad          | ms (f+i+k)"
    )
}
var totalSeconds = 0.0
for shape in shapes {
    var generator = SeededGenerator(seed: 2)
    let input = Tensor.randomUniform(
        [1, shape.size, shape.size, shape.inChannels], lowerBound: -1, upperBound: 1, generator: &generator)
    let kernelShape =
        shape.transposed ? [4, 4, shape.outChannels, shape.inChannels] : [4, 4, shape.inChannels, shape.outChannels]
    let kernel = Tensor.randomNormal(kernelShape, standardDeviation: 0.02, generator: &generator)
    let runner = ConvolutionPassRunner(
        input: input, kernel: kernel, stride: shape.stride, padding: .same, transposed: shape.transposed)
    var row: [String: Any] = [
        "name": shape.name, "op": shape.transposed ? "conv2DTranspose" : "conv2D",
        "input": [1, shape.size, shape.size, shape.inChannels], "outChannels": shape.outChannels,
        "stride": shape.stride, "kernelSize": 4, "flopsPerPass": runner.flops,
    ]
    var line = String(
        format: "%-12@ %-6@ %4d²×%-5d → %4d ", shape.name as NSString,
        (shape.transposed ? "convT" : "conv") as NSString, shape.size, shape.inChannels, shape.outChannels)
    var shapeSeconds = 0.0
    for pass in ConvolutionPass.allCases {
        let seconds = fastest { runner.run(pass) }
        let rate = runner.flops / seconds / 1e9
        shapeSeconds += seconds
        let gemmRate = runner.flops / fastest { runner.runMatrixProductOnly(pass) } / 1e9
        row[pass.rawValue] = [
            "seconds": seconds, "gflops": rate, "percentOfSgemm": 100 * rate / sgemm2048,
            "sameShapeSgemmGflops": gemmRate,
        ]
        line += String(format: "| %6.1f %4.0f%% %4.0f%% ", rate, 100 * rate / sgemm2048, 100 * rate / gemmRate)
    }
    totalSeconds += shapeSeconds
    results.append(row)
    if !json { print(line + String(format: "| %8.2f", 1000 * shapeSeconds)) }
}
if json {
    let document: [String: Any] = [
        "openblasCore": String(cString: openblas_get_corename()), "sgemm": ["1024": sgemm1024, "2048": sgemm2048],
        "matmul1024": matmulRate,
        "threads": Parallelism.threads, "shapes": results, "totalSeconds": totalSeconds,
    ]
    let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
    print(String(decoding: data, as: UTF8.self))
} else {
    print(String(format: "total of all passes: %.1f ms", 1000 * totalSeconds))
}
