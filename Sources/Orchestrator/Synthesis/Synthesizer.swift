import DiagnosisModel
import Foundation

/// What the synthesizer gets: redacted findings and how each domain went.
public struct SynthesisInput: Sendable {
    public var sessionID: String
    public var problem: String
    public var environment: String
    /// What the user said besides the problem (`service`, `namespace`, …): ranking listens to it.
    public var context: [String: String]
    public var findings: [Finding]
    public var domains: [DomainOutcome]
    public var timings: DiagnosisReport.Timings

    public init(
        sessionID: String, problem: String, environment: String, context: [String: String] = [:], findings: [Finding], domains: [DomainOutcome],
        timings: DiagnosisReport.Timings
    ) {
        self.sessionID = sessionID
        self.problem = problem
        self.environment = environment
        self.context = context
        self.findings = findings
        self.domains = domains
        self.timings = timings
    }
}

/// Turns findings into a report with ranked probable causes (docs/DESIGN.md §7).
public protocol Synthesizer: Sendable {
    func synthesize(_ input: SynthesisInput) async throws -> DiagnosisReport
}
