import Foundation

#if canImport(Glibc)
import Glibc
#endif

// How much memory this process may use, read from the places Linux enforces it: the cgroup's
// `memory.max` (containers, systemd units, CI runners), the address-space limit (`ulimit -v`,
// `prlimit --as`) and the memory the kernel reports as available. Under Linux's overcommit a
// process that outgrows them is not refused an allocation: it is killed. So a run checks its
// estimate against this budget before the work.

/// The memory this process may still grow to, and its current use (Linux's `/proc` and
/// `/sys/fs/cgroup`).
public struct MemoryBudget: Sendable, CustomStringConvertible {
    /// The most resident memory the process can reach, in bytes: its current resident memory
    /// plus what the tightest limit still leaves.
    public var bytes: Int
    /// Which limit that is: "the cgroup's limit /sys/fs/cgroup/…/memory.max", "the
    /// address-space limit (ulimit -v)"
    /// or "available memory (MemAvailable)".
    public var source: String

    /// "3.2 GB (available memory (MemAvailable))".
    public var description: String { "\(describeBytes(bytes)) (\(source))" }

    /// The budget now: the smallest of the limits that apply.
    public static func current() -> MemoryBudget {
        let resident = residentBytes
        var candidates: [MemoryBudget] = []
        if let available = meminfo("MemAvailable") {
            candidates.append(MemoryBudget(bytes: resident + available, source: "available memory (MemAvailable)"))
        }
        if let (limit, usage, path) = cgroupLimit() {
            // The cgroup's usage counts this process's resident memory and everything else in it.
            candidates.append(
                MemoryBudget(bytes: resident + Swift.max(0, limit - usage), source: "the cgroup's limit \(path)"))
        }
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_AS.rawValue), &limit) == 0 && limit.rlim_cur != rlim_t.max,
            let virtual = status("VmSize")
        {
            // Address space already mapped but not resident (libraries, thread stacks, reserved
            // heap) counts against the limit too.
            let room = Int(clamping: limit.rlim_cur) - virtual
            candidates.append(
                MemoryBudget(bytes: resident + Swift.max(0, room), source: "the address-space limit (ulimit -v)"))
        }
        return candidates.min { $0.bytes < $1.bytes }
            ?? MemoryBudget(bytes: Int.max, source: "no limit found")
    }

    /// The process's resident memory now (`VmRSS`), in bytes.
    public static var residentBytes: Int { status("VmRSS") ?? 0 }

    /// The most resident memory the process has had (`VmHWM`), in bytes.
    public static var peakResidentBytes: Int { status("VmHWM") ?? 0 }

    /// A `kB` field of /proc/self/status, in bytes.
    private static func status(_ field: String) -> Int? { kilobyteField(field, in: "/proc/self/status") }

    /// A `kB` field of /proc/meminfo, in bytes.
    private static func meminfo(_ field: String) -> Int? { kilobyteField(field, in: "/proc/meminfo") }

    private static func kilobyteField(_ field: String, in file: String) -> Int? {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            let number = line.dropFirst(field.count + 1).split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) }
            return number.map { $0 * 1024 }
        }
        return nil
    }

    /// The tightest memory limit of this process's cgroup and its ancestors — cgroup v2's
    /// `memory.max`, or v1's `memory.limit_in_bytes` — with that cgroup's current usage and the
    /// limit's file; nil when none is set.
    private static func cgroupLimit() -> (limit: Int, usage: Int, path: String)? {
        guard let text = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8) else { return nil }
        var best: (limit: Int, usage: Int, path: String)?
        func consider(root: String, path: String, limitFile: String, usageFile: String) {
            var path = path
            while true {
                let folder = root + (path == "/" ? "" : path)
                if let limit = number(folder + "/" + limitFile), limit < 1 << 60,
                    let usage = number(folder + "/" + usageFile),
                    best.map({ limit - usage < $0.limit - $0.usage }) ?? true
                {
                    best = (limit, usage, folder + "/" + limitFile)
                }
                guard path != "/" && !path.isEmpty else { return }
                path = (path as NSString).deletingLastPathComponent
            }
        }
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            if fields[0] == "0" && fields[1].isEmpty {
                consider(
                    root: "/sys/fs/cgroup", path: String(fields[2]), limitFile: "memory.max",
                    usageFile: "memory.current")
            } else if fields[1].split(separator: ",").contains("memory") {
                consider(
                    root: "/sys/fs/cgroup/memory", path: String(fields[2]), limitFile: "memory.limit_in_bytes",
                    usageFile: "memory.usage_in_bytes")
            }
        }
        return best
    }

    /// The integer a one-line file holds ("max" and unreadable files are nil).
    private static func number(_ file: String) -> Int? {
        (try? String(contentsOfFile: file, encoding: .utf8)).flatMap {
            Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }
}
