import DeepLearning
import Foundation
import Pix2Pix

/// One line of RUN_DIR/losses.csv.
struct LossRecord {
    var step: Int
    var losses: [Float]  // D real, D fake, G GAN, G L1
    /// The discriminator's gradient penalty, on the steps that applied one (empty field else).
    var penalty: Float? = nil

    static let header = "step,d_real,d_fake,g_gan,g_l1,d_penalty"
    var csvLine: String {
        "\(step)," + losses.map { String(format: "%.6g", $0) }.joined(separator: ",") + ","
            + (penalty.map { String(format: "%.6g", $0) } ?? "")
    }

    /// The records of a loss log; lines of runs from before the penalty column have 5 fields.
    static func read(_ url: URL) -> [LossRecord] {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").dropFirst().compactMap { line in
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count == 5 || fields.count == 6, let step = Int(fields[0]) else { return nil }
            let values = fields[1..<5].compactMap { Float($0) }
            guard values.count == 4 else { return nil }
            let penalty = fields.count == 6 ? Float(fields[5]) : nil
            return LossRecord(step: step, losses: values, penalty: penalty)
        }
    }
}

/// Metrics of the model and of the baselines, as written to RUN_DIR/metrics.json.
struct EvaluationReport: Codable {
    var model: ImageMetrics
    var identity: ImageMetrics
    var meanColor: ImageMetrics
    var mode: String
    var data: String

    var rows: [(String, ImageMetrics)] {
        [("pix2pix (\(mode))", model), ("identity (source)", identity), ("mean colour", meanColor)]
    }

    /// An aligned text table.
    var table: String { metricsTable(rows) }
}

/// Named metrics as an aligned text table (`maps evaluate`, `maps cyclegan evaluate`).
func metricsTable(_ rows: [(String, ImageMetrics)]) -> String {
    var lines = ["                      pixel acc.    RMSE     PSNR     SSIM"]
    for (name, m) in rows {
        lines.append(
            name.padding(toLength: 20, withPad: " ", startingAt: 0)
                + String(format: "  %9.2f%%  %7.2f  %6.2f dB  %6.4f", m.pixelAccuracy * 100, m.rmse, m.psnr, m.ssim))
    }
    return lines.joined(separator: "\n")
}

/// The self-contained HTML report of a run: options, loss curves (inline SVG), samples, metrics.
enum Report {
    static func write(run: RunDirectory, options: RunOptions, title: String = "pix2pix maps run") throws {
        let records = LossRecord.read(run.losses)
        let samples = Report.sampleFiles(in: run.samples)
        let metrics = (try? Data(contentsOf: run.metrics)).flatMap {
            try? JSONDecoder().decode(EvaluationReport.self, from: $0)
        }
        var html = head(title: title, status: records.last.map { "step \($0.step)" } ?? "no steps yet")
        if let metrics { html += metricsSection(data: metrics.data, rows: metrics.rows) }
        html += "<h2>Losses</h2>"
        html += chart(
            title: "Discriminator", records: records, series: [(0, "D real", "#1f77b4"), (1, "D fake", "#ff7f0e")])
        let penalties = records.compactMap { record in
            record.penalty.map { LossRecord(step: record.step, losses: [$0]) }
        }
        if !penalties.isEmpty {
            html += chart(
                title: "Discriminator gradient penalty (\(options.gradientPenalty.map(\.summary) ?? ""))",
                records: penalties, series: [(0, "penalty", "#9467bd")])
        }
        html += chart(title: "Generator", records: records, series: [(2, "G GAN", "#2ca02c")])
        html += chart(
            title: "Generator L1 (mean |G(x) − y| on [-1, 1])", records: records, series: [(3, "G L1", "#d62728")])
        html += samplesSection(
            samples, caption: "each row: satellite | generated | real map", width: 900)
        html += optionsTable(options)
        try writeText(html, to: run.report)
    }

    /// The sample grids' file names in `folder`, in step order.
    static func sampleFiles(in folder: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { $0.hasSuffix(".png") }
            .sorted()
    }

    /// The page's head and title, with a status line.
    static func head(title: String, status: String) -> String {
        """
        <!doctype html><html><head><meta charset="utf-8"><title>\(escape(title))</title>
        <style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
        table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:left}
        img{max-width:100%;image-rendering:pixelated}h2{margin-top:1.6em}.muted{color:#777}</style></head><body>
        <h1>\(escape(title))</h1>
        <p class="muted">\(escape(status)) · updated \(Date())</p>
        """
    }

