// kernel-benchmark: how close do our convolutions get to OpenBLAS's sgemm at the pix2pix shapes?
//
//   swift run -c release kernel-benchmark [--json] [--repeats 5]
//
// Measures cblas_sgemm GFLOP/s (1024³ and 2048³) in the same process, then for every
// convolution of the seed's generator and discriminator at 256×256 batch 1: forward,
// input-gradient and weight-gradient time (minimum over repeats after one warm-up), as
// GFLOP/s and as a percentage of sgemm. FLOPs per pass = 2·N·Ho·Wo·k²·Cin·Cout.
import COpenBLAS
import DeepLearning
import Foundation

let arguments = CommandLine.arguments
let json = arguments.contains("--json")
let repeats = arguments.firstIndex(of: "--repeats").flatMap { Int(arguments[$0 + 1]) } ?? 5

func seconds(_ body: () -> Void) -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func best(_ body: () -> Void) -> Double {
    body()
    return (0..<repeats).map { _ in seconds(body) }.min()!
}

func sgemmGFLOPS(_ n: Int) -> Double {
    OpenBLASSetup.configure()
    let a = [Float](repeating: 0.5, count: n * n), b = a
    var c = [Float](repeating: 0, count: n * n)
    let t = best { cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1, a, Int32(n), b, Int32(n), 0, &c, Int32(n)) }
    return 2 * Double(n * n * n) / t / 1e9
}

/// One convolution of the pix2pix models.
struct Shape {
    let name: String
    let transposed: Bool
    let size: Int          // input side
    let inChannels: Int, outChannels: Int
    let stride: Int
    var outputSize: Int { transposed ? size * stride : size / stride }
    /// 2·(positions of the small grid)·k²·Cin·Cout.
    var flops: Double {
        let positions = transposed ? size * size : outputSize * outputSize
        return 2 * Double(positions * 16 * inChannels * outChannels)
    }
}

var shapes: [Shape] = []
let encoder = [(3, 64), (64, 128), (128, 256), (256, 512), (512, 512), (512, 512), (512, 512), (512, 512)]
var side = 256
for (i, (cin, cout)) in encoder.enumerated() {
    shapes.append(Shape(name: i == 7 ? "G bottleneck" : "G enc\(i + 1)", transposed: false, size: side, inChannels: cin, outChannels: cout, stride: 2))
    side /= 2
}
let decoder = [(512, 512), (1024, 512), (1024, 512), (1024, 512), (1024, 256), (512, 128), (256, 64), (128, 3)]
for (i, (cin, cout)) in decoder.enumerated() {
    shapes.append(Shape(name: i == 7 ? "G output" : "G dec\(i + 1)", transposed: true, size: side, inChannels: cin, outChannels: cout, stride: 2))
    side *= 2
}
side = 256
for (i, (cin, cout)) in [(6, 64), (64, 128), (128, 256), (256, 512)].enumerated() {
    shapes.append(Shape(name: "D conv\(i + 1)", transposed: false, size: side, inChannels: cin, outChannels: cout, stride: 2))
    side /= 2
}
shapes.append(Shape(name: "D conv5 s1", transposed: false, size: 16, inChannels: 512, outChannels: 512, stride: 1))
shapes.append(Shape(name: "D output s1", transposed: false, size: 16, inChannels: 512, outChannels: 1, stride: 1))

let sgemm1024 = sgemmGFLOPS(1024), sgemm2048 = sgemmGFLOPS(2048)
var generator = SeededGenerator(seed: 0)
var rows: [[String: Any]] = []
if !json {
    print(String(format: "cblas_sgemm (OpenBLAS core %@): 1024³ %.1f GFLOP/s, 2048³ %.1f GFLOP/s (reference for %%)", OpenBLASSetup.coreName, sgemm1024, sgemm2048))
    print("layer            in → out        forward            ∂input             ∂kernel")
}
for shape in shapes {
    let input = Tensor.randomUniform([1, shape.size, shape.size, shape.inChannels], lowerBound: -1, upperBound: 1, generator: &generator)
    let kernelShape = shape.transposed ? [4, 4, shape.outChannels, shape.inChannels] : [4, 4, shape.inChannels, shape.outChannels]
    let kernel = Parameter(Tensor.randomNormal(kernelShape, standardDeviation: 0.02, generator: &generator))
    let x = Parameter(input)
    func forward(_ x: Tensor, _ k: Tensor) -> Tensor {
        shape.transposed ? conv2DTranspose(x, kernel: k, stride: shape.stride, padding: .same)
                         : conv2D(x, kernel: k, stride: shape.stride, padding: .same)
    }
    let forwardTime = best { _ = withoutGradient { forward(input, kernel.value) } }
    let outputShape = [1, shape.outputSize, shape.outputSize, shape.outChannels]
    let seed = Tensor.randomUniform(outputShape, lowerBound: -1, upperBound: 1, generator: &generator)
    // Each backward pass computes only the gradient asked for (the other input is frozen); the
    // forward pass that builds the graph is timed separately and subtracted.
    kernel.requiresGradient = false
    let recordedForward = best { _ = forward(x.value, kernel.value) }
    let inputGradientTime = best { forward(x.value, kernel.value).backward(seed: seed); x.zeroGradient() } - recordedForward
    kernel.requiresGradient = true
    x.requiresGradient = false
    let kernelGradientTime = best { forward(x.value, kernel.value).backward(seed: seed); kernel.zeroGradient() } - recordedForward
    let gflops = [forwardTime, inputGradientTime, kernelGradientTime].map { shape.flops / $0 / 1e9 }
    rows.append(["layer": shape.name, "transposed": shape.transposed, "input": [shape.size, shape.size, shape.inChannels],
                 "output": outputShape, "gflop": shape.flops / 1e9,
                 "forward_s": forwardTime, "input_gradient_s": inputGradientTime, "kernel_gradient_s": kernelGradientTime,
                 "forward_gflops": gflops[0], "input_gradient_gflops": gflops[1], "kernel_gradient_gflops": gflops[2]])
    if !json {
        let io = "\(shape.size)²×\(shape.inChannels) → \(shape.outputSize)²×\(shape.outChannels)"
        print(String(format: "%-12@ %-19@ %@", shape.name, io,
                     gflops.map { String(format: "%6.1f (%3.0f%%)    ", $0, 100 * $0 / sgemm2048) }.joined()))
    }
}
if json {
    let object: [String: Any] = ["sgemm_gflops": ["1024": sgemm1024, "2048": sgemm2048], "convolutions": rows]
    print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
}
