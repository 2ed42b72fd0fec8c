import Foundation
import Pix2Pix

/// A one-line training progress display: redrawn in place on a terminal, printed every few
/// percent otherwise (logs, CI).
struct ProgressBar {
    let total: Int
    let start = Date()
    let startStep: Int
    var lastPlainPrint = -1

    init(total: Int, startStep: Int) {
        self.total = total
        self.startStep = startStep
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        return s >= 3600
            ? String(format: "%dh%02dm", s / 3600, (s % 3600) / 60)
            : s >= 60 ? String(format: "%dm%02ds", s / 60, s % 60) : "\(s)s"
    }

    mutating func update(step: Int, epoch: Int, losses: Pix2PixTrainer.Losses) {
        update(
            step: step, epoch: epoch,
            terms: String(
                format: "D real %.3f  D fake %.3f  G GAN %.3f  G L1 %.4f", losses.discriminatorReal,
                losses.discriminatorFake, losses.generatorGAN, losses.generatorL1)
                + (losses.discriminatorPenalty.map { String(format: "  D penalty %.3f", $0) } ?? ""))
    }

    /// Shows step `step` of `epoch` (0-based) with the loss terms as `terms` spells them.
    mutating func update(step: Int, epoch: Int, terms: String) {
        let done = step - startStep
        let elapsed = Date().timeIntervalSince(start)
        let rate = Double(done) / Swift.max(elapsed, 1e-9)
        let eta = Double(total - step) / Swift.max(rate, 1e-9)
        let width = 24, filled = total > 0 ? width * step / total : width
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let line =
            String(
                format: "%@ %d/%d  epoch %d  %.2f it/s  ETA %@  ", bar, step, total, epoch + 1, rate,
                ProgressBar.duration(eta)) + terms
        if standardOutputIsTerminal {
            say("\r" + line + "  ", terminator: step == total ? "\n" : "")
        } else {
            let percent = total > 0 ? 100 * step / total : 100
            if percent / 5 != lastPlainPrint / 5 || step == total {
                lastPlainPrint = percent
                say(line)
            }
        }
    }
}
