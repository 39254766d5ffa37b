import Foundation

/// Where a session is (docs/DESIGN.md §4).
public enum SessionStatus: String, Codable, Sendable, CaseIterable {
    case analyzing
    case awaitingApproval = "awaiting_approval"
    case diagnosing
    case synthesizing
    case completed
    case failed
    case cancelled
    case expired
    /// The daemon restarted while the session was running.
    case interrupted

    public var isTerminal: Bool {
        switch self {
        case .completed, .failed, .cancelled, .expired, .interrupted: true
        default: false
        }
    }
}

/// Finer-grained step within a status.
public enum SessionPhase: String, Codable, Sendable, CaseIterable {
    case planning
    case awaitingApproval = "awaiting_approval"
    case resolvingCredentials = "resolving_credentials"
    case runningDiagnostics = "running_diagnostics"
    case synthesizing
    case done
}

/// The request that starts a session (`POST /diagnose`).
public struct DiagnoseRequest: Codable, Sendable, Equatable {
    public var problem: String
    public var environment: String?
    public var context: [String: String]?

    public init(problem: String, environment: String? = nil, context: [String: String]? = nil) {
        self.problem = problem
        self.environment = environment
        self.context = context
    }
}

/// `202` answer to `POST /diagnose` (the seed's shape).
public struct DiagnoseAccepted: Codable, Sendable, Equatable {
    public var sessionID: String
    public var status: SessionStatus
    public var message: String

    public init(sessionID: String, status: SessionStatus, message: String) {
        self.sessionID = sessionID
        self.status = status
        self.message = message
    }

    enum CodingKeys: String, CodingKey {
        case sessionID = "session_id"
        case status, message
    }
}

/// How one domain is doing within a session.
public struct DomainState: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable {
        case pending, queued, running
        /// Finished; its findings say whether there are issues.
        case completed
        case failed
        /// Not examined (credential denied, expired or unresolvable).
        case skipped
        /// Still pending or running when the daemon stopped.
        case interrupted
    }

    public var domain: Domain
    public var state: State
    public var progress: Double
    public var findings: Int
    public var reason: String?
    public var queuePosition: Int?

    public init(domain: Domain, state: State = .pending, progress: Double = 0, findings: Int = 0, reason: String? = nil, queuePosition: Int? = nil) {
        self.domain = domain
        self.state = state
        self.progress = progress
        self.findings = findings
        self.reason = reason
        self.queuePosition = queuePosition
    }

    enum CodingKeys: String, CodingKey {
        case domain, state, progress, findings, reason
        case queuePosition = "queue_position"
    }
}

/// The stored row of a session: its request and latest state. Everything else is in its
/// event log.
public struct SessionRecord: Codable, Sendable, Equatable {
    public var id: String
    public var problem: String
    public var environment: String
    public var context: [String: String]
    public var status: SessionStatus
    public var phase: SessionPhase
    public var progress: Double
    public var domains: [DomainState]
    public var requester: String
    public var createdAt: Date
    public var updatedAt: Date
    /// Last event sequence number.
    public var lastSequence: Int

    public init(
        id: String, problem: String, environment: String, context: [String: String], status: SessionStatus = .analyzing,
        phase: SessionPhase = .planning, progress: Double = 0, domains: [DomainState] = [], requester: String,
        createdAt: Date, updatedAt: Date, lastSequence: Int = 0
    ) {
        self.id = id
        self.problem = problem
        self.environment = environment
        self.context = context
        self.status = status
        self.phase = phase
        self.progress = progress
        self.domains = domains
        self.requester = requester
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.lastSequence = lastSequence
    }

    enum CodingKeys: String, CodingKey {
        case id = "session_id"
        case problem, environment, context, status, phase, progress, domains, requester
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case lastSequence = "last_sequence"
    }
}

/// `GET /status/{id}`: the seed's fields plus phase, domains and timestamps.
public struct SessionStatusView: Codable, Sendable, Equatable {
    public var sessionID: String
    public var status: SessionStatus
    public var phase: SessionPhase
    public var progress: Double
    public var problem: String
    public var environment: String
    public var context: [String: String]
    public var findings: [Finding]
    public var pendingApproval: ApprovalRequest?
    public var domains: [DomainState]
    public var plan: DiagnosisPlan?
    public var reportAvailable: Bool
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        record: SessionRecord, findings: [Finding], pendingApproval: ApprovalRequest?, plan: DiagnosisPlan?, reportAvailable: Bool
    ) {
        sessionID = record.id
        status = record.status
        phase = record.phase
        progress = record.progress
        problem = record.problem
        environment = record.environment
        context = record.context
        self.findings = findings
        self.pendingApproval = pendingApproval
        domains = record.domains
        self.plan = plan
        self.reportAvailable = reportAvailable
        createdAt = record.createdAt
        updatedAt = record.updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case sessionID = "session_id"
        case status, phase, progress, problem, environment, context, findings, domains, plan
        case pendingApproval = "pending_approval"
        case reportAvailable = "report_available"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }
}

/// One line of `GET /sessions`.
public struct SessionSummary: Codable, Sendable, Equatable {
    public var sessionID: String
    public var status: SessionStatus
    public var phase: SessionPhase
    public var progress: Double
    public var problem: String
    public var environment: String
    public var createdAt: Date
    public var updatedAt: Date
    /// Who asked (`alertmanager:<receiver>` for a session an alert started).
    public var requester: String?

    public init(_ record: SessionRecord) {
        requester = record.requester
        sessionID = record.id
        status = record.status
        phase = record.phase
        progress = record.progress
        problem = record.problem
        environment = record.environment
        createdAt = record.createdAt
        updatedAt = record.updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case sessionID = "session_id"
        case status, phase, progress, problem, environment, requester
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }
}

/// `GET /sessions` page.
public struct SessionList: Codable, Sendable, Equatable {
    public var sessions: [SessionSummary]
    /// Pass as `cursor` for the next page; nil on the last page.
    public var nextCursor: String?

    public init(sessions: [SessionSummary], nextCursor: String?) {
        self.sessions = sessions
        self.nextCursor = nextCursor
    }

    enum CodingKeys: String, CodingKey {
        case sessions
        case nextCursor = "next_cursor"
    }
}
