import Foundation

/// The self-contained HTML report of a CycleGAN run: both directions' metrics, every loss
/// term's curve, the latest samples, the options.
enum CycleGANReport {
    static func write(run: CycleGANRunDirectory, options: CycleGANRunOptions) throws {
        let records = CycleGANLossRecord.read(run.losses).map { LossRecord(step: $0.step, losses: $0.losses) }
        let samples = ((try? FileManager.default.contentsOfDirectory(atPath: run.samples.path)) ?? [])
            .filter { $0.hasSuffix(".png") }.sorted()
        let metrics = (try? Data(contentsOf: run.metrics)).flatMap {
            try? JSONDecoder().decode(CycleGANEvaluation.self, from: $0)
        }
        let escape = Report.escape
        var html = """
            <!doctype html><html><head><meta charset="utf-8"><title>CycleGAN maps run</title>
            <style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
            table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:left}
            img{max-width:100%;image-rendering:pixelated}h2{margin-top:1.6em}.muted{color:#777}</style></head><body>
            <h1>CycleGAN maps run</h1>
            <p class="muted">\(records.last.map { "step \($0.step)" } ?? "no steps yet") · updated \(Date()) · A = satellite, B = map</p>
            """
        if let metrics {
            html +=
                "<h2>Metrics</h2><p class=\"muted\">on \(escape(metrics.data)); pixel accuracy = share of pixels with max over channels |real − fake| &lt; 5 on the 8-bit images (GcGAN's definition)</p>"
            html += "<table><tr><th></th><th>pixel accuracy</th><th>RMSE</th><th>PSNR</th><th>SSIM</th></tr>"
            for (name, m) in metrics.rows {
                html += String(
                    format: "<tr><td>%@</td><td>%.2f%%</td><td>%.2f</td><td>%.2f dB</td><td>%.4f</td></tr>",
                    escape(name), m.pixelAccuracy * 100, m.rmse, m.psnr, m.ssim)
            }
            html += "</table>"
        }
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
        if let latest = samples.last {
            html +=
                "<h2>Samples</h2><p class=\"muted\">rows: real A | G_A(A) | G_B(G_A(A)), then real B | G_B(B) | G_A(G_B(B)) — \(escape(latest))</p>"
            html += "<img src=\"samples/\(escape(latest))\" alt=\"latest samples\" style=\"width:min(100%, 600px)\">"
            if samples.count > 1 {
                html +=
                    "<p>Earlier: "
                    + samples.dropLast().suffix(20).map { "<a href=\"samples/\($0)\">\(escape($0))</a>" }.joined(
                        separator: " · ") + "</p>"
            }
        }
        html += "<h2>Options</h2><table>"
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        if let data = try? encoder.encode(options),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        {
            for key in object.keys.sorted() {
                html += "<tr><td>\(escape(key))</td><td>\(escape("\(object[key]!)"))</td></tr>"
            }
        }
        html += "</table></body></html>\n"
        try writeText(html, to: run.report)
    }
}
