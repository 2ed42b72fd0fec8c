// kernel-benchmark --layers: the general ops at typical shapes, forward and forward + backward,
// next to PyTorch at the same shapes in the same run (Benchmarks/Peers/torch_layers.py).

import DeepLearning
import Foundation

/// One op at one shape: `make` builds the inputs (as parameters, so backward reaches them) and
/// returns the forward computation.
struct LayerCase {
    let name: String
    let shape: String
    let make: () -> () -> Tensor
}

func layerCases() -> [LayerCase] {
    var random = SeededGenerator(seed: 7)
    func parameter(_ shape: [Int]) -> Parameter {
        Parameter(Tensor.randomUniform(shape, lowerBound: -1, upperBound: 1, generator: &random))
    }
    let image = [4, 64, 64, 128]
    return [
        LayerCase(name: "linear", shape: "[256, 1024] → 1024") {
            let (x, layer) = (parameter([256, 1024]), Linear(1024, 1024))
            return { layer(x.value) }
        },
        LayerCase(name: "maxpool3x3s2", shape: "[4, 64, 64, 128]") {
            let x = parameter(image)
            return { maxPool2D(x.value, kernelSize: 3, stride: 2, padding: 1) }
        },
        LayerCase(name: "avgpool2x2", shape: "[4, 64, 64, 128]") {
            let x = parameter(image)
            return { avgPool2D(x.value, kernelSize: 2) }
        },
        LayerCase(name: "upsample_nearest2", shape: "[4, 64, 64, 128]") {
            let x = parameter(image)
            return { upsampleNearest2D(x.value, scale: 2) }
        },
        LayerCase(name: "upsample_bilinear2", shape: "[4, 64, 64, 128]") {
            let x = parameter(image)
            return { upsampleBilinear2D(x.value, scale: 2) }
        },
        LayerCase(name: "pixel_shuffle2", shape: "[4, 64, 64, 128]") {
            let x = parameter(image)
            return { pixelShuffle(x.value, upscaleFactor: 2) }
        },
        LayerCase(name: "layernorm", shape: "[4, 32, 32, 256]") {
            let (x, layer) = (parameter([4, 32, 32, 256]), LayerNorm(256))
            return { layer(x.value) }
        },
        LayerCase(name: "groupnorm32", shape: "[4, 32, 32, 256]") {
            let (x, layer) = (parameter([4, 32, 32, 256]), GroupNorm(groups: 32, channels: 256))
            return { layer(x.value) }
        },
        // The same statistics (per sample and channel over the pixels) on the two normalisation
        // cores: group norm's C kernels with one channel per group, and the batch/instance core.
        LayerCase(name: "groupnorm256", shape: "[4, 32, 32, 256]") {
            let (x, layer) = (parameter([4, 32, 32, 256]), GroupNorm(groups: 256, channels: 256))
            return { layer(x.value) }
        },
        LayerCase(name: "instancenorm", shape: "[4, 32, 32, 256]") {
            let (x, layer) = (parameter([4, 32, 32, 256]), InstanceNorm(256, affine: true))
            return { layer(x.value) }
        },
        LayerCase(name: "softmax", shape: "[256, 1024]") {
            let x = parameter([256, 1024])
            return { x.value.softmax() }
        },
        LayerCase(name: "cross_entropy", shape: "[256, 1024]") {
            let x = parameter([256, 1024])
            let labels = (0..<256).map { ($0 * 37) % 1024 }
            return { try! crossEntropy(x.value, labels: labels) }
        },
        LayerCase(name: "gelu", shape: "[4, 64, 64, 128]") {
            let x = parameter(image)
            return { x.value.gelu() }
        },
        LayerCase(name: "attention", shape: "q, k, v [4, 8, 256, 64]") {
            let (q, k, v) = (parameter([4, 8, 256, 64]), parameter([4, 8, 256, 64]), parameter([4, 8, 256, 64]))
            return { scaledDotProductAttention(query: q.value, key: k.value, value: v.value) }
        },
    ]
}

/// Median seconds of `runs` calls after two warm-ups.
func medianSeconds(runs: Int, _ body: () -> Void) -> Double {
    body()
    body()
    var times: [Double] = []
    for _ in 0..<runs {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    return times.sorted()[times.count / 2]
}

/// PyTorch's times for the same cases, or nil when the peer cannot run.
func torchLayerTimes(runs: Int) -> [String: (forward: Double, train: Double)]? {
    let environment = ProcessInfo.processInfo.environment
    let peers = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../Peers")
        .standardized
    let venvPython = peers.appendingPathComponent(".venv/bin/python").path
    let python =
        environment["PEER_PYTHON"]
        ?? (FileManager.default.fileExists(atPath: venvPython) ? venvPython : "/usr/bin/python3")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: python)
    process.arguments = [
        peers.appendingPathComponent("torch_layers.py").path, "--runs", "\(runs)", "--threads",
        "\(ProcessInfo.processInfo.activeProcessorCount)",
    ]
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return nil }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0,
        let object = try? JSONSerialization.jsonObject(with: data) as? [String: [String: Double]]
    else { return nil }
    return object.compactMapValues { entry in
        guard let forward = entry["forward"], let train = entry["train"] else { return nil }
        return (forward, train)
    }
}

func runLayerBenchmarks(compareTorch: Bool, runs: Int, only: Set<String>? = nil) {
    print(
        "op                  shape                      forward     fwd+bwd"
            + (compareTorch ? "   torch fwd  torch f+b   ratio fwd  ratio f+b" : ""))
    var results: [(LayerCase, Double, Double)] = []
    for layerCase in layerCases() where only?.contains(layerCase.name) ?? true {
        let forward = layerCase.make()
        let inference = medianSeconds(runs: runs) { _ = withoutGradient { forward() } }
        let training = medianSeconds(runs: runs) { forward().sum().backward() }
        results.append((layerCase, inference, training))
    }
    let peer = compareTorch ? torchLayerTimes(runs: runs) : nil
    if compareTorch && peer == nil {
        print("(PyTorch peer did not run: set PEER_PYTHON or run Benchmarks/Peers/install.sh)")
    }
    for (layerCase, inference, training) in results {
        var line =
            layerCase.name.padding(toLength: 20, withPad: " ", startingAt: 0)
            + layerCase.shape.padding(toLength: 25, withPad: " ", startingAt: 0)
            + String(format: "%8.3f ms %8.3f ms", inference * 1e3, training * 1e3)
        if let times = peer?[layerCase.name] {
            line += String(
                format: "  %8.3f ms %8.3f ms  %8.2f×  %8.2f×", times.forward * 1e3, times.train * 1e3,
                times.forward / inference, times.train / training)
        }
        print(line)
    }
    if peer != nil { print("ratios are PyTorch's time / ours: above 1 means ours is faster") }
}