    /// The metrics as an HTML table, with what they were measured on.
    static func metricsSection(data: String, rows: [(String, ImageMetrics)]) -> String {
        var html =
            "<h2>Metrics</h2><p class=\"muted\">on \(escape(data)); pixel accuracy = share of pixels with max over channels |real − fake| &lt; 5 on the 8-bit images (GcGAN's definition)</p>"
        html += "<table><tr><th></th><th>pixel accuracy</th><th>RMSE</th><th>PSNR</th><th>SSIM</th></tr>"
        for (name, m) in rows {
            html += String(
                format: "<tr><td>%@</td><td>%.2f%%</td><td>%.2f</td><td>%.2f dB</td><td>%.4f</td></tr>",
                escape(name), m.pixelAccuracy * 100, m.rmse, m.psnr, m.ssim)
        }
        return html + "</table>"
    }

    /// The latest sample grid (of `samples`, file names in samples/, sorted) and links to earlier ones.
    static func samplesSection(_ samples: [String], caption: String, width: Int) -> String {
        guard let latest = samples.last else { return "" }
        var html = "<h2>Samples</h2><p class=\"muted\">\(escape(caption)) — \(escape(latest))</p>"
        html +=
            "<img src=\"samples/\(escape(latest))\" alt=\"latest samples\" style=\"width:min(100%, \(width)px)\">"
        if samples.count > 1 {
            html +=
                "<p>Earlier: "
                + samples.dropLast().suffix(20).map { "<a href=\"samples/\($0)\">\(escape($0))</a>" }.joined(
                    separator: " · ") + "</p>"
        }
        return html
    }

    /// The run's options as the JSON file writes them, one row each, and the page's end.
    static func optionsTable<Options: Encodable>(_ options: Options) -> String {
        var html = "<h2>Options</h2><table>"
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        if let data = try? encoder.encode(options),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        {
            for key in object.keys.sorted() {
                html += "<tr><td>\(escape(key))</td><td>\(escape("\(object[key]!)"))</td></tr>"
            }
        }
        return html + "</table></body></html>\n"
    }

    /// An SVG line chart of the chosen loss columns, smoothed with a moving average.
    static func chart(
        title: String, records: [LossRecord], series: [(column: Int, name: String, color: String)]
    ) -> String {
        let (width, height, left, bottom, top, right) = (720.0, 240.0, 56.0, 28.0, 24.0, 110.0)
        guard records.count >= 2 else { return "<p class=\"muted\">\(escape(title)): not enough steps yet</p>" }
        let window = Swift.max(1, records.count / 60)
        func smoothed(_ column: Int) -> [(Double, Double)] {
            var result: [(Double, Double)] = []
            var sum = 0.0
            for (i, record) in records.enumerated() {
                sum += Double(record.losses[column])
                if i >= window { sum -= Double(records[i - window].losses[column]) }
                result.append((Double(record.step), sum / Double(Swift.min(i + 1, window))))
            }
            return result
        }
        let lines = series.map { ($0, smoothed($0.column)) }
        let xs = records.map { Double($0.step) }
        let ys = lines.flatMap { $0.1.map(\.1) }.filter(\.isFinite)
        let (xMin, xMax) = (xs.min()!, Swift.max(xs.max()!, xs.min()! + 1))
        var (yMin, yMax) = (ys.min() ?? 0, ys.max() ?? 1)
        if yMax - yMin < 1e-9 { yMax = yMin + 1 }
        let plotW = width - left - right, plotH = height - top - bottom
        func px(_ x: Double) -> Double { left + (x - xMin) / (xMax - xMin) * plotW }
        func py(_ y: Double) -> Double { top + (1 - (y - yMin) / (yMax - yMin)) * plotH }
        var svg =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-size=\"11\">"
        svg += "<text x=\"\(left)\" y=\"14\" font-weight=\"bold\">\(escape(title))</text>"
        for i in 0...4 {
            let y = yMin + (yMax - yMin) * Double(i) / 4, yy = py(y)
            svg += String(
                format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>", left, yy,
                left + plotW, yy)
            svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.3g</text>", left - 4, yy + 4, y)
            let x = xMin + (xMax - xMin) * Double(i) / 4
            svg += String(
                format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%d</text>", px(x), height - 10, Int(x))
        }
        svg += String(
            format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#999\"/>", left,
            top, plotW, plotH)
        for (index, (info, points)) in lines.enumerated() {
            let path = points.map { String(format: "%.1f,%.1f", px($0.0), py($0.1)) }.joined(separator: " ")
            svg += "<polyline fill=\"none\" stroke=\"\(info.color)\" stroke-width=\"1.5\" points=\"\(path)\"/>"
            let ly = top + 14 + Double(index) * 16
            svg += String(
                format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%@\" stroke-width=\"3\"/>",
                left + plotW + 10, ly - 4, left + plotW + 28, ly - 4, info.color)
            svg += String(format: "<text x=\"%.1f\" y=\"%.1f\">%@</text>", left + plotW + 32, ly, escape(info.name))
        }
        svg += String(
            format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#777\">step</text>", left + plotW / 2,
            height)
        return svg + "</svg>"
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

/// Writes UTF-8 text atomically.
func writeText(_ text: String, to url: URL) throws {
    try writeAtomically(Data(text.utf8), to: url)
}
