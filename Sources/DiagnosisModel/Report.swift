import Foundation

/// A probable cause, ranked by confidence.
public struct ProbableCause: Codable, Sendable, Equatable {
    public var title: String
    /// 0…1.
    public var confidence: Double
    /// Finding ids that support it.
    public var findingIDs: [String]
    /// Finding codes behind it (stable, for scripts and tests).
    public var codes: [String]
    public var explanation: String
    public var firstSeen: Date?
    /// Why it ranks where it does (for the first cause: why first; for the second: why not).
    public var reasons: [String]

    public init(title: String, confidence: Double, findingIDs: [String], codes: [String], explanation: String, firstSeen: Date? = nil, reasons: [String] = []) {
        self.title = title
        self.confidence = confidence
        self.findingIDs = findingIDs
        self.codes = codes
        self.explanation = explanation
        self.firstSeen = firstSeen
        self.reasons = reasons
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        title = try container.decode(String.self, forKey: .title)
        confidence = try container.decode(Double.self, forKey: .confidence)
        findingIDs = try container.decode([String].self, forKey: .findingIDs)
        codes = try container.decode([String].self, forKey: .codes)
        explanation = try container.decode(String.self, forKey: .explanation)
        firstSeen = try container.decodeIfPresent(Date.self, forKey: .firstSeen)
        // Reports stored before the ranking explained itself have none.
        reasons = try container.decodeIfPresent([String].self, forKey: .reasons) ?? []
    }

    enum CodingKeys: String, CodingKey {
        case title, confidence, codes, explanation, reasons
        case findingIDs = "finding_ids"
        case firstSeen = "first_seen"
    }
}

/// What happened in one domain.
public struct DomainOutcome: Codable, Sendable, Equatable {
    public enum Outcome: String, Codable, Sendable { case ok, issues, failed, skipped }
    public var domain: Domain
    public var outcome: Outcome
    public var reason: String?
    public var findings: Int
    public var durationMs: Double?
    public var probes: [ProbeOutcome]

    public init(domain: Domain, outcome: Outcome, reason: String? = nil, findings: Int = 0, durationMs: Double? = nil, probes: [ProbeOutcome] = []) {
        self.domain = domain
        self.outcome = outcome
        self.reason = reason
        self.findings = findings
        self.durationMs = durationMs
        self.probes = probes
    }

    enum CodingKeys: String, CodingKey {
        case domain, outcome, reason, findings, probes
        case durationMs = "duration_ms"
    }
}

/// The final report (docs/DESIGN.md §5).
public struct DiagnosisReport: Codable, Sendable, Equatable {
    public var sessionID: String
    public var problem: String
    public var environment: String
    public var summary: String
    public var probableCauses: [ProbableCause]
    public var nextSteps: [String]
    /// Checks that came back healthy (what was ruled out).
    public var ruledOut: [String]
    /// Domains that could not be examined, and how that limits the conclusion.
    public var limitations: [String]
    public var domains: [DomainOutcome]
    public var findings: [Finding]
    /// `rules` or `llm`.
    public var synthesizer: String
    public var timings: Timings
    public var generatedAt: Date

    public struct Timings: Codable, Sendable, Equatable {
        public var totalMs: Double
        public var planningMs: Double
        public var approvalWaitMs: Double
        public var diagnosticsMs: Double
        public var synthesisMs: Double

        public init(totalMs: Double = 0, planningMs: Double = 0, approvalWaitMs: Double = 0, diagnosticsMs: Double = 0, synthesisMs: Double = 0) {
            self.totalMs = totalMs
            self.planningMs = planningMs
            self.approvalWaitMs = approvalWaitMs
            self.diagnosticsMs = diagnosticsMs
            self.synthesisMs = synthesisMs
        }

        enum CodingKeys: String, CodingKey {
            case totalMs = "total_ms"
            case planningMs = "planning_ms"
            case approvalWaitMs = "approval_wait_ms"
            case diagnosticsMs = "diagnostics_ms"
            case synthesisMs = "synthesis_ms"
        }
    }

    public init(
        sessionID: String, problem: String, environment: String, summary: String, probableCauses: [ProbableCause],
        nextSteps: [String], ruledOut: [String], limitations: [String], domains: [DomainOutcome], findings: [Finding],
        synthesizer: String, timings: Timings, generatedAt: Date
    ) {
        self.sessionID = sessionID
        self.problem = problem
        self.environment = environment
        self.summary = summary
        self.probableCauses = probableCauses
        self.nextSteps = nextSteps
        self.ruledOut = ruledOut
        self.limitations = limitations
        self.domains = domains
        self.findings = findings
        self.synthesizer = synthesizer
        self.timings = timings
        self.generatedAt = generatedAt
    }

    enum CodingKeys: String, CodingKey {
        case sessionID = "session_id"
        case problem, environment, summary, findings, domains, synthesizer, timings, limitations
        case probableCauses = "probable_causes"
        case nextSteps = "next_steps"
        case ruledOut = "ruled_out"
        case generatedAt = "generated_at"
    }
}
