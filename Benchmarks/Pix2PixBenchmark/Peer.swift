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

/// Runs the peer at the same batch and size (with `bf16`, under `torch.autocast("cpu",
/// dtype=torch.bfloat16)`); nil when it cannot run.
func runTorchPeer(steps: Int, batch: Int, size: Int, bf16: Bool) -> PeerResult? {
    let env = ProcessInfo.processInfo.environment
    let peers = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../Peers")
        .standardized
    let venvPython = peers.appendingPathComponent(".venv/bin/python").path
    let python =
        env["PEER_PYTHON"] ?? (FileManager.default.fileExists(atPath: venvPython) ? venvPython : "/usr/bin/python3")
    let script = env["PEER_SCRIPT"] ?? peers.appendingPathComponent("torch_pix2pix.py").path
    guard FileManager.default.fileExists(atPath: python), FileManager.default.fileExists(atPath: script) else {
        FileHandle.standardError.write("peer not run: \(python) or \(script) missing\n".data(using: .utf8)!)
        return nil
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: python)
    process.arguments =
        [
            script, "--threads", "\(ProcessInfo.processInfo.activeProcessorCount)", "--steps", "\(steps)", "--batch",
            "\(batch)", "--size", "\(size)", "--json",
        ] + (bf16 ? ["--bf16"] : [])
    let pipe = Pipe()
    process.standardOutput = pipe
    do { try process.run() } catch { return nil }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let lastLine = String(decoding: data, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
    var result = try? JSONDecoder().decode(PeerResult.self, from: Data(lastLine.utf8))
    // ru_maxrss of children: the largest finished child so far, in KiB (the peer is our only child).
    var usage = rusage()
    if getrusage(__rusage_who_t(RUSAGE_CHILDREN.rawValue), &usage) == 0 { result?.peakRSS = usage.ru_maxrss * 1024 }
    return result
}
