import COpenBLAS
import Foundation

/// Makes sure OpenBLAS runs the kernels this CPU can execute.
///
/// Debian's OpenBLAS 0.3.21 picks its kernels at load time from the CPU model; on CPUs it does
/// not recognise — virtual machines reporting a generic "Intel Xeon Processor", for one — it
/// falls back to the SSE3 "Prescott" kernels, although the CPU has AVX2 or AVX-512, and sgemm
/// runs at a fraction of the CPU's speed (Docs/Performance.md). OpenBLAS's own
/// remedy is the environment variable `OPENBLAS_CORETYPE`, read when the library loads; this
/// applies the same remedy from inside the process, once, before the first BLAS call: if
/// OpenBLAS chose a generic core and the kernel reports (in /proc/cpuinfo) the instruction
/// sets of a better one, it sets `OPENBLAS_CORETYPE` and re-runs OpenBLAS's kernel selection.
///
/// Nothing is changed when `OPENBLAS_CORETYPE` is already set (your choice wins) or when
/// `DEEPLEARNING_KEEP_OPENBLAS_CORE=1`.
///
/// It also shortens how long OpenBLAS's worker threads busy-wait after each BLAS call. By
/// default they spin for 2^28 cycles before sleeping, so during the library's own
/// multi-threaded passes between two GEMMs (normalisation, activations, im2col, Adam) a
/// spinning BLAS thread holds one of the cores those passes want; on a 2-core machine that
/// made every non-GEMM pass of a training step run on about one core. Setup sets
/// `OPENBLAS_THREAD_TIMEOUT` to `threadTimeout` (2^`threadTimeout` cycles) and restarts the
/// workers, unless `OPENBLAS_THREAD_TIMEOUT` is already set (your choice wins).
public enum OpenBLASSetup {
    /// log₂ of the cycles OpenBLAS's workers spin before sleeping, applied by setup when
    /// `OPENBLAS_THREAD_TIMEOUT` is not set. OpenBLAS accepts 4…30; its own default is 28.
    public static let threadTimeout = 14

    /// The spin timeout OpenBLAS's workers use (log₂ cycles) after setup.
    public static var activeThreadTimeout: Int {
        _ = configured
        return Int(openblas_thread_timeout())
    }

    /// The OpenBLAS core in use after setup (e.g. "SkylakeX", "Haswell").
    public static var coreName: String {
        _ = configured
        return String(cString: openblas_get_corename())
    }

    /// Runs the check once (thread-safe: a lazy global).
    public static func configure() { _ = configured }

    private static let configured: Void = {
        selectKernels()
        let environment = ProcessInfo.processInfo.environment
        if environment["OPENBLAS_THREAD_TIMEOUT"] == nil {
            setenv("OPENBLAS_THREAD_TIMEOUT", String(threadTimeout), 1)
            openblas_read_env()
            _ = blas_thread_shutdown_()
        }
    }()

    private static func selectKernels() {
        let environment = ProcessInfo.processInfo.environment
        guard environment["OPENBLAS_CORETYPE"] == nil, environment["DEEPLEARNING_KEEP_OPENBLAS_CORE"] != "1" else {
            return
        }
        let current = String(cString: openblas_get_corename()).lowercased()
        let generic = [
            "prescott", "core2", "penryn", "dunnington", "nehalem", "katmai", "coppermine", "northwood", "banias",
            "atom",
        ]
        guard generic.contains(current) else { return }
        guard let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
            let flagsLine = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
        else { return }
        let flags = Set(flagsLine.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == ":" }).map(String.init))
        let target: String
        if ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"].allSatisfy(flags.contains) {
            target = "SkylakeX"
        } else if ["avx2", "fma"].allSatisfy(flags.contains) {
            target = "Haswell"
        } else if flags.contains("avx") {
            target = "Sandybridge"
        } else {
            return
        }
        setenv("OPENBLAS_CORETYPE", target, 1)
        gotoblas_dynamic_quit()
        gotoblas_dynamic_init()
    }
}
