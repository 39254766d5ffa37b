import Foundation

/// Renders a report as Markdown (API `Accept: text/markdown`, CLI, MCP `get_report`).
public enum ReportMarkdown {
    public static func render(_ report: DiagnosisReport) -> String {
        var lines: [String] = []
        lines.append("# Diagnosis: \(inline(report.problem))")
        lines.append("")
        lines.append("Environment `\(report.environment)` · session `\(report.sessionID)` · \(JSONCoding.format(report.generatedAt)) · synthesized by \(report.synthesizer)")
        lines.append("")
        lines.append("## Summary")
        lines.append("")
        lines.append(inline(report.summary))
        lines.append("")
        lines.append("## Probable causes")
        lines.append("")
        if report.probableCauses.isEmpty {
            lines.append("None found.")
        } else {
            for (index, cause) in report.probableCauses.enumerated() {
                lines.append("\(index + 1). **\(inline(cause.title))** — confidence \(Int((cause.confidence * 100).rounded()))% (`\(cause.codes.joined(separator: "`, `"))`)")
                if !cause.explanation.isEmpty { lines.append("   \(inline(cause.explanation))") }
                if !cause.findingIDs.isEmpty { lines.append("   Evidence: \(cause.findingIDs.joined(separator: ", "))") }
                if !cause.reasons.isEmpty { lines.append("   \(index == 0 ? "Why first" : "Why not first"): \(inline(cause.reasons.joined(separator: " ")))") }
            }
        }
        if !report.nextSteps.isEmpty {
            lines.append("")
            lines.append("## Next steps")
            lines.append("")
            for step in report.nextSteps { lines.append("- \(inline(step))") }
        }
        if !report.limitations.isEmpty {
            lines.append("")
            lines.append("## Not examined")
            lines.append("")
            for limitation in report.limitations { lines.append("- \(inline(limitation))") }
        }
        if !report.ruledOut.isEmpty {
            lines.append("")
            lines.append("## Ruled out")
            lines.append("")
            for item in report.ruledOut { lines.append("- \(inline(item))") }
        }
        lines.append("")
        lines.append("## Domains")
        lines.append("")
        lines.append("| domain | outcome | findings | time | note |")
        lines.append("|---|---|---|---|---|")
        for domain in report.domains {
            let time = domain.durationMs.map { String(format: "%.0f ms", $0) } ?? "—"
            lines.append("| \(domain.domain.rawValue) | \(domain.outcome.rawValue) | \(domain.findings) | \(time) | \(cell(domain.reason ?? "")) |")
        }
        let problems = report.findings.filter { $0.severity != .ok }.sorted { $0.severity > $1.severity }
        if !problems.isEmpty {
            lines.append("")
            lines.append("## Findings")
            for finding in problems {
                lines.append("")
                lines.append("### [\(finding.severity.rawValue.uppercased())] \(inline(finding.title))")
                lines.append("")
                lines.append("`\(finding.code)` · \(finding.domain.rawValue) · \(inline(finding.target)) · \(finding.id)")
                if !finding.detail.isEmpty {
                    lines.append("")
                    lines.append(inline(finding.detail))
                }
                if let series = finding.series, !series.points.isEmpty {
                    lines.append("")
                    lines.append(contentsOf: chart(series))
                }
                for evidence in finding.evidence {
                    lines.append("")
                    if let text = evidence.text {
                        lines.append("**\(inline(evidence.label))**")
                        lines.append("")
                        let fence = fence(for: text)
                        lines.append(fence)
                        lines.append(text)
                        lines.append(fence)
                    } else if let columns = evidence.columns, let rows = evidence.rows {
                        lines.append("**\(inline(evidence.label))**")
                        lines.append("")
                        lines.append("| " + columns.map(cell).joined(separator: " | ") + " |")
                        lines.append("|" + String(repeating: "---|", count: columns.count))
                        for row in rows { lines.append("| " + row.map(cell).joined(separator: " | ") + " |") }
                    }
                }
                if !finding.remediation.isEmpty {
                    lines.append("")
                    lines.append("Remediation: \(inline(finding.remediation))")
                }
            }
        }
        lines.append("")
        lines.append("Timings: total \(Int(report.timings.totalMs)) ms (planning \(Int(report.timings.planningMs)), approval wait \(Int(report.timings.approvalWaitMs)), diagnostics \(Int(report.timings.diagnosticsMs)), synthesis \(Int(report.timings.synthesisMs)))")
        return lines.joined(separator: "\n") + "\n"
    }

    /// A series as a sparkline with its numbers: range, baseline, threshold, change point.
    static func chart(_ series: MetricSeries) -> [String] {
        let values = series.points.map(\.value).filter(\.isFinite)
        guard let low = values.min(), let high = values.max(), let first = series.points.first, let last = series.points.last else { return [] }
        var facts = ["\(JSONCoding.format(first.time).prefix(16).replacingOccurrences(of: "T", with: " ")) → \(JSONCoding.format(last.time).prefix(16).dropFirst(11)) UTC",
                     "min \(MetricSeries.format(low, unit: series.unit))", "max \(MetricSeries.format(high, unit: series.unit))",
                     "now \(MetricSeries.format(last.value, unit: series.unit))"]
        if let baseline = series.baseline { facts.append("baseline \(MetricSeries.format(baseline, unit: series.unit))") }
        if let threshold = series.threshold { facts.append("threshold \(MetricSeries.format(threshold, unit: series.unit))") }
        if let change = series.changePoint { facts.append("changed at \(JSONCoding.format(change).prefix(16).dropFirst(11)) UTC") }
        return ["**\(inline(series.name))**", "", "`\(series.sparkline)`", "", facts.map(inline).joined(separator: " · ")]
    }

    /// User and probe text as one line of Markdown: a newline in a problem statement or a log
    /// line must not start a forged heading or list item, and no raw HTML gets through.
    static func inline(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.count)
        for character in text {
            switch character {
            case "\n", "\r", "\r\n": result.append(" ")
            case "<": result.append("&lt;")
            case ">": result.append("&gt;")
            default: result.append(character)
            }
        }
        return result
    }

    /// A code fence longer than any run of backticks in `text`, so the text cannot close it.
    static func fence(for text: String) -> String {
        var longest = 0
        var run = 0
        for character in text {
            run = character == "`" ? run + 1 : 0
            longest = max(longest, run)
        }
        return String(repeating: "`", count: max(3, longest + 1))
    }

    private static func cell(_ text: String) -> String {
        inline(text).replacingOccurrences(of: "|", with: "\\|")
    }
}
