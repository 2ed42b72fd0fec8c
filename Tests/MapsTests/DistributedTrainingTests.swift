import DeepLearning
import Foundation
import XCTest

/// `maps train` under Open MPI's `mpirun` (Docs/Distributed.md): two ranks with synchronised
/// batch norm train the weights one process trains at the global batch, a lost rank stops the
/// job without harming the checkpoint, and the run resumes with one rank or two.
final class DistributedTrainingTests: XCTestCase {
    private var root: URL!
    private static let mpirun = "/usr/bin/mpirun"

    override func setUpWithError() throws {
        try MapsBinary.requireBuilt()
        try XCTSkipUnless(
            FileManager.default.isExecutableFile(atPath: Self.mpirun),
            "mpirun missing (Tools/install-dependencies.sh installs openmpi-bin)")
        // Four training pairs: an epoch is two global batches of 2.
        root = try MapsBinary.scratchFolderWithFourPairs("maps-mpi")
    }

    override func tearDownWithError() throws {
        if let root { try? FileManager.default.removeItem(at: root) }
    }

    private func path(_ name: String) -> String { root.appendingPathComponent(name).path }

    /// A small U-Net without dropout (its masks are per rank, so they would differ from one
    /// process's) and a 2-layer PatchGAN, both with batch norm.
    private func options(_ run: String, dropout: Bool = false) -> [String] {
        [
            "train", "--data", path("data"), "--output", path(run), "--image-size", "32", "--depth", "5",
            "--ngf", "8", "--ndf", "8", "--disc-layers", "2", "--seed", "7", "--sample-every", "100",
        ] + (dropout ? [] : ["--no-dropout"])
    }

    /// `mpirun -np ranks [options] maps arguments`, run inside network namespace `namespace`
    /// (through `ip`, at `ipPath`) when one is given.
    private func mpirunProcess(
        _ ranks: Int, _ arguments: [String], options: [String] = ["--oversubscribe"],
        namespace: (ipPath: String, name: String)? = nil
    ) -> (Process, Pipe) {
        let process = Process()
        let command = [Self.mpirun, "-np", "\(ranks)"] + options + [MapsBinary.url.path] + arguments
        if let namespace {
            process.executableURL = URL(fileURLWithPath: namespace.ipPath)
            process.arguments = ["netns", "exec", namespace.name] + command
        } else {
            process.executableURL = URL(fileURLWithPath: Self.mpirun)
            process.arguments = Array(command.dropFirst())
        }
        var environment = ProcessInfo.processInfo.environment
        // Root in CI containers; shared memory without the ptrace-based single copy, which
        // containers often forbid.
        environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        environment["OMPI_MCA_btl_vader_single_copy_mechanism"] = "none"
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        return (process, pipe)
    }

