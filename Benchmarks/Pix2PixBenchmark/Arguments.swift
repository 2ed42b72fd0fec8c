// pix2pix-benchmark's command line (see main.swift for what each option does).
import Foundation

struct Arguments {
    var steps = 10, warmup = 3, size = 256, batch = 1
    var json = false, compareTorch = false, profile = false, profileOps = false
    var soak = 0, rounds = 1, bf16 = false, recompute = false, r1 = false
    var loader: String? = nil, workers = 0, cyclegan = false

    init() {
        var it = CommandLine.arguments.dropFirst().makeIterator()
        while let arg = it.next() {
            switch arg {
            case "--steps": steps = Int(it.next() ?? "") ?? steps
            case "--warmup": warmup = Int(it.next() ?? "") ?? warmup
            case "--size": size = Int(it.next() ?? "") ?? size
            case "--batch": batch = Swift.max(1, Int(it.next() ?? "") ?? batch)
            case "--json": json = true
            case "--bf16": bf16 = true
            case "--recompute": recompute = true
            case "--r1": r1 = true
            case "--cyclegan": cyclegan = true
            case "--loader": loader = it.next()
            case "--workers": workers = Swift.max(0, Int(it.next() ?? "") ?? 0)
            case "--compare-torch": compareTorch = true
            case "--profile": profile = true
            case "--profile-ops": profileOps = true
            case "--detailed": break
            case "--soak": soak = Int(it.next() ?? "") ?? 1000
            case "--rounds": rounds = Swift.max(1, Int(it.next() ?? "") ?? 1)
            case "--help", "-h":
                print(
                    "usage: pix2pix-benchmark [--steps N] [--warmup N] [--batch 1] [--size 256] [--bf16] [--recompute] [--r1] [--cyclegan] [--loader DIR [--workers N]] [--json] [--compare-torch [--rounds N]] [--profile] [--profile-ops [--detailed]] [--soak N]"
                )
                exit(0)
            default:
                FileHandle.standardError.write("unknown argument \(arg)\n".data(using: .utf8)!)
                exit(2)
            }
        }
    }

    /// The size must suit the seed's U-Net (eight halvings) and the peer (a multiple of 256).
    func validated() -> Arguments {
        guard size >= 256, size % 256 == 0 else {
            FileHandle.standardError.write("--size must be a multiple of 256 (got \(size))\n".data(using: .utf8)!)
            exit(2)
        }
        return self
    }
}
