import DiagnosisModel
import Foundation

/// The embedded synthesizer: ranks probable causes by evidence (``CausalRanker``), tells each
/// one's story (``CorrelationRules``), explains why the first is first and the second is not,
/// and says what was ruled out and what could not be examined.
public struct RuleSynthesizer: Synthesizer {
    public init() {}

    public func synthesize(_ input: SynthesisInput) async throws -> DiagnosisReport {
        let ranked = CausalRanker().rank(input.findings, problem: input.problem, context: input.context)
        var causes: [ProbableCause] = []
        var nextSteps: [String] = []
        var ceiling = 0.97
        for (index, candidate) in ranked.enumerated() {
            let narrative = Self.narrative(candidate)
            // Confidence never rises down the list.
            ceiling = min(ceiling, Self.confidence(candidate))
            causes.append(ProbableCause(
                title: narrative.title, confidence: (ceiling * 100).rounded() / 100,
                findingIDs: candidate.findings.map(\.id), codes: Self.codes(candidate), explanation: narrative.explanation,
                firstSeen: candidate.firstSeen,
                reasons: index == 0 ? RankingReasons.first(candidate, runnerUp: ranked.dropFirst().first) : index == 1 ? RankingReasons.second(candidate, first: ranked[0]) : []
            ))
            for step in narrative.steps where !nextSteps.contains(step) { nextSteps.append(step) }
        }

        let ruledOut = input.findings.filter { $0.severity == .ok && CausalRanker.role(of: $0) != .meta }.map(\.title)
        let limitations = Self.limitations(input)
        let problems = input.findings.filter { $0.severity != .ok && $0.severity != .info }
        var summary: String
        if let top = causes.first {
            summary = "Most likely: \(top.title) (confidence \(Int((top.confidence * 100).rounded()))%)"
            if let firstSeen = top.firstSeen { summary += ", first seen \(Self.clock(firstSeen))" }
            summary += ". \(problems.count) problem finding(s) in \(Set(problems.map(\.domain)).count) domain(s); \(ruledOut.count) check(s) came back healthy."
        } else if limitations.isEmpty {
            summary = "No problems found: \(ruledOut.count) check(s) came back healthy."
        } else {
            summary = "No problems found in what could be examined; \(limitations.count) check(s) or domain(s) could not be examined, so the cause may be there."
        }
        let unexamined = input.domains.filter { $0.outcome == .failed || $0.outcome == .skipped }
        if !unexamined.isEmpty, !causes.isEmpty { summary += " Not examined: \(unexamined.map(\.domain.rawValue).joined(separator: ", "))." }
        return DiagnosisReport(
            sessionID: input.sessionID, problem: input.problem, environment: input.environment, summary: summary,
            probableCauses: causes, nextSteps: nextSteps, ruledOut: ruledOut, limitations: limitations,
            domains: input.domains, findings: input.findings, synthesizer: "rules", timings: input.timings, generatedAt: Date()
        )
    }

    /// Domains that failed or were skipped, and checks that read nothing: not ruled out.
    static func limitations(_ input: SynthesisInput) -> [String] {
        var limitations: [String] = []
        for outcome in input.domains {
            switch outcome.outcome {
            case .failed: limitations.append("\(outcome.domain.rawValue) could not be examined (\(outcome.reason ?? "failed")): causes there are not ruled out.")
            case .skipped: limitations.append("\(outcome.domain.rawValue) was not examined (\(outcome.reason ?? "skipped")): causes there are not ruled out.")
            default:
                if let reason = outcome.reason { limitations.append("\(outcome.domain.rawValue): \(reason).") }
                // A probe that could not look (no log file matches, a tool missing) examined
                // nothing: say so rather than let its domain read as healthy.
                for probe in outcome.probes where probe.status == .failed || probe.status == .timedOut {
                    limitations.append("\(probe.id) could not be examined (\(probe.error ?? probe.status.rawValue)): not ruled out.")
                }
            }
        }
        for finding in input.findings where finding.code == FindingCode.logsNoData.rawValue {
            limitations.append("\(finding.title): not examined, so not ruled out.")
        }
        return limitations
    }

