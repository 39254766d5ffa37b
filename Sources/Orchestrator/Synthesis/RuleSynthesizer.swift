import DiagnosisModel
import Foundation

/// The embedded synthesizer: ranks problems found by severity and explains what was ruled out
/// and what could not be examined.
public struct RuleSynthesizer: Synthesizer {
    public init() {}

    public func synthesize(_ input: SynthesisInput) async throws -> DiagnosisReport {
        let problems = input.findings.filter { $0.severity != .ok && $0.severity != .info }
        let byCode = Dictionary(grouping: problems, by: \.code)
        var causes = byCode.values.map { group -> ProbableCause in
            let worst = group.max { $0.severity < $1.severity } ?? group[0]
            let confidence = min(0.95, 0.2 + Double(worst.severity.rank) * 0.15 + Double(group.count - 1) * 0.05)
            return ProbableCause(
                title: group.count == 1 ? worst.title : "\(worst.title) (and \(group.count - 1) more)",
                confidence: (confidence * 100).rounded() / 100,
                findingIDs: group.map(\.id),
                codes: [worst.code],
                explanation: worst.detail,
                firstSeen: group.map(\.observedAt).min()
            )
        }
        causes.sort { ($0.confidence, $1.title) > ($1.confidence, $0.title) }

        let ruledOut = input.findings.filter { $0.severity == .ok }.map(\.title)
        let limitations = input.domains.compactMap { outcome -> String? in
            switch outcome.outcome {
            case .failed: "\(outcome.domain.rawValue) could not be examined: \(outcome.reason ?? "failed"); causes there are not ruled out."
            case .skipped: "\(outcome.domain.rawValue) was not examined: \(outcome.reason ?? "skipped"); causes there are not ruled out."
            default: nil
            }
        }
        var nextSteps: [String] = []
        for cause in causes {
            for id in cause.findingIDs {
                if let remediation = input.findings.first(where: { $0.id == id })?.remediation, !remediation.isEmpty, !nextSteps.contains(remediation) {
                    nextSteps.append(remediation)
                }
            }
        }
        let summary: String
        if let top = causes.first {
            summary = "Most likely: \(top.title) (confidence \(Int(top.confidence * 100))%). \(problems.count) problem finding(s) in \(Set(problems.map(\.domain)).count) domain(s); \(ruledOut.count) check(s) healthy."
        } else if limitations.isEmpty {
            summary = "No problems found: \(ruledOut.count) check(s) healthy."
        } else {
            summary = "No problems found in the domains that could be examined; \(limitations.count) domain(s) could not be examined."
        }
        return DiagnosisReport(
            sessionID: input.sessionID, problem: input.problem, environment: input.environment, summary: summary,
            probableCauses: causes, nextSteps: nextSteps, ruledOut: ruledOut, limitations: limitations,
            domains: input.domains, findings: input.findings, synthesizer: "rules", timings: input.timings, generatedAt: Date()
        )
    }
}
