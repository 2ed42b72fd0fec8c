// The PyTorch peer of pix2pix-benchmark --compare-torch (Benchmarks/Peers/torch_pix2pix.py).
import Foundation

struct PeerResult: Decodable {
    struct Times: Decodable { let min: Double; let median: Double }
    let version: String
    let generator_forward_s: Times
    let train_step_s: Times
    /// Peak RSS of the peer process (from the kernel's accounting of the finished child).
    var peakRSS: Int? = nil

    enum CodingKeys: String, CodingKey { case version, generator_forward_s, train_step_s }
}

/// A peer's step times (min and median seconds), its version and its peak RSS.
struct PeerStep {
    let version: String
    let min: Double, median: Double
    let peakRSS: Int
}

/// Runs the peer script `script` (default torch_pix2pix.py) of Benchmarks/Peers with `arguments` (and `--threads` with this
/// machine's cores unless `threads` is false, and `--json`) and decodes its last output line as
/// `Result`; with the peak RSS of our children so far (the peers are our only children, run one
/// at a time). nil when it cannot run. `PEER_PYTHON` overrides the interpreter, and `PEER_SCRIPT`
/// the path of torch_pix2pix.py.
func runPeer<Result: Decodable>(
    script: String = "torch_pix2pix.py", _ arguments: [String], threads: Bool = true, as: Result.Type
) -> (result: Result, peakRSS: Int)? {
    let env = ProcessInfo.processInfo.environment
    let peers = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../Peers")
        .standardized
    let venvPython = peers.appendingPathComponent(".venv/bin/python").path
    let python =
        env["PEER_PYTHON"] ?? (FileManager.default.fileExists(atPath: venvPython) ? venvPython : "/usr/bin/python3")
    let path =
        script == "torch_pix2pix.py"
        ? env["PEER_SCRIPT"] ?? peers.appendingPathComponent(script).path : peers.appendingPathComponent(script).path
    guard FileManager.default.fileExists(atPath: python), FileManager.default.fileExists(atPath: path) else {
        FileHandle.standardError.write("peer not run: \(python) or \(path) missing\n".data(using: .utf8)!)
        return nil
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: python)
    process.arguments =
        [path] + (threads ? ["--threads", "\(ProcessInfo.processInfo.activeProcessorCount)"] : []) + ["--json"]
        + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    do { try process.run() } catch { return nil }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let lastLine = String(decoding: data, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
    guard let result = try? JSONDecoder().decode(Result.self, from: Data(lastLine.utf8)) else { return nil }
    // ru_maxrss of children: the largest finished child so far, in KiB.
    var usage = rusage()
    let peakRSS = getrusage(__rusage_who_t(RUSAGE_CHILDREN.rawValue), &usage) == 0 ? usage.ru_maxrss * 1024 : 0
    return (result, peakRSS)
}

/// Runs the peer at the same batch and size (with `bf16`, under `torch.autocast("cpu",
/// dtype=torch.bfloat16)`); nil when it cannot run.
func runTorchPeer(steps: Int, batch: Int, size: Int, bf16: Bool) -> PeerResult? {
    guard
        var (result, peakRSS) = runPeer(
            ["--steps", "\(steps)", "--batch", "\(batch)", "--size", "\(size)"] + (bf16 ? ["--bf16"] : []),
            as: PeerResult.self)
    else { return nil }
    result.peakRSS = peakRSS
    return result
}