    @discardableResult
    private func mpirun(
        _ ranks: Int, _ arguments: [String], options: [String] = ["--oversubscribe"],
        namespace: (ipPath: String, name: String)? = nil
    ) throws -> (status: Int32, output: String) {
        let (process, pipe) = mpirunProcess(ranks, arguments, options: options, namespace: namespace)
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Largest ‖a − b‖ / ‖a‖ over the networks' tensors of two checkpoints, leaving out what
    /// rounding alone decides: the biases that feed straight into a batch norm (their gradient
    /// is zero in exact arithmetic, and Adam turns rounding noise into full steps) and the
    /// running means (which follow those biases).
    private func worstDifference(_ a: String, _ b: String) throws -> (Float, String) {
        let left = try MapsBinary.tensors(root.appendingPathComponent("\(a)/checkpoint.safetensors"))
        let right = try MapsBinary.tensors(root.appendingPathComponent("\(b)/checkpoint.safetensors"))
        var worst: (Float, String) = (0, "")
        for (name, tensor) in left where !name.contains("Optimizer/") && !name.hasSuffix("runningMean") {
            if name.hasSuffix("conv.bias") {
                let layer = name.split(separator: ".").dropLast(2).joined(separator: ".")
                if left["\(layer).norm.gamma"] != nil { continue }
            }
            let other = try XCTUnwrap(right[name], name)
            var difference = 0.0, norm = 0.0
            for (x, y) in zip(tensor.scalars, other.scalars) {
                difference += Double(x - y) * Double(x - y)
                norm += Double(x) * Double(x)
            }
            let relative = Float((difference / Swift.max(norm, 1e-30)).squareRoot())
            if relative > worst.0 { worst = (relative, name) }
        }
        return worst
    }

    func testTwoRanksWithSynchronisedBatchNormTrainLikeOneProcessAtTheGlobalBatch() throws {
        let (status, output) = try MapsBinary.run(options("one") + ["--batch-size", "2", "--steps", "4"])
        XCTAssertEqual(status, 0, output)
        let two = try mpirun(2, options("two") + ["--batch-size", "1", "--steps", "4"])
        XCTAssertEqual(two.status, 0, two.output)
        XCTAssertTrue(two.output.contains("global batch 2 (batch norm synchronised)"), two.output)
        // Only rank 0 writes: one line per step, one progress bar.
        XCTAssertEqual(MapsBinary.loggedSteps(root.appendingPathComponent("two")), [1, 2, 3, 4])
        XCTAssertEqual(two.output.components(separatedBy: "done: 4 steps").count, 2, two.output)
        let (synchronised, name) = try worstDifference("one", "two")
        XCTAssertLessThanOrEqual(synchronised, 1e-5, "2 ranks × batch 1 vs 1 process × batch 2: \(name)")

        // Per-rank batch norm trains another model: each rank normalises its one pair alone.
        let unsynchronised = try mpirun(
            2, options("local") + ["--batch-size", "1", "--steps", "4", "--no-sync-batch-norm"])
        XCTAssertEqual(unsynchronised.status, 0, unsynchronised.output)
        XCTAssertTrue(unsynchronised.output.contains("(batch norm per rank)"), unsynchronised.output)
        XCTAssertGreaterThan(try worstDifference("one", "local").0, 1e-3)

        // The demo writes one dataset and is not data-parallel: it refuses to run as two ranks.
        let demo = try mpirun(2, ["demo", "--output", path("demo")])
        XCTAssertNotEqual(demo.status, 0)
        XCTAssertTrue(demo.output.contains("maps demo runs in one process"), demo.output)
    }

    func testTwoRanksResumeExactlyWithEachRanksDropoutStream() throws {
        // With dropout: each rank's masks come from its own stream, saved in the checkpoint.
        let common = ["--batch-size", "1", "--checkpoint-every", "100"]
        let straight = try mpirun(2, options("straight", dropout: true) + common + ["--steps", "6"])
        XCTAssertEqual(straight.status, 0, straight.output)
        XCTAssertEqual(try mpirun(2, options("split", dropout: true) + common + ["--steps", "3"]).status, 0)
        let resumed = try mpirun(2, options("split", dropout: true) + common + ["--steps", "6", "--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.output)
        let a = try MapsBinary.tensors(root.appendingPathComponent("straight/checkpoint.safetensors"))
        let b = try MapsBinary.tensors(root.appendingPathComponent("split/checkpoint.safetensors"))
        XCTAssertEqual(a.keys.sorted(), b.keys.sorted())
        for (name, tensor) in a {
            let same = b[name].map { tensor.scalars.elementsEqual($0.scalars) { $0.bitPattern == $1.bitPattern } }
            XCTAssertEqual(same, true, "\(name) differs after resuming")
        }
        XCTAssertEqual(
            MapsBinary.lossLines(root.appendingPathComponent("straight")),
            MapsBinary.lossLines(root.appendingPathComponent("split")))
    }

    /// Two "hosts": rank 0 and rank 1 in network namespaces of their own, joined by a veth
    /// pair, so the job's traffic (Open MPI's TCP transport, and its launcher's) crosses a real
    /// network interface. Needs root with CAP_NET_ADMIN; skipped where namespaces cannot be made.
    func testTwoRanksInTwoNetworkNamespacesOverAVethPair() throws {
        let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) }
        let ipPath = try XCTUnwrap(ip, "iproute2 missing (Tools/install-dependencies.sh installs it)")
        let tag = String(getpid() % 100_000)
        let (left, right) = ("dl\(tag)a", "dl\(tag)b")
        // Addresses of the project's own namespaces only: a private /24 chosen from the pid.
        let subnet = "10.231.\(getpid() % 250)"
        func run(_ arguments: [String]) -> Int32 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: ipPath)
            process.arguments = arguments
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            guard (try? process.run()) != nil else { return -1 }
            process.waitUntilExit()
            return process.terminationStatus
        }
        guard getuid() == 0, run(["netns", "add", left]) == 0 else {
            throw XCTSkip("cannot create network namespaces here (needs root with CAP_NET_ADMIN)")
        }
        defer {
            _ = run(["netns", "del", left])
            _ = run(["netns", "del", right])
        }
        let setup: [[String]] = [
            ["netns", "add", right],
            ["link", "add", "\(left)v", "type", "veth", "peer", "name", "\(right)v"],
            ["link", "set", "\(left)v", "netns", left], ["link", "set", "\(right)v", "netns", right],
            ["-n", left, "addr", "add", "\(subnet).1/24", "dev", "\(left)v"],
            ["-n", right, "addr", "add", "\(subnet).2/24", "dev", "\(right)v"],
            ["-n", left, "link", "set", "\(left)v", "up"], ["-n", right, "link", "set", "\(right)v", "up"],
            ["-n", left, "link", "set", "lo", "up"], ["-n", right, "link", "set", "lo", "up"],
        ]
        for step in setup {
            guard run(step) == 0 else { throw XCTSkip("ip \(step.joined(separator: " ")) failed here") }
        }
        // mpirun's launcher reaches the second "host" through this agent instead of ssh.
        let agent = root.appendingPathComponent("netns-agent.sh")
        let script = [
            "#!/bin/sh", "host=\"$1\"; shift", "case \"$host\" in", "  \(subnet).1) ns=\(left) ;;",
            "  \(subnet).2) ns=\(right) ;;", "  *) echo \"netns-agent: unknown host $host\" >&2; exit 1 ;;", "esac",
            "echo \"$ns\" >> \(root.appendingPathComponent("launched").path)",
            "exec \(ipPath) netns exec \"$ns\" /bin/sh -c \"$*\"",
        ]
        try (script.joined(separator: "\n") + "\n").write(to: agent, atomically: true, encoding: .utf8)
        chmod(agent.path, 0o755)
        let hosts = root.appendingPathComponent("hosts")
        try "\(subnet).1 slots=1\n\(subnet).2 slots=1\n".write(to: hosts, atomically: true, encoding: .utf8)

