import DiagnosisModel
import Foundation

/// Durable storage of sessions, their event logs, findings and the approvals audit.
///
/// Callers hand in values that are already redacted; the store never sees a secret.
public protocol SessionStore: Sendable {
    /// Creates a session together with its first event, atomically.
    func create(_ record: SessionRecord, firstEvent: SessionEvent) async throws
    /// Appends a session's next events and saves its new state in one transaction, with the
    /// notifications and audit rows they cause (persist before publish: callers publish only
    /// after this returns).
    func append(_ write: LogWrite) async throws
    func session(id: String) async throws -> SessionRecord?
    /// Newest first; `before` is an opaque cursor from a previous page.
    func sessions(status: SessionStatus?, limit: Int, before cursor: String?) async throws -> (records: [SessionRecord], nextCursor: String?)
    /// Events with sequence greater than `after`, in order.
    func events(sessionID: String, after: Int) async throws -> [SessionEvent]
    func findings(sessionID: String) async throws -> [Finding]
    /// The newest event of `type` (e.g. `plan`, `report`), if any.
    func latestEvent(sessionID: String, type: String) async throws -> SessionEvent?
    func appendAudit(_ entry: AuditEntry) async throws
    func audit(sessionID: String) async throws -> [AuditEntry]
    /// Sessions that were not terminal: they were running when the daemon stopped.
    func unfinishedSessions() async throws -> [SessionRecord]
    /// Deletes terminal sessions last updated before `cutoff`; returns how many.
    func prune(updatedBefore cutoff: Date) async throws -> Int
    /// Session counts by status (metrics).
    func countsByStatus() async throws -> [SessionStatus: Int]
    /// Bytes the store's engine holds in this process (page caches, statements), when it can
    /// tell: what a memory soak needs to tell a bounded cache filling from a leak.
    var memoryInUse: Int? { get }
}

extension SessionStore {
    public func append(_ event: SessionEvent, record: SessionRecord, outbox: [OutboxEntry] = []) async throws {
        try await append(LogWrite(events: [event], record: record, outbox: outbox))
    }

    public var memoryInUse: Int? { nil }
}

/// One write of a session's log, all or nothing: its next events in order, the session's state
/// after the last of them, the notifications they cause and the audit rows that go with them.
/// A session writes several events at once when they come faster than one transaction.
public struct LogWrite: Sendable {
    public var events: [SessionEvent]
    public var record: SessionRecord
    public var outbox: [OutboxEntry]
    public var audit: [AuditEntry]

    public init(events: [SessionEvent], record: SessionRecord, outbox: [OutboxEntry] = [], audit: [AuditEntry] = []) {
        self.events = events
        self.record = record
        self.outbox = outbox
        self.audit = audit
    }
}
