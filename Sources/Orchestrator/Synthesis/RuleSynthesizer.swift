import DiagnosisModel
import Foundation

/// The embedded synthesizer: correlation rules over findings from every domain rank probable
/// causes with a confidence and the findings behind them, explain the chain, and say what was
/// ruled out and what could not be examined.
public struct RuleSynthesizer: Synthesizer {
    public init() {}

    public func synthesize(_ input: SynthesisInput) async throws -> DiagnosisReport {
        let problems = input.findings.filter { $0.severity != .ok && $0.severity != .info }
        var causes: [ProbableCause] = []
        var explained: Set<String> = []
        var nextSteps: [String] = []

        // 1. Known patterns, anchored on the finding that establishes them.
        for rule in CorrelationRules.all {
            // A finding already explained by a stronger pattern does not start another one.
            let anchors = problems.filter { rule.anchors.contains($0.code) && !explained.contains($0.id) }
            // One cause per anchor target (two saturated databases are two causes).
            for (target, group) in Dictionary(grouping: anchors, by: \.target).sorted(by: { $0.key < $1.key }) {
                guard let anchor = group.max(by: { $0.severity < $1.severity }) else { continue }
                if causes.contains(where: { $0.findingIDs.contains(anchor.id) && $0.title.contains(target) }) { continue }
                let supporting = problems.filter { !group.contains($0) && rule.supports($0) }
                let severityBonus = Double(anchor.severity.rank - 3) * 0.05
                let confidence = min(0.97, rule.baseConfidence + severityBonus + min(0.2, Double(supporting.count) * 0.05))
                let ids = group.map(\.id) + supporting.map(\.id)
                causes.append(ProbableCause(
                    title: rule.title(anchor, supporting),
                    confidence: (confidence * 100).rounded() / 100,
                    findingIDs: ids,
                    codes: Array(Set(([anchor.code] + group.map(\.code) + supporting.map(\.code)))).sorted { a, b in a == anchor.code || (b != anchor.code && a < b) },
                    explanation: rule.explanation(anchor, supporting),
                    firstSeen: Self.firstSeen(group + supporting)
                ))
                explained.formUnion(ids)
                for step in rule.nextSteps(anchor) where !nextSteps.contains(step) { nextSteps.append(step) }
            }
        }

        // 2. Everything else that is wrong, ranked by severity, below the correlated causes.
        let rest = problems.filter { !explained.contains($0.id) }
        for (_, group) in Dictionary(grouping: rest, by: { "\($0.code)|\($0.target)" }).sorted(by: { $0.key < $1.key }) {
            guard let worst = group.max(by: { $0.severity < $1.severity }) else { continue }
            let confidence = min(0.6, 0.1 + Double(worst.severity.rank) * 0.1 + Double(group.count - 1) * 0.02)
            causes.append(ProbableCause(
                title: group.count == 1 ? worst.title : "\(worst.title) (and \(group.count - 1) more)",
                confidence: (confidence * 100).rounded() / 100,
                findingIDs: group.map(\.id), codes: [worst.code], explanation: worst.detail,
                firstSeen: Self.firstSeen(group)
            ))
            if !worst.remediation.isEmpty, !nextSteps.contains(worst.remediation) { nextSteps.append(worst.remediation) }
        }
        causes.sort { ($0.confidence, $1.title) > ($1.confidence, $0.title) }

        let ruledOut = input.findings.filter { $0.severity == .ok }.map(\.title)
        var limitations: [String] = []
        for outcome in input.domains {
            switch outcome.outcome {
            case .failed: limitations.append("\(outcome.domain.rawValue) could not be examined (\(outcome.reason ?? "failed")): causes there are not ruled out.")
            case .skipped: limitations.append("\(outcome.domain.rawValue) was not examined (\(outcome.reason ?? "skipped")): causes there are not ruled out.")
            default:
                if let reason = outcome.reason { limitations.append("\(outcome.domain.rawValue): \(reason).") }
            }
        }

        var summary: String
        if let top = causes.first {
            summary = "Most likely: \(top.title) (confidence \(Int((top.confidence * 100).rounded()))%)"
            if let firstSeen = top.firstSeen { summary += ", first seen \(Self.clock(firstSeen))" }
            summary += ". \(problems.count) problem finding(s) in \(Set(problems.map(\.domain)).count) domain(s); \(ruledOut.count) check(s) came back healthy."
        } else if limitations.isEmpty {
            summary = "No problems found: \(ruledOut.count) check(s) came back healthy."
        } else {
            summary = "No problems found in what could be examined; \(limitations.count) domain(s) could not be examined, so the cause may be there."
        }
        if !limitations.isEmpty, !causes.isEmpty { summary += " Not examined: \(input.domains.filter { $0.outcome == .failed || $0.outcome == .skipped }.map(\.domain.rawValue).joined(separator: ", "))." }
        return DiagnosisReport(
            sessionID: input.sessionID, problem: input.problem, environment: input.environment, summary: summary,
            probableCauses: causes, nextSteps: nextSteps, ruledOut: ruledOut, limitations: limitations,
            domains: input.domains, findings: input.findings, synthesizer: "rules", timings: input.timings, generatedAt: Date()
        )
    }

    /// The earliest moment the evidence shows (log "first seen" columns), else when observed.
    static func firstSeen(_ findings: [Finding]) -> Date? {
        var dates: [Date] = []
        for finding in findings {
            for evidence in finding.evidence {
                guard let columns = evidence.columns, let index = columns.firstIndex(of: "first seen") else { continue }
                for row in evidence.rows ?? [] where index < row.count {
                    if let date = JSONCoding.parseDate(row[index]) { dates.append(date) }
                }
            }
        }
        return dates.min() ?? findings.map(\.observedAt).min()
    }

    static func clock(_ date: Date) -> String {
        let text = JSONCoding.format(date)
        // 2026-11-27T14:02:03.250Z → 14:02 UTC
        let time = text.split(separator: "T").last?.prefix(5) ?? ""
        return "\(time) UTC"
    }
}
