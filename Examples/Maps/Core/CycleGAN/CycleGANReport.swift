import Foundation

/// The self-contained HTML report of a CycleGAN run: both directions' metrics, every loss
/// term's curve, the latest samples, the options.
enum CycleGANReport {
    static func write(run: CycleGANRunDirectory, options: CycleGANRunOptions) throws {
        let records = CycleGANLossRecord.read(run.losses).map { LossRecord(step: $0.step, losses: $0.losses) }
        let samples = Report.sampleFiles(in: run.samples)
        let metrics = (try? Data(contentsOf: run.metrics)).flatMap {
            try? JSONDecoder().decode(CycleGANEvaluation.self, from: $0)
        }
        var html = Report.head(
            title: "CycleGAN maps run",
            status: (records.last.map { "step \($0.step)" } ?? "no steps yet") + " · A = satellite, B = map")
        if let metrics { html += Report.metricsSection(data: metrics.data, rows: metrics.rows) }
        html += "<h2>Losses</h2>"
        let charts: [(String, [(Int, String, String)])] = [
            ("Discriminators (LSGAN, ½·(real + pooled fake))", [(0, "D_A", "#1f77b4"), (4, "D_B", "#ff7f0e")]),
            ("Generators, adversarial (LSGAN)", [(1, "G_A", "#2ca02c"), (5, "G_B", "#d62728")]),
            (
                "Cycle consistency (λ·mean |G_B(G_A(a)) − a|, λ·mean |G_A(G_B(b)) − b|)",
                [(2, "cycle_A", "#9467bd"), (6, "cycle_B", "#8c564b")]
            ),
            ("Identity (λ·λ_idt·mean |G_A(b) − b|, …)", [(3, "idt_A", "#e377c2"), (7, "idt_B", "#7f7f7f")]),
        ]
        for (title, series) in charts {
            html += Report.chart(title: title, records: records, series: series.map { ($0.0, $0.1, $0.2) })
        }
        html += Report.samplesSection(
            samples,
            caption: "rows: real A | G_A(A) | G_B(G_A(A)), then real B | G_B(B) | G_A(G_B(B))", width: 600)
        html += Report.optionsTable(options)
        try writeText(html, to: run.report)
    }
}
