import Crypto
import DiagnosisModel
import Foundation
import Logging
import SessionStore
import Systemd

/// Alerts in: stores each notification before it is acknowledged, then — in order, one at a
/// time — routes it to an environment, starts one session per alert group (a repeat or a
/// resolution of the group joins its session), and bounds how many sessions alerts may start
/// per minute. Nothing received is dropped: every notification is listed with what became of it.
public actor AlertIntakeService {
    /// The secrets that authenticate Alertmanager, read at start-up.
    struct Credentials: Sendable {
        var tokens: [String]
        var basic: (username: String, password: String)?
    }

    let config: DaemonConfig.Intake.Alertmanager
    let credentials: Credentials
    let router: AlertRouter
    let store: any AlertIntakeStore
    let sessions: SessionService
    let logger: Logger
    /// `approval.standing`, by name.
    let standing: [String: StandingApproval]

    private var draining = false
    /// Set when a drain is asked for while one runs: that one reads the store again before it
    /// stops, so a notification stored during its last read is not left waiting.
    private var drainAgain = false
    private var recentStarts: [Date] = []
    /// Group key → its session (the store answers for groups older than this process).
    private var groups: [String: (session: String, at: Date)] = [:]
    /// Route → its newest session (where alerts over the rate limit are attached).
    private var newestByRoute: [String: String] = [:]
    /// The last minute's starts by every daemon on the store, as last read, and when.
    private var startsOfAll: (read: Date, sessions: [(sessionID: String, route: String?)])?

    init(config: DaemonConfig.Intake.Alertmanager, credentials: Credentials, store: any AlertIntakeStore, sessions: SessionService, standing: [StandingApproval] = [], logger: Logger) {
        self.standing = Dictionary(standing.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.config = config
        self.credentials = credentials
        self.router = AlertRouter(routes: config.routes)
        self.store = store
        self.sessions = sessions
        self.logger = logger
    }

    /// Who Alertmanager is, as a requester: a token holder, so any approver may decide.
    static func requester(_ receiver: String) -> Identity {
        Identity(name: "alertmanager:\(receiver.prefix(60))", role: .requester, byToken: true)
    }

    // MARK: Authentication

    /// Whether `authorization` carries one of the bearer tokens or the basic-auth pair,
    /// compared in constant time.
    nonisolated func authorize(_ authorization: String?) -> Bool {
        guard let authorization else { return false }
        var accepted = false
        for token in credentials.tokens { accepted = Self.constantTimeEqual(authorization, "Bearer \(token)") || accepted }
        if let basic = credentials.basic {
            let encoded = Data("\(basic.username):\(basic.password)".utf8).base64EncodedString()
            accepted = Self.constantTimeEqual(authorization, "Basic \(encoded)") || accepted
        }
        return accepted
    }

    /// Equal digests, compared byte by byte without an early exit (length is not leaked either).
    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(SHA256.hash(data: Data(a.utf8)))
        let y = Array(SHA256.hash(data: Data(b.utf8)))
        var difference: UInt8 = 0
        for index in 0..<x.count { difference |= x[index] ^ y[index] }
        return difference == 0
    }

    // MARK: Intake

    /// Stores the notification (the caller answers 2xx only after this returns) and starts
    /// processing it.
    func receive(_ payload: AlertmanagerPayload, body: Data, source: String) async throws -> IntakeRecord {
        var record = IntakeRecord(
            id: 0, receivedAt: Date(), source: source, groupKey: payload.groupKey, receiver: payload.receiver, status: payload.status,
            alerts: payload.summaries, state: .pending
        )
        record.id = try await store.saveIntake(record, payload: body)
        Task { await self.drain() }
        return record
    }

    /// Processes what was stored but not processed (a daemon killed after acknowledging).
    func resumePending() async {
        await drain()
    }

    func recent(limit: Int) async throws -> [IntakeRecord] {
        try await store.recentIntake(limit: limit)
    }

    /// With several daemons on one store, one drains at a time (whichever stored the
    /// notification, or the next to try): groups and limits are decided in one place.
    var drainLock: DrainLock?

    struct DrainLock: Sendable {
        let acquire: @Sendable () async -> Bool
        let release: @Sendable () async -> Void
    }

    func setDrainLock(_ lock: DrainLock) { drainLock = lock }

    private func drain() async {
        guard !draining else {
            drainAgain = true
            return
        }
        draining = true
        defer { draining = false }
        if let drainLock {
            // Another daemon is draining: it reads the store again before it stops, but this
            // notification may have come after its last read — so wait for the lock and drain.
            var waited = 0
            while !(await drainLock.acquire()) {
                waited += 1
                if waited > 600 { return }  // a minute: it lapses and the next notification retries
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        await drainLoop()
        await drainLock?.release()
    }

    private func drainLoop() async {
        while true {
            drainAgain = false
            let pending: [(record: IntakeRecord, payload: Data)]
            do {
                pending = try await store.pendingIntake()
            } catch {
                logger.error("alert intake: cannot read pending notifications: \(error)")
                return
            }
            guard !pending.isEmpty || drainAgain else { return }
            for (record, body) in pending {
                let outcome: IntakeOutcome
                if let payload = try? JSONDecoder().decode(AlertmanagerPayload.self, from: body) {
                    outcome = await process(record, payload)
                } else {
                    outcome = IntakeOutcome(kind: .failed, detail: "the stored notification could not be read again")
                }
                do {
                    try await store.completeIntake(record.id, outcome: outcome)
                } catch {
                    logger.error("alert intake: cannot record the outcome of notification \(record.id): \(error)")
                    return
                }
            }
        }
    }

    private func process(_ record: IntakeRecord, _ payload: AlertmanagerPayload) async -> IntakeOutcome {
        guard let routed = router.route(payload) else {
            let labels = payload.routingLabels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\($0.value)\"" }.joined(separator: ", ")
            logger.warning("alert intake: no route for group \(payload.groupKey.prefix(200)) with labels {\(labels.prefix(500))}; acknowledged and listed (intake.alertmanager.routes)")
            return IntakeOutcome(kind: .unrouted, detail: "no route matches the labels {\(labels.prefix(500))}")
        }
        let now = Date()
        if let session = await existingSession(payload.groupKey, now: now) {
            let resolved = payload.status == "resolved"
            let note = resolved
                ? "resolved at \(JSONCoding.format(payload.summaries.compactMap(\.endsAt).max() ?? now))"
                : "\(payload.alerts.count) alert(s) of the group notified again"
            let added = await sessions.appendAlerts(id: session, .init(status: payload.status, groupKey: payload.groupKey, alerts: payload.summaries, note: note))
            groups[payload.groupKey] = (session, groups[payload.groupKey]?.at ?? now)
            return IntakeOutcome(kind: resolved ? .resolved : .added, sessionID: session, route: routed.route, detail: note + (added ? "" : " (the session is gone)"))
        }
        if payload.status == "resolved" {
            return IntakeOutcome(kind: .resolved, route: routed.route, detail: "resolved before any session was started for it")
        }
        recentStarts.removeAll { now.timeIntervalSince($0) >= 60 }
        // The cap holds for every daemon on the store together: their starts are counted from it
        // (this daemon's own too, should the store not answer). Read at most once a second while
        // over the cap — a storm is thousands of notifications a minute — and afresh before any
        // start. Two daemons deciding at the same instant can each start one more: a soft cap.
        var startedByAll = await startsByAll(now: now, maxAge: 1)
        if max(recentStarts.count, startedByAll.count) < config.maxSessionsPerMinute {
            startedByAll = await startsByAll(now: now, maxAge: 0)
        }
        if max(recentStarts.count, startedByAll.count) >= config.maxSessionsPerMinute {
            let target = startedByAll.first { $0.route == routed.route }?.sessionID ?? newestByRoute[routed.route]
            let note = "over intake.alertmanager.max_sessions_per_minute (\(config.maxSessionsPerMinute)): attached here instead of a session of its own"
            if let target {
                _ = await sessions.appendAlerts(id: target, .init(status: payload.status, groupKey: payload.groupKey, alerts: payload.summaries, note: note))
            }
            logger.warning("alert intake: \(note) (group \(payload.groupKey.prefix(200)))")
            return IntakeOutcome(kind: .attached, sessionID: target, route: routed.route, detail: note)
        }
        do {
            let session = try await start(routed, receiver: payload.receiver)
            recentStarts.append(now)
            groups[payload.groupKey] = (session, now)
            newestByRoute[routed.route] = session
            logger.notice("alert intake: session \(session) started for \(routed.problem.prefix(200))", metadata: [LogKey.sessionID: "\(session)"])
            return IntakeOutcome(kind: .started, sessionID: session, route: routed.route, detail: "session started in \(routed.environment)")
        } catch {
            let detail = (error as? SessionError).map(\.apiError.message) ?? "\(error)"
            logger.error("alert intake: could not start a session: \(detail)")
            return IntakeOutcome(kind: .failed, route: routed.route, detail: detail)
        }
    }

    /// Starts the session; context the inventory refuses (a namespace it does not list) is
    /// left out rather than losing the alert.
    private func start(_ routed: AlertRouter.Routed, receiver: String) async throws -> String {
        var request = DiagnoseRequest(problem: routed.problem, environment: routed.environment, context: routed.context)
        let standing = (config.routes.first { $0.name == routed.route }?.standingApprovals ?? []).compactMap { self.standing[$0] }
        do {
            return try await sessions.start(request, requester: Self.requester(receiver), standing: standing).id
        } catch SessionError.invalid {
            request.context = routed.context.filter { !["namespace", "region"].contains($0.key) }
            return try await sessions.start(request, requester: Self.requester(receiver), standing: standing).id
        }
    }

    /// The last minute's starts by every daemon on the store, read again when the last read is
    /// older than `maxAge` seconds.
    private func startsByAll(now: Date, maxAge: TimeInterval) async -> [(sessionID: String, route: String?)] {
        if let cached = startsOfAll, maxAge > 0, now.timeIntervalSince(cached.read) < maxAge { return cached.sessions }
        let sessions = (try? await store.sessionsStarted(since: now.addingTimeInterval(-60))) ?? []
        startsOfAll = (now, sessions)
        return sessions
    }

    private func existingSession(_ groupKey: String, now: Date) async -> String? {
        let since = now.addingTimeInterval(-config.dedupeWindow.inSeconds)
        if let known = groups[groupKey], known.at >= since { return known.session }
        return try? await store.latestSession(groupKey: groupKey, since: since)
    }
}
