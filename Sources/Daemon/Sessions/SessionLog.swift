import DiagnosisModel
import Foundation
import Redaction
import SessionStore

/// One session's event log: assigns sequence numbers, folds events into the session's state,
/// persists each event before publishing it, and feeds live subscribers.
///
/// Writing is behind the run, not in its way: `emit` sequences an event and returns at once; a
/// writer stores what has piled up in one transaction, then publishes it (so subscribers and
/// readers only ever see stored events, in order). `append` also waits until its event is
/// stored — for what must be durable before the run goes on (an approval request, the audit
/// of a decision, a final status); `flush` waits for everything emitted so far.
actor SessionLog {
    private let store: any SessionStore
    /// The session as stored and published: what readers (`GET /status`, lists) see.
    private(set) var record: SessionRecord
    /// Findings stored and published, in order (what `GET /status` shows for a running session).
    private(set) var findings: [Finding] = []
    private(set) var hasReport = false
    /// The session after every event emitted so far, stored or not: what the run decides on.
    private(set) var latest: SessionRecord
    /// Every finding emitted so far (numbering, and the synthesizer's input).
    private(set) var latestFindings: [Finding]
    private var subscribers: [UUID: AsyncStream<SessionEvent>.Continuation] = [:]
    private(set) var finished = false
    /// Scrubs every event before it is stored or published (the session's resolved secrets).
    var redactor = Redactor()
    /// The notifications an event causes, stored with it; `wake` starts their delivery.
    private let notifications: NotificationHook?

    /// Emitted, not yet stored, in order.
    private var unwritten: [Unwritten] = []
    private var writing = false
    /// Callers of `append`/`flush` waiting for a sequence number to be stored.
    private var waiters: [(sequence: Int, continuation: CheckedContinuation<Void, any Error>)] = []
    /// Set when a write failed: the events after the last stored one are lost, the log is closed.
    private var writeFailure: (any Error)?

    /// Set when this daemon stopped running the session (shutdown or a lost lease) so another
    /// daemon continues it: nothing more is appended here.
    private(set) var isHandedOver = false

    /// At most this many events in one transaction.
    static let batchLimit = 256

    private struct Unwritten {
        let event: SessionEvent
        let record: SessionRecord
        let outbox: [OutboxEntry]
        let audit: [AuditEntry]
    }

    /// `findings`: those already in the log (a session taken over from another daemon).
    init(record: SessionRecord, store: any SessionStore, notifications: NotificationHook? = nil, findings: [Finding] = []) {
        self.record = record
        self.latest = record
        self.store = store
        self.notifications = notifications
        self.findings = findings
        self.latestFindings = findings
    }

    /// Stops appending and ends the live streams; the session itself stays unfinished.
    /// `flushing`: store what was emitted first (a daemon handing over on shutdown); without it
    /// (a lost lease) nothing more is written — the new owner numbers the events from now on.
    func handOver(flushing: Bool = false) async {
        if flushing { try? await flush() }
        isHandedOver = true
        unwritten.removeAll()
        failWaiters(SessionHandedOver())
        finished = true
        for continuation in subscribers.values { continuation.finish() }
        subscribers.removeAll()
    }

    func setRedactor(_ redactor: Redactor) { self.redactor = redactor }

    /// Appends an event and returns once it is stored (and published).
    @discardableResult
    func append(_ body: SessionEvent.Body, audit: [AuditEntry] = [], at date: Date = Date()) async throws -> SessionEvent {
        let event = try emit(body, audit: audit, at: date)
        try await stored(through: event.sequence)
        return event
    }

    /// Waits until every event emitted so far is stored (and published).
    func flush() async throws {
        try await stored(through: latest.lastSequence)
    }

    /// Appends an event without waiting for the write: redact, sequence, fold, queue. `audit`:
    /// rows written in the same transaction as the event.
    @discardableResult
    func emit(_ body: SessionEvent.Body, audit: [AuditEntry] = [], at date: Date = Date()) throws -> SessionEvent {
        // A session that has ended stays ended: its log is closed.
        guard !latest.status.isTerminal else { throw SessionLogClosed(status: latest.status) }
        guard !isHandedOver else { throw SessionHandedOver() }
        if let writeFailure { throw writeFailure }
        var body = EventRedaction.redact(body, with: redactor)
        // Runners number their findings per job; ids must be unique per session (a domain can run
        // twice, e.g. in a follow-up round), so the log numbers them per domain.
        if case .finding(var finding) = body {
            finding.id = "\(finding.domain.rawValue)-\(latestFindings.filter { $0.domain == finding.domain }.count + 1)"
            body = .finding(finding)
        }
        var next = latest
        next.lastSequence += 1
        next.updatedAt = date
        SessionReducer.apply(body, to: &next)
        let event = SessionEvent(sessionID: next.id, sequence: next.lastSequence, at: date, body: body)
        let outbox = notifications?.composer.entries(for: event, record: next) ?? []
        unwritten.append(Unwritten(event: event, record: next, outbox: outbox, audit: audit))
        latest = next
        if case .finding(let finding) = event.body { latestFindings.append(finding) }
        if !writing {
            writing = true
            Task { await self.writeUnwritten() }
        }
        return event
    }

    private func stored(through sequence: Int) async throws {
        guard record.lastSequence < sequence else { return }
        if let writeFailure { throw writeFailure }
        guard !isHandedOver else { throw SessionHandedOver() }
        try await withCheckedThrowingContinuation { waiters.append((sequence, $0)) }
    }

    /// The writer: stores what piled up, one transaction at a time, and publishes each batch.
    private func writeUnwritten() async {
        while !unwritten.isEmpty, !isHandedOver, writeFailure == nil {
            let batch = unwritten.prefix(Self.batchLimit)
            guard let last = batch.last else { break }
            do {
                try await store.append(LogWrite(events: batch.map(\.event), record: last.record, outbox: batch.flatMap(\.outbox), audit: batch.flatMap(\.audit)))
            } catch {
                writeFailure = error
                unwritten.removeAll()
                failWaiters(error)
                break
            }
            // Handed over while writing: the queue is gone, and so are the subscribers.
            guard !isHandedOver else { break }
            unwritten.removeFirst(batch.count)
            publish(batch, record: last.record)
        }
        writing = false
    }

    private func publish(_ batch: ArraySlice<Unwritten>, record stored: SessionRecord) {
        record = stored
        for item in batch {
            if case .finding(let finding) = item.event.body { findings.append(finding) }
            if case .report = item.event.body { hasReport = true }
            for continuation in subscribers.values { continuation.yield(item.event) }
        }
        if batch.contains(where: { !$0.outbox.isEmpty }) { notifications?.wake() }
        if stored.status.isTerminal { finishSubscribers() }
        let done = waiters.filter { $0.sequence <= stored.lastSequence }
        waiters.removeAll { $0.sequence <= stored.lastSequence }
        for waiter in done { waiter.continuation.resume() }
    }

    private func failWaiters(_ error: any Error) {
        let failed = waiters
        waiters.removeAll()
        for waiter in failed { waiter.continuation.resume(throwing: error) }
    }

    /// Live events from now on (the caller replays the store for earlier ones).
    func subscribe() -> (id: UUID, stream: AsyncStream<SessionEvent>) {
        let (stream, continuation) = AsyncStream<SessionEvent>.makeStream(bufferingPolicy: .bufferingNewest(10_000))
        let id = UUID()
        if finished {
            continuation.finish()
        } else {
            subscribers[id] = continuation
        }
        return (id, stream)
    }

    func unsubscribe(_ id: UUID) {
        subscribers.removeValue(forKey: id)?.finish()
    }

    /// Ends every live stream (terminal event, or daemon shutdown).
    func finishSubscribers() {
        finished = record.status.isTerminal || finished
        for continuation in subscribers.values { continuation.finish() }
        subscribers.removeAll()
    }

    func closeForShutdown() {
        finished = true
        finishSubscribers()
    }
}

