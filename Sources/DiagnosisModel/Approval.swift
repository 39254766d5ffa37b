import Foundation

/// One credential reference a human is asked to approve.
public struct ApprovalItem: Codable, Sendable, Equatable {
    public var reference: String
    public var domain: Domain
    public var probes: [String]
    public var purpose: String

    public init(reference: String, domain: Domain, probes: [String], purpose: String) {
        self.reference = reference
        self.domain = domain
        self.probes = probes
        self.purpose = purpose
    }
}

/// A pending request to approve credential references (docs/DESIGN.md §6).
public struct ApprovalRequest: Codable, Sendable, Equatable {
    /// Decisions must name this id; a stale or replayed one is refused (409).
    public var requestID: String
    public var items: [ApprovalItem]
    public var requestedAt: Date
    public var expiresAt: Date
    /// Who asked (the requester identity), who may therefore not approve.
    public var requester: String

    public init(requestID: String, items: [ApprovalItem], requestedAt: Date, expiresAt: Date, requester: String) {
        self.requestID = requestID
        self.items = items
        self.requestedAt = requestedAt
        self.expiresAt = expiresAt
        self.requester = requester
    }

    enum CodingKeys: String, CodingKey {
        case requestID = "request_id"
        case items
        case requestedAt = "requested_at"
        case expiresAt = "expires_at"
        case requester
    }

    public var references: [String] { items.map(\.reference) }
}

/// `POST /approve/{id}` body.
public struct ApprovalDecisionRequest: Codable, Sendable, Equatable {
    public var approved: Bool
    public var comment: String?
    /// Approve only these references (a subset); nil means all.
    public var references: [String]?
    /// The request being decided; defaults to the pending one. Naming it guards against
    /// approving a request that changed meanwhile.
    public var requestID: String?

    public init(approved: Bool, comment: String? = nil, references: [String]? = nil, requestID: String? = nil) {
        self.approved = approved
        self.comment = comment
        self.references = references
        self.requestID = requestID
    }

    enum CodingKeys: String, CodingKey {
        case approved, comment, references
        case requestID = "request_id"
    }
}

/// What was decided, by whom.
public struct ApprovalDecision: Codable, Sendable, Equatable {
    public enum Outcome: String, Codable, Sendable { case approved, partial, denied, expired }
    public var requestID: String
    public var outcome: Outcome
    public var approvedReferences: [String]
    public var deniedReferences: [String]
    public var approver: String?
    public var comment: String?
    public var decidedAt: Date

    public init(requestID: String, outcome: Outcome, approvedReferences: [String], deniedReferences: [String], approver: String?, comment: String?, decidedAt: Date) {
        self.requestID = requestID
        self.outcome = outcome
        self.approvedReferences = approvedReferences
        self.deniedReferences = deniedReferences
        self.approver = approver
        self.comment = comment
        self.decidedAt = decidedAt
    }

    enum CodingKeys: String, CodingKey {
        case requestID = "request_id"
        case outcome
        case approvedReferences = "approved_references"
        case deniedReferences = "denied_references"
        case approver, comment
        case decidedAt = "decided_at"
    }
}

/// A row of the append-only approvals audit table.
public struct AuditEntry: Codable, Sendable, Equatable {
    public enum Action: String, Codable, Sendable {
        case requested, approved, partiallyApproved = "partially_approved", denied, expired
        case resolved, resolveFailed = "resolve_failed"
        case rejected
    }
    public var sessionID: String
    public var requestID: String?
    public var action: Action
    /// Approver or requester identity, or `system`.
    public var actor: String
    /// The local account the actor's connection belonged to, when the kernel said.
    public var uid: UInt32?
    /// How the actor reached the daemon (`tcp`, `unix`); nil for the daemon itself.
    public var transport: String?
    public var references: [String]
    /// Provider for resolutions (`1password-cli`, `systemd-credential`, …).
    public var provider: String?
    public var comment: String?
    public var at: Date

    public init(
        sessionID: String, requestID: String?, action: Action, actor: String, uid: UInt32? = nil, transport: String? = nil,
        references: [String], provider: String? = nil, comment: String? = nil, at: Date
    ) {
        self.sessionID = sessionID
        self.requestID = requestID
        self.action = action
        self.actor = actor
        self.uid = uid
        self.transport = transport
        self.references = references
        self.provider = provider
        self.comment = comment
        self.at = at
    }

    enum CodingKeys: String, CodingKey {
        case sessionID = "session_id"
        case requestID = "request_id"
        case action, actor, uid, transport, references, provider, comment, at
    }
}

/// A standing approval: references that sessions started by the alert routes naming it may use
/// without waiting for a human — set by an approver (the owner), with a reason and an expiry of
/// at most 30 days, and audited on every use like a live approval.
public struct StandingApproval: Codable, Sendable, Equatable {
    public var name: String
    public var environment: String
    public var references: [String]
    /// The approver who set it.
    public var owner: String
    public var reason: String
    public var expiresAt: Date

    public static let maxLifetime: TimeInterval = 30 * 86400

    public init(name: String, environment: String, references: [String], owner: String, reason: String, expiresAt: Date) {
        self.name = name
        self.environment = environment
        self.references = references
        self.owner = owner
        self.reason = reason
        self.expiresAt = expiresAt
    }

    public func isActive(at date: Date = Date()) -> Bool { date < expiresAt }

    enum CodingKeys: String, CodingKey {
        case name, environment, references, owner, reason
        case expiresAt = "expires_at"
    }
}

/// `GET /approvals/standing`.
public struct StandingApprovalList: Codable, Sendable, Equatable {
    public struct Entry: Codable, Sendable, Equatable {
        public var approval: StandingApproval
        public var active: Bool
        /// The alert routes that may use it.
        public var routes: [String]

        public init(approval: StandingApproval, active: Bool, routes: [String]) {
            self.approval = approval
            self.active = active
            self.routes = routes
        }
    }

    public var standing: [Entry]
    public init(standing: [Entry]) { self.standing = standing }
}
