import DiagnosisModel
import Foundation
import Redaction
import SessionStore

/// One session's event log: assigns sequence numbers, folds events into the session's state,
/// persists each event before publishing it, and feeds live subscribers.
actor SessionLog {
    private let store: any SessionStore
    private let lock = AsyncLock()
    private(set) var record: SessionRecord
    private var subscribers: [UUID: AsyncStream<SessionEvent>.Continuation] = [:]
    private(set) var finished = false
    /// Findings so far, in order (what `GET /status` shows for a running session).
    private(set) var findings: [Finding] = []
    private(set) var hasReport = false
    /// Scrubs every event before it is stored or published (the session's resolved secrets).
    var redactor = Redactor()
    /// The notifications an event causes, stored with it; `wake` starts their delivery.
    private let notifications: NotificationHook?

    /// Set when this daemon stopped running the session (shutdown or a lost lease) so another
    /// daemon continues it: nothing more is appended here.
    private(set) var isHandedOver = false

    /// `findings`: those already in the log (a session taken over from another daemon).
    init(record: SessionRecord, store: any SessionStore, notifications: NotificationHook? = nil, findings: [Finding] = []) {
        self.record = record
        self.store = store
        self.notifications = notifications
        self.findings = findings
    }

    /// Stops appending and ends the live streams; the session itself stays unfinished.
    func handOver() {
        isHandedOver = true
        finished = true
        for continuation in subscribers.values { continuation.finish() }
        subscribers.removeAll()
    }

    func setRedactor(_ redactor: Redactor) { self.redactor = redactor }

    /// Appends an event: redact, sequence, fold, persist, then publish. Returns it once stored.
    @discardableResult
    func append(_ body: SessionEvent.Body, at date: Date = Date()) async throws -> SessionEvent {
        try await lock.run { try await self.appendLocked(body, at: date) }
    }

    private func appendLocked(_ body: SessionEvent.Body, at date: Date) async throws -> SessionEvent {
        // A session that has ended stays ended: its log is closed.
        guard !record.status.isTerminal else { throw SessionLogClosed(status: record.status) }
        guard !isHandedOver else { throw SessionHandedOver() }
        var body = EventRedaction.redact(body, with: redactor)
        // Runners number their findings per job; ids must be unique per session (a domain can run
        // twice, e.g. in a follow-up round), so the log numbers them per domain.
        if case .finding(var finding) = body {
            finding.id = "\(finding.domain.rawValue)-\(findings.filter { $0.domain == finding.domain }.count + 1)"
            body = .finding(finding)
        }
        var next = record
        next.lastSequence += 1
        next.updatedAt = date
        SessionReducer.apply(body, to: &next)
        let event = SessionEvent(sessionID: next.id, sequence: next.lastSequence, at: date, body: body)
        let outbox = notifications?.composer.entries(for: event, record: next) ?? []
        try await store.append(event, record: next, outbox: outbox)
        if !outbox.isEmpty { notifications?.wake() }
        record = next
        if case .finding(let finding) = event.body { findings.append(finding) }
        if case .report = event.body { hasReport = true }
        for continuation in subscribers.values { continuation.yield(event) }
        if event.isTerminal { finishSubscribers() }
        return event
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
