import Foundation

/// One alert as a session and the intake list show it (from Alertmanager's or Grafana's webhook).
public struct AlertSummary: Codable, Sendable, Equatable {
    public var alertname: String
    /// `firing` or `resolved`.
    public var status: String
    public var labels: [String: String]
    public var summary: String?
    public var startsAt: Date?
    public var endsAt: Date?
    public var fingerprint: String?
    public var generatorURL: String?

    public init(alertname: String, status: String, labels: [String: String], summary: String? = nil, startsAt: Date? = nil, endsAt: Date? = nil, fingerprint: String? = nil, generatorURL: String? = nil) {
        self.alertname = alertname
        self.status = status
        self.labels = labels
        self.summary = summary
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.fingerprint = fingerprint
        self.generatorURL = generatorURL
    }

    enum CodingKeys: String, CodingKey {
        case alertname, status, labels, summary, fingerprint
        case startsAt = "starts_at", endsAt = "ends_at", generatorURL = "generator_url"
    }
}

/// What the intake did with one notification.
public struct IntakeOutcome: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// A new session was started for the alert group.
        case started
        /// The group already has a session: its alerts were added to it.
        case added
        /// The group resolved: a "resolved at" event on its session.
        case resolved
        /// Over `max_sessions_per_minute`: attached to the newest session of its route.
        case attached
        /// No route matches: logged and listed, acknowledged so Alertmanager does not retry.
        case unrouted
        /// It could not start a session (an inventory the context does not fit, too many open).
        case failed
    }

    public var kind: Kind
    public var sessionID: String?
    public var route: String?
    public var detail: String

    public init(kind: Kind, sessionID: String? = nil, route: String? = nil, detail: String) {
        self.kind = kind
        self.sessionID = sessionID
        self.route = route
        self.detail = detail
    }

    enum CodingKeys: String, CodingKey {
        case kind, route, detail
        case sessionID = "session_id"
    }
}

/// One received notification: stored before it is acknowledged, processed after.
public struct IntakeRecord: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable { case pending, processed }

    public var id: Int64
    public var receivedAt: Date
    public var source: String
    public var groupKey: String
    public var receiver: String
    /// `firing` or `resolved`.
    public var status: String
    public var alerts: [AlertSummary]
    public var state: State
    public var outcome: IntakeOutcome?

    public init(id: Int64, receivedAt: Date, source: String, groupKey: String, receiver: String, status: String, alerts: [AlertSummary], state: State, outcome: IntakeOutcome? = nil) {
        self.id = id
        self.receivedAt = receivedAt
        self.source = source
        self.groupKey = groupKey
        self.receiver = receiver
        self.status = status
        self.alerts = alerts
        self.state = state
        self.outcome = outcome
    }

    enum CodingKeys: String, CodingKey {
        case id, source, receiver, status, alerts, state, outcome
        case receivedAt = "received_at", groupKey = "group_key"
    }
}

/// `GET /alerts`.
public struct IntakeList: Codable, Sendable, Equatable {
    public var records: [IntakeRecord]
    public init(records: [IntakeRecord]) { self.records = records }
}

extension SessionEvent {
    /// Alerts of the session's group that arrived after it started (a repeat notification, new
    /// alerts, or the group resolving).
    public struct AlertsUpdate: Codable, Sendable, Equatable {
        public var status: String
        public var groupKey: String
        public var alerts: [AlertSummary]
        public var note: String

        public init(status: String, groupKey: String, alerts: [AlertSummary], note: String) {
            self.status = status
            self.groupKey = groupKey
            self.alerts = alerts
            self.note = note
        }

        enum CodingKeys: String, CodingKey {
            case status, alerts, note
            case groupKey = "group_key"
        }
    }
}