    static func narrative(_ candidate: CausalRanker.Candidate) -> (title: String, explanation: String, steps: [String]) {
        let anchor = candidate.anchor
        let explained = candidate.explained.map(\.finding)
        if let rule = CorrelationRule.narrative(for: anchor.code) {
            return (rule.title(anchor, explained), rule.explanation(anchor, explained) + timeline(candidate), rule.nextSteps(anchor))
        }
        let title = candidate.group.count == 1 ? anchor.title : "\(anchor.title) (and \(candidate.group.count - 1) more)"
        var explanation = anchor.detail
        if !explained.isEmpty { explanation += (explanation.isEmpty ? "" : " ") + "It explains what the clients see — \(CorrelationRules.describe(explained))." }
        return (title, explanation + timeline(candidate), anchor.remediation.isEmpty ? [] : [anchor.remediation])
    }

    /// When it started, as the metrics and alerts date it: "Timeline: 14:02 UTC error ratio of
    /// checkout rose…; 14:04 UTC alert … firing." Probes see the present; these see the onset.
    static func timeline(_ candidate: CausalRanker.Candidate) -> String {
        let dated = candidate.findings.filter { $0.firstSeen != nil && $0.domain == .metrics }
            .sorted { ($0.firstSeen ?? .distantPast) < ($1.firstSeen ?? .distantPast) }
        guard !dated.isEmpty else { return "" }
        let events = dated.prefix(4).map { finding in "\(finding.firstSeen.map(clock) ?? "") \(finding.title)" }
        return " Timeline: " + events.joined(separator: "; ") + "."
    }

    /// The anchor's code first, then the codes it explains.
    static func codes(_ candidate: CausalRanker.Candidate) -> [String] {
        let others = Set(candidate.findings.map(\.code)).subtracting([candidate.anchor.code]).sorted()
        return [candidate.anchor.code] + others
    }

    static func confidence(_ candidate: CausalRanker.Candidate) -> Double {
        let severity = Double(candidate.anchor.severity.rank)
        guard candidate.role == .cause else { return min(0.5, 0.15 + 0.07 * severity) }
        return min(0.97, 0.45 + 0.07 * severity + 0.06 * Double(min(candidate.strongLinks, 4)) + 0.02 * Double(min(candidate.weakLinks, 4))
            + 0.04 * Double(min(candidate.userMatch.count, 2)))
    }

    /// 2026-11-27T14:02:03.250Z → 14:02 UTC.
    static func clock(_ date: Date) -> String {
        let text = JSONCoding.format(date)
        let time = text.split(separator: "T").last?.prefix(5) ?? ""
        return "\(time) UTC"
    }
}

/// One line per reason the first cause ranks first, and why the second does not.
enum RankingReasons {
    static func first(_ top: CausalRanker.Candidate, runnerUp: CausalRanker.Candidate?) -> [String] {
        var reasons: [String] = []
        let probe = top.anchor.probe
        reasons.append(top.role == .cause
            ? "Observed directly: \(probe) found \(top.anchor.target) itself broken (\(top.anchor.severity.rawValue))."
            : "Nothing broken was found directly; this is the strongest symptom (\(top.anchor.severity.rawValue), reported by \(probe)).")
        if !top.explained.isEmpty {
            let named = top.explained.filter { $0.link == .names }.count
            reasons.append("Explains \(top.explained.count) other finding(s)\(named > 0 ? ", \(named) of them naming \(top.anchor.target)" : ""): \(CorrelationRules.describe(top.explained.map(\.finding))).")
        }
        if let firstSeen = top.firstSeen {
            reasons.append("First seen \(RuleSynthesizer.clock(firstSeen))\(top.precedesSymptoms ? ", before the symptoms it explains" : "").")
        }
        for match in top.userMatch { reasons.append("Matches what was reported: \(match).") }
        return reasons
    }

    static func second(_ second: CausalRanker.Candidate, first: CausalRanker.Candidate) -> [String] {
        var why: [String] = []
        if second.role != .cause && first.role == .cause {
            why.append("it is a symptom (what a client, a log or a check reports), not a component found broken")
        }
        if second.userMatch.count < first.userMatch.count { why.append("it does not match what was reported as well") }
        if second.anchor.severity < first.anchor.severity { why.append("it is less severe (\(second.anchor.severity.rawValue) against \(first.anchor.severity.rawValue))") }
        if second.explained.count < first.explained.count { why.append("it explains fewer findings (\(second.explained.count) against \(first.explained.count))") }
        if why.isEmpty { why.append("the evidence for it is weaker on the same criteria") }
        return ["Ranked below the first because " + why.joined(separator: "; ") + "."]
    }
}
