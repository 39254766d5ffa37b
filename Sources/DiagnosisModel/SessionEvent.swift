import Foundation

/// One entry of a session's event log. `GET /status`, the SSE stream and the report are views
/// of this log; each event is persisted before anyone sees it.
public struct SessionEvent: Codable, Sendable, Equatable {
    public var sessionID: String
    /// Per-session, gapless, starting at 1.
    public var sequence: Int
    public var at: Date
    public var body: Body

    public init(sessionID: String, sequence: Int, at: Date, body: Body) {
        self.sessionID = sessionID
        self.sequence = sequence
        self.at = at
        self.body = body
    }

    /// The event's `type` (also the SSE `event:` name).
    public var type: String { body.type }

    public struct Created: Codable, Sendable, Equatable {
        public var problem: String
        public var environment: String
        public var context: [String: String]
        public var requester: String
        /// Standing approvals (by name) the session may use unattended: an alert route's. Kept
        /// in the log so a daemon that takes the session over grants no more and no less.
        public var standingApprovals: [String]?
        public init(problem: String, environment: String, context: [String: String], requester: String, standingApprovals: [String]? = nil) {
            self.problem = problem
            self.environment = environment
            self.context = context
            self.requester = requester
            self.standingApprovals = standingApprovals
        }

        enum CodingKeys: String, CodingKey {
            case problem, environment, context, requester
            case standingApprovals = "standing_approvals"
        }
    }

    public struct StatusChange: Codable, Sendable, Equatable {
        public var status: SessionStatus
        public var phase: SessionPhase
        public var progress: Double
        public var message: String?
        public init(status: SessionStatus, phase: SessionPhase, progress: Double, message: String? = nil) {
            self.status = status
            self.phase = phase
            self.progress = progress
            self.message = message
        }
    }

    public struct Credential: Codable, Sendable, Equatable {
        public var reference: String
        public var provider: String
        public var error: String?
        public init(reference: String, provider: String, error: String? = nil) {
            self.reference = reference
            self.provider = provider
            self.error = error
        }
    }

    public struct DomainUpdate: Codable, Sendable, Equatable {
        public var domain: Domain
        public var state: DomainState.State
        public var progress: Double?
        public var queuePosition: Int?
        public var runnerID: String?
        public var pid: Int32?
        public var reason: String?
        public var probes: [ProbeOutcome]?
        public init(domain: Domain, state: DomainState.State, progress: Double? = nil, queuePosition: Int? = nil, runnerID: String? = nil, pid: Int32? = nil, reason: String? = nil, probes: [ProbeOutcome]? = nil) {
            self.domain = domain
            self.state = state
            self.progress = progress
            self.queuePosition = queuePosition
            self.runnerID = runnerID
            self.pid = pid
            self.reason = reason
            self.probes = probes
        }

        enum CodingKeys: String, CodingKey {
            case domain, state, progress, reason, probes, pid
            case queuePosition = "queue_position"
            case runnerID = "runner_id"
        }
    }

    public struct ProbeProgress: Codable, Sendable, Equatable {
        public var domain: Domain
        public var probe: String
        public var state: String
        public var fraction: Double
        public init(domain: Domain, probe: String, state: String, fraction: Double) {
            self.domain = domain
            self.probe = probe
            self.state = state
            self.fraction = fraction
        }
    }

    public struct RunnerLog: Codable, Sendable, Equatable {
        public var domain: Domain
        public var level: String
        public var message: String
        public init(domain: Domain, level: String, message: String) {
            self.domain = domain
            self.level = level
            self.message = message
        }
    }

    public struct Notice: Codable, Sendable, Equatable {
        public var message: String
        public init(message: String) { self.message = message }
    }

    public enum Body: Sendable, Equatable {
        case created(Created)
        case status(StatusChange)
        case plan(DiagnosisPlan)
        case approvalRequested(ApprovalRequest)
        case approvalDecided(ApprovalDecision)
        case credentialResolved(Credential)
        case credentialFailed(Credential)
        case domain(DomainUpdate)
        case probeProgress(ProbeProgress)
        case finding(Finding)
        case runnerLog(RunnerLog)
        case notice(Notice)
        case alerts(AlertsUpdate)
        case report(DiagnosisReport)

