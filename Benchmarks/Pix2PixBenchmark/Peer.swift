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

/// The peer's R1 discriminator step (`torch_pix2pix.py --r1`): min and median seconds and its
/// peak RSS, or nil when it cannot run.
func runTorchR1Peer(steps: Int, batch: Int, size: Int) -> (version: String, min: Double, median: Double, peakRSS: Int)?
{
    struct R1Result: Decodable {
        let version: String
        let r1_step_s: PeerResult.Times
    }
    guard
        let (data, peakRSS) = runPeerScript(["--r1", "--steps", "\(steps)", "--batch", "\(batch)", "--size", "\(size)"]
        ),
        let result = try? JSONDecoder().decode(R1Result.self, from: data)
    else { return nil }
    return (result.version, result.r1_step_s.min, result.r1_step_s.median, peakRSS)
}

/// Runs the peer script with `arguments` (and --threads, --json); its last output line and the
/// peak RSS of our children so far.
private func runPeerScript(_ arguments: [String]) -> (Data, Int)? {
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
        [script, "--threads", "\(ProcessInfo.processInfo.activeProcessorCount)", "--json"] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    do { try process.run() } catch { return nil }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let lastLine = String(decoding: data, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
    var usage = rusage()
    let peakRSS = getrusage(__rusage_who_t(RUSAGE_CHILDREN.rawValue), &usage) == 0 ? usage.ru_maxrss * 1024 : 0
    return (Data(lastLine.utf8), peakRSS)
}

/// Runs the peer at the same batch and size (with `bf16`, under `torch.autocast("cpu",
/// dtype=torch.bfloat16)`); nil when it cannot run.
func runTorchPeer(steps: Int, batch: Int, size: Int, bf16: Bool) -> PeerResult? {
    guard
        let (data, peakRSS) = runPeerScript(
            ["--steps", "\(steps)", "--batch", "\(batch)", "--size", "\(size)"] + (bf16 ? ["--bf16"] : []))
    else { return nil }
    var result = try? JSONDecoder().decode(PeerResult.self, from: data)
    // ru_maxrss of children: the largest finished child so far (the peer is our only child).
    result?.peakRSS = peakRSS
    return result
}