        let (status, output) = try MapsBinary.run(options("one") + ["--batch-size", "2", "--steps", "3"])
        XCTAssertEqual(status, 0, output)
        // Both "hosts" are this machine's cores: no binding, or both ranks would share core 0.
        let (jobStatus, text) = try mpirun(
            2, options("namespaces") + ["--batch-size", "1", "--steps", "3"],
            options: [
                "--bind-to", "none", "--hostfile", hosts.path, "--mca", "plm_rsh_agent", agent.path, "--mca", "btl",
                "tcp,self", "--mca", "btl_tcp_if_include", "\(subnet).0/24", "--mca", "oob_tcp_if_include",
                "\(subnet).0/24",
            ], namespace: (ipPath, left))
        XCTAssertEqual(jobStatus, 0, text)
        XCTAssertTrue(text.contains("global batch 2"), text)
        // The launcher went through the agent into the second namespace (rank 0 runs in the first).
        let launched = try String(contentsOf: root.appendingPathComponent("launched"), encoding: .utf8)
        XCTAssertEqual(launched.split(separator: "\n"), [Substring(right)])
        let (difference, name) = try worstDifference("one", "namespaces")
        XCTAssertLessThanOrEqual(difference, 1e-5, "two namespaces vs one process: \(name)")
    }

    /// The completed steps a checkpoint holds.
    private func checkpointStep(_ run: String) throws -> Int {
        let url = root.appendingPathComponent("\(run)/checkpoint.safetensors")
        let metadata = try SafeTensors.read(from: url).metadata
        let json = try XCTUnwrap(metadata["pix2pix.training-state"])
        let state = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        return try XCTUnwrap(state["completedSteps"] as? Int)
    }

    /// The process ids of `parent`'s children whose environment has OMPI_COMM_WORLD_RANK=`rank`.
    private func rankProcess(_ rank: Int, of parent: Int32) -> Int32? {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = Int32(entry),
                let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, Int32(fields[1]) == parent,
                let environment = FileManager.default.contents(atPath: "/proc/\(pid)/environ")
            else { continue }
            let variables = environment.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if variables.contains("OMPI_COMM_WORLD_RANK=\(rank)") { return pid }
        }
        return nil
    }

    func testLosingARankStopsTheJobAndTheRunResumesWithOneOrTwoRanks() throws {
        let run = "killed"
        let (process, pipe) = mpirunProcess(
            2, options(run) + ["--batch-size", "1", "--steps", "500", "--checkpoint-every", "3"])
        let collected = OutputCollector(pipe)
        try process.run()
        let checkpoint = root.appendingPathComponent("\(run)/checkpoint.safetensors").path
        var waited = 0.0
        while !FileManager.default.fileExists(atPath: checkpoint) && process.isRunning && waited < 120 {
            usleep(50_000)
            waited += 0.05
        }
        XCTAssertTrue(process.isRunning, "the job ended before its first checkpoint: \(collected.text)")
        let victim = try XCTUnwrap(rankProcess(1, of: process.processIdentifier), "rank 1 not found")
        kill(victim, SIGKILL)
        let killed = Date()
        while process.isRunning && Date().timeIntervalSince(killed) < 60 { usleep(50_000) }
        let stopped = !process.isRunning
        if !stopped { process.terminate() }
        process.waitUntilExit()
        let output = collected.finish()
        XCTAssertTrue(stopped, "the surviving rank still ran 60 s after rank 1 was killed")
        XCTAssertLessThan(Date().timeIntervalSince(killed), 30, "stopping took too long")
        XCTAssertNotEqual(process.terminationStatus, 0)
        XCTAssertTrue(output.contains("rank 1") && output.contains("signal 9"), output)

        // The checkpoint is whole and the run continues: on one process, then on two ranks.
        let step = try checkpointStep(run)
        XCTAssertGreaterThanOrEqual(step, 3)
        let alone = try MapsBinary.run(options(run) + ["--resume", "--steps", "\(step + 2)"])
        XCTAssertEqual(alone.status, 0, alone.output)
        XCTAssertTrue(alone.output.contains("at step \(step)"), alone.output)
        let again = try mpirun(2, options(run) + ["--resume", "--steps", "\(step + 4)"])
        XCTAssertEqual(again.status, 0, again.output)
        XCTAssertTrue(again.output.contains("at step \(step + 2)"), again.output)
        XCTAssertEqual(try checkpointStep(run), step + 4)
    }
}

/// Reads a pipe on a thread of its own until it closes, so a long-running child never blocks
/// on a full pipe.
private final class OutputCollector: @unchecked Sendable {
    private var data = Data()
    private let lock = NSLock()
    private let done = DispatchSemaphore(value: 0)

    init(_ pipe: Pipe) {
        let handle = pipe.fileHandleForReading
        Thread {
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                self.lock.lock()
                self.data.append(chunk)
                self.lock.unlock()
            }
            self.done.signal()
        }.start()
    }

    var text: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: data, as: UTF8.self)
    }

    func finish() -> String {
        done.wait()
        return text
    }
}