        public var type: String {
            switch self {
            case .created: "session_created"
            case .status: "status"
            case .plan: "plan"
            case .approvalRequested: "approval_requested"
            case .approvalDecided: "approval_decided"
            case .credentialResolved: "credential_resolved"
            case .credentialFailed: "credential_failed"
            case .domain: "domain"
            case .probeProgress: "probe_progress"
            case .finding: "finding"
            case .runnerLog: "runner_log"
            case .notice: "notice"
            case .alerts: "alerts"
            case .report: "report"
            }
        }
    }

    enum CodingKeys: String, CodingKey {
        case sessionID = "session_id"
        case sequence = "seq"
        case at, type, data
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        sessionID = try container.decode(String.self, forKey: .sessionID)
        sequence = try container.decode(Int.self, forKey: .sequence)
        at = try container.decode(Date.self, forKey: .at)
        let type = try container.decode(String.self, forKey: .type)
        switch type {
        case "session_created": body = .created(try container.decode(Created.self, forKey: .data))
        case "status": body = .status(try container.decode(StatusChange.self, forKey: .data))
        case "plan": body = .plan(try container.decode(DiagnosisPlan.self, forKey: .data))
        case "approval_requested": body = .approvalRequested(try container.decode(ApprovalRequest.self, forKey: .data))
        case "approval_decided": body = .approvalDecided(try container.decode(ApprovalDecision.self, forKey: .data))
        case "credential_resolved": body = .credentialResolved(try container.decode(Credential.self, forKey: .data))
        case "credential_failed": body = .credentialFailed(try container.decode(Credential.self, forKey: .data))
        case "domain": body = .domain(try container.decode(DomainUpdate.self, forKey: .data))
        case "probe_progress": body = .probeProgress(try container.decode(ProbeProgress.self, forKey: .data))
        case "finding": body = .finding(try container.decode(Finding.self, forKey: .data))
        case "runner_log": body = .runnerLog(try container.decode(RunnerLog.self, forKey: .data))
        case "notice": body = .notice(try container.decode(Notice.self, forKey: .data))
        case "alerts": body = .alerts(try container.decode(AlertsUpdate.self, forKey: .data))
        case "report": body = .report(try container.decode(DiagnosisReport.self, forKey: .data))
        default:
            throw DecodingError.dataCorruptedError(forKey: .type, in: container, debugDescription: "unknown event type \(type)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(sessionID, forKey: .sessionID)
        try container.encode(sequence, forKey: .sequence)
        try container.encode(at, forKey: .at)
        try container.encode(type, forKey: .type)
        switch body {
        case .created(let value): try container.encode(value, forKey: .data)
        case .status(let value): try container.encode(value, forKey: .data)
        case .plan(let value): try container.encode(value, forKey: .data)
        case .approvalRequested(let value): try container.encode(value, forKey: .data)
        case .approvalDecided(let value): try container.encode(value, forKey: .data)
        case .credentialResolved(let value): try container.encode(value, forKey: .data)
        case .credentialFailed(let value): try container.encode(value, forKey: .data)
        case .domain(let value): try container.encode(value, forKey: .data)
        case .probeProgress(let value): try container.encode(value, forKey: .data)
        case .finding(let value): try container.encode(value, forKey: .data)
        case .runnerLog(let value): try container.encode(value, forKey: .data)
        case .notice(let value): try container.encode(value, forKey: .data)
        case .alerts(let value): try container.encode(value, forKey: .data)
        case .report(let value): try container.encode(value, forKey: .data)
        }
    }

    /// Whether the event ends the session (the SSE stream closes after it).
    public var isTerminal: Bool {
        if case .status(let change) = body { return change.status.isTerminal }
        return false
    }
}
