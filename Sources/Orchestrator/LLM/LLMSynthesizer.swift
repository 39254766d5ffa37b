import DiagnosisModel
import Foundation

/// Synthesizes with an LLM from redacted findings only, starting from the rule-based draft; the
/// answer must cite real finding ids, or the rules' report stands.
public struct LLMSynthesizer: Synthesizer {
    let client: ChatCompletionsClient
    let rules = RuleSynthesizer()

    public init(client: ChatCompletionsClient) {
        self.client = client
    }

    public func synthesize(_ input: SynthesisInput) async throws -> DiagnosisReport {
        let draft = try await rules.synthesize(input)
        let findings: [[String: Any]] = input.findings.map { finding in
            [
                "id": finding.id, "domain": finding.domain.rawValue, "code": finding.code, "severity": finding.severity.rawValue,
                "target": finding.target, "title": finding.title, "detail": String(finding.detail.prefix(500)), "tags": finding.tags,
                "evidence": finding.evidence.prefix(3).map { evidence in
                    evidence.text.map { "\(evidence.label): \($0.prefix(300))" }
                        ?? "\(evidence.label): \((evidence.rows ?? []).prefix(5).map { $0.joined(separator: " | ") }.joined(separator: "; "))"
                },
            ]
        }
        let outcomes = input.domains.map { ["domain": $0.domain.rawValue, "outcome": $0.outcome.rawValue, "reason": $0.reason ?? ""] }
        let draftCauses = draft.probableCauses.prefix(5).map { ["title": $0.title, "confidence": $0.confidence, "finding_ids": $0.findingIDs] as [String: Any] }
        let payload = try JSONSerialization.data(withJSONObject: ["problem": input.problem, "findings": findings, "domains": outcomes, "rule_based_causes": draftCauses], options: [.sortedKeys])
        let reply = try await client.complete(messages: [
            ["role": "system", "content": "You are an SRE writing the conclusion of an incident diagnosis. Rank the probable causes, each with a confidence between 0 and 1, the ids of the findings that support it, and an explanation of the causal chain across domains. Say what the next steps are as concrete commands or actions. The rule-based ranking is given: keep its order unless the evidence says otherwise, and then say why in reorder_reason. Answer with a JSON object: {\"summary\": string, \"probable_causes\": [{\"title\": string, \"confidence\": number, \"finding_ids\": [string], \"explanation\": string}], \"next_steps\": [string], \"reorder_reason\": string (only when your order differs)}."],
            ["role": "user", "content": String(decoding: payload, as: UTF8.self)],
        ], jsonObject: true)
        guard let text = reply.content, let data = text.data(using: .utf8),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ChatCompletionsClient.Failure("the answer is not a JSON object")
        }
        let known = Dictionary(uniqueKeysWithValues: input.findings.map { ($0.id, $0) })
        var causes: [ProbableCause] = []
        for item in object["probable_causes"] as? [[String: Any]] ?? [] {
            guard let title = item["title"] as? String, let confidence = (item["confidence"] as? NSNumber)?.doubleValue, (0...1).contains(confidence) else {
                throw ChatCompletionsClient.Failure("a cause lacks a title or a confidence in 0…1")
            }
            let ids = item["finding_ids"] as? [String] ?? []
            guard !ids.isEmpty, ids.allSatisfy({ known[$0] != nil }) else {
                throw ChatCompletionsClient.Failure("cause \"\(title)\" cites unknown findings")
            }
            let cited = ids.compactMap { known[$0] }
            causes.append(ProbableCause(
                title: title, confidence: (confidence * 100).rounded() / 100, findingIDs: ids,
                codes: Array(Set(cited.map(\.code))).sorted(), explanation: item["explanation"] as? String ?? "",
                firstSeen: CausalRanker.firstSeen(cited)
            ))
        }
        if causes.isEmpty, !draft.probableCauses.isEmpty { throw ChatCompletionsClient.Failure("the model named no cause") }
        var report = draft
        report.probableCauses = Self.ordered(causes, draft: draft.probableCauses, reorderReason: object["reorder_reason"] as? String)
        if let summary = object["summary"] as? String, !summary.isEmpty { report.summary = summary }
        if let steps = object["next_steps"] as? [String], !steps.isEmpty { report.nextSteps = steps }
        report.synthesizer = "llm"
        return report
    }

    /// The model may reword causes but keeps the rules' order unless it says why: each cause
    /// takes the rank of the rule-based cause it shares most findings with.
    static func ordered(_ causes: [ProbableCause], draft: [ProbableCause], reorderReason: String?) -> [ProbableCause] {
        func draftRank(_ cause: ProbableCause) -> Int {
            let ids = Set(cause.findingIDs)
            let overlaps = draft.enumerated().map { ($0.offset, ids.intersection($0.element.findingIDs).count) }
            return overlaps.filter { $0.1 > 0 }.max { ($0.1, -$0.0) < ($1.1, -$1.0) }?.0 ?? draft.count
        }
        let byRules = causes.enumerated().sorted { (draftRank($0.element), $0.offset) < (draftRank($1.element), $1.offset) }.map(\.element)
        guard let reason = reorderReason?.trimmingCharacters(in: .whitespacesAndNewlines), !reason.isEmpty,
              let modelTop = causes.first, modelTop != byRules.first else { return byRules }
        var reordered = causes
        reordered[0].reasons = ["Ranked first by the model rather than the rules (\(draft.first?.title ?? "none")): \(reason.prefix(500))"] + reordered[0].reasons
        return reordered
    }
}
