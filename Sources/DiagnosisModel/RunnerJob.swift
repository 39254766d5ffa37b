import Foundation

/// A resolved secret as the runner receives it: field label (lower case) → value. A field-level
/// reference has the key `value`; an item-level one has every field of the item.
///
/// This type exists only in the daemon's memory between resolution and the `job` frame, and in
/// the runner's memory. It never reaches storage, logs, or API answers.
public struct ResolvedCredential: Codable, Sendable, Equatable {
    public var reference: String
    public var fields: [String: String]

    public init(reference: String, fields: [String: String]) {
        self.reference = reference
        self.fields = fields
    }

    /// First present field among `names` (case-insensitive), e.g. `["password", "value"]`.
    public func field(_ names: String...) -> String? {
        for name in names {
            if let value = fields[name.lowercased()], !value.isEmpty { return value }
        }
        return nil
    }

    /// The values, for building a redactor.
    public var secretValues: [String] { Array(fields.values) }
}

/// What one runner is asked to do.
public struct RunnerJob: Codable, Sendable, Equatable {
    public var sessionID: String
    public var domain: Domain
    public var probes: [ProbeRequest]
    /// Reference → resolved value, only for references the human approved.
    public var credentials: [String: ResolvedCredential]
    /// Wall-clock deadline for the whole job.
    public var deadline: Date

    public init(sessionID: String, domain: Domain, probes: [ProbeRequest], credentials: [String: ResolvedCredential] = [:], deadline: Date) {
        self.sessionID = sessionID
        self.domain = domain
        self.probes = probes
        self.credentials = credentials
        self.deadline = deadline
    }

    enum CodingKeys: String, CodingKey {
        case sessionID = "session_id"
        case domain, probes, credentials, deadline
    }
}

/// How one probe ended.
public struct ProbeOutcome: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable { case ok, failed, timedOut = "timed_out", cancelled, skipped }
    public var id: String
    public var probe: String
    public var status: Status
    public var durationMs: Double
    /// Redacted reason when not ok.
    public var error: String?
    public var findings: Int

    public init(id: String, probe: String, status: Status, durationMs: Double, error: String? = nil, findings: Int = 0) {
        self.id = id
        self.probe = probe
        self.status = status
        self.durationMs = durationMs
        self.error = error
        self.findings = findings
    }

    enum CodingKeys: String, CodingKey {
        case id, probe, status, error, findings
        case durationMs = "duration_ms"
    }
}
