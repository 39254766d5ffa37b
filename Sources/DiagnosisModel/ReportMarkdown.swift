import Foundation

/// Renders a report as Markdown (API `Accept: text/markdown`, CLI, MCP `get_report`).
public enum ReportMarkdown {
    public static func render(_ report: DiagnosisReport) -> String {
        var lines: [String] = []
        lines.append("# Diagnosis: \(report.problem)")
        lines.append("")
        lines.append("Environment `\(report.environment)` · session `\(report.sessionID)` · \(JSONCoding.format(report.generatedAt)) · synthesized by \(report.synthesizer)")
        lines.append("")
        lines.append("## Summary")
        lines.append("")
        lines.append(report.summary)
        lines.append("")
        lines.append("## Probable causes")
        lines.append("")
        if report.probableCauses.isEmpty {
            lines.append("None found.")
        } else {
            for (index, cause) in report.probableCauses.enumerated() {
                lines.append("\(index + 1). **\(cause.title)** — confidence \(Int((cause.confidence * 100).rounded()))% (`\(cause.codes.joined(separator: "`, `"))`)")
                if !cause.explanation.isEmpty { lines.append("   \(cause.explanation)") }
                if !cause.findingIDs.isEmpty { lines.append("   Evidence: \(cause.findingIDs.joined(separator: ", "))") }
            }
        }
        if !report.nextSteps.isEmpty {
            lines.append("")
            lines.append("## Next steps")
            lines.append("")
            for step in report.nextSteps { lines.append("- \(step)") }
        }
        if !report.limitations.isEmpty {
            lines.append("")
            lines.append("## Not examined")
            lines.append("")
            for limitation in report.limitations { lines.append("- \(limitation)") }
        }
        if !report.ruledOut.isEmpty {
            lines.append("")
            lines.append("## Ruled out")
            lines.append("")
            for item in report.ruledOut { lines.append("- \(item)") }
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
                lines.append("### [\(finding.severity.rawValue.uppercased())] \(finding.title)")
                lines.append("")
                lines.append("`\(finding.code)` · \(finding.domain.rawValue) · \(finding.target) · \(finding.id)")
                if !finding.detail.isEmpty {
                    lines.append("")
                    lines.append(finding.detail)
                }
                for evidence in finding.evidence {
                    lines.append("")
                    if let text = evidence.text {
                        lines.append("**\(evidence.label)**")
                        lines.append("")
                        lines.append("```")
                        lines.append(text)
                        lines.append("```")
                    } else if let columns = evidence.columns, let rows = evidence.rows {
                        lines.append("**\(evidence.label)**")
                        lines.append("")
                        lines.append("| " + columns.map(cell).joined(separator: " | ") + " |")
                        lines.append("|" + String(repeating: "---|", count: columns.count))
                        for row in rows { lines.append("| " + row.map(cell).joined(separator: " | ") + " |") }
                    }
                }
                if !finding.remediation.isEmpty {
                    lines.append("")
                    lines.append("Remediation: \(finding.remediation)")
                }
            }
        }
        lines.append("")
        lines.append("Timings: total \(Int(report.timings.totalMs)) ms (planning \(Int(report.timings.planningMs)), approval wait \(Int(report.timings.approvalWaitMs)), diagnostics \(Int(report.timings.diagnosticsMs)), synthesis \(Int(report.timings.synthesisMs)))")
        return lines.joined(separator: "\n") + "\n"
    }

    private static func cell(_ text: String) -> String {
        text.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
    }
}