/// The session already ended; nothing more is appended.
struct SessionLogClosed: Error {
    let status: SessionStatus
}

/// This daemon let go of the session; another one continues it.
struct SessionHandedOver: Error, CustomStringConvertible {
    var description: String { "the session was handed over to another daemon" }
}

/// Applies a redactor to every free-text field of an event, and strips the userinfo of every
/// URL in them (`https://user:pass@host` → `https://host`).
enum EventRedaction {
    static func redact(_ body: SessionEvent.Body, with redactor: Redactor) -> SessionEvent.Body {
        let scrub: (String) -> String = { text in Redactor.strippingURLUserinfo(redactor.isEmpty ? text : redactor.redact(text)) }
        switch body {
        case .finding(let finding):
            return .finding(finding.mapStrings(scrub))
        case .runnerLog(var log):
            log.message = scrub(log.message)
            return .runnerLog(log)
        case .domain(var update):
            update.reason = update.reason.map(scrub)
            update.probes = update.probes?.map { outcome in
                var outcome = outcome
                outcome.error = outcome.error.map(scrub)
                return outcome
            }
            return .domain(update)
        case .notice(var notice):
            notice.message = scrub(notice.message)
            return .notice(notice)
        case .alerts(var update):
            update.note = scrub(update.note)
            update.alerts = update.alerts.map { alert in
                var alert = alert
                alert.summary = alert.summary.map(scrub)
                alert.labels = alert.labels.mapValues(scrub)
                return alert
            }
            return .alerts(update)
        case .credentialFailed(var credential):
            credential.error = credential.error.map(scrub)
            return .credentialFailed(credential)
        case .status(var change):
            change.message = change.message.map(scrub)
            return .status(change)
        case .report(var report):
            report.findings = report.findings.map { $0.mapStrings(scrub) }
            report.summary = scrub(report.summary)
            report.nextSteps = report.nextSteps.map(scrub)
            report.ruledOut = report.ruledOut.map(scrub)
            report.limitations = report.limitations.map(scrub)
            report.probableCauses = report.probableCauses.map { cause in
                var cause = cause
                cause.title = scrub(cause.title)
                cause.explanation = scrub(cause.explanation)
                return cause
            }
            report.domains = report.domains.map { domain in
                var domain = domain
                domain.reason = domain.reason.map(scrub)
                return domain
            }
            return .report(report)
        case .approvalDecided(var decision):
            decision.comment = decision.comment.map(scrub)
            return .approvalDecided(decision)
        case .created, .plan, .approvalRequested, .credentialResolved, .probeProgress:
            return body
        }
    }
}

/// How a session log hands notifications to the outbox and wakes its delivery.
public struct NotificationHook: Sendable {
    let composer: NotificationComposer
    let wake: @Sendable () -> Void
}
