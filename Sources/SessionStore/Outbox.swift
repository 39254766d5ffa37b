import DiagnosisModel
import Foundation

/// One notification to deliver to one sink: built (and redacted) when its event is stored, in
/// the same transaction, so an acknowledged event never loses its notification.
public struct OutboxEntry: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable { case pending, delivered, gaveUp = "gave_up" }

    /// Assigned by the store; 0 before.
    public var id: Int64
    /// Stable across retries: receivers deduplicate on it.
    public var deliveryID: String
    public var sink: String
    public var kind: String
    public var sessionID: String
    /// The JSON body as it will be sent (the signature is computed at delivery).
    public var body: String
    public var createdAt: Date
    public var attempts: Int
    public var nextAttemptAt: Date
    public var state: State
    public var lastError: String?

    public init(deliveryID: String, sink: String, kind: String, sessionID: String, body: String, createdAt: Date) {
        id = 0
        self.deliveryID = deliveryID
        self.sink = sink
        self.kind = kind
        self.sessionID = sessionID
        self.body = body
        self.createdAt = createdAt
        attempts = 0
        nextAttemptAt = createdAt
        state = .pending
    }
}

/// The persisted outbox of notifications.
public protocol NotificationOutbox: Sendable {
    /// The oldest undelivered entry of `sink` (deliveries to one sink stay in order).
    func nextPending(sink: String) async throws -> OutboxEntry?
    func markDelivered(_ id: Int64) async throws
    func reschedule(_ id: Int64, attempts: Int, next: Date, error: String) async throws
    func giveUp(_ id: Int64, attempts: Int, error: String) async throws
    func outbox(sessionID: String) async throws -> [OutboxEntry]
}

/// Received alert notifications: stored before they are acknowledged, processed after.
public protocol AlertIntakeStore: Sendable {
    /// Stores a received notification (and its body, to process it) as pending; returns its id.
    func saveIntake(_ record: IntakeRecord, payload: Data) async throws -> Int64
    /// Pending notifications with their bodies, oldest first (after a restart: those not
    /// processed yet).
    func pendingIntake() async throws -> [(record: IntakeRecord, payload: Data)]
    func completeIntake(_ id: Int64, outcome: IntakeOutcome) async throws
    /// Newest first.
    func recentIntake(limit: Int) async throws -> [IntakeRecord]
    /// The session the newest processed notification of `groupKey` since `since` went to.
    func latestSession(groupKey: String, since: Date) async throws -> String?
    /// Sessions started for notifications received since `since`, newest first, with their
    /// route — by every daemon on this store, so a cap on them holds for the whole cluster.
    func sessionsStarted(since: Date) async throws -> [(sessionID: String, route: String?)]
}
