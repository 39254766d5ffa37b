import DiagnosisModel
import Foundation
import Logging
import Orchestrator
import Redaction
import Secrets
import SessionStore
import Synchronization
import Systemd

/// The session engine: creates sessions, runs each one (plan → approval → credentials →
/// runners → report), and answers every question about them from their event logs.
public actor SessionService {
    public struct Settings: Sendable {
        public var environments: [String: EnvironmentInventory]
        public var approvalTimeout: Duration
        public var runnerDeadline: Duration
        /// Delay between SSE heartbeat comments.
        public var heartbeatInterval: Duration = .seconds(15)
        /// Unfinished sessions at most, in total and per person.
        public var maxOpenSessions = 100
        public var maxOpenSessionsPerIdentity = 10
        /// Sessions started per minute, per person and in total — across daemons when they share
        /// a store (each daemon's HTTP layer also limits its own).
        public var startsPerMinute = 30
        public var startsPerMinuteTotal = 120
        /// Every configured standing approval: a session taken over gets back those its log names.
        public var standingApprovals: [StandingApproval] = []

        public init(environments: [String: EnvironmentInventory], approvalTimeout: Duration, runnerDeadline: Duration) {
            self.environments = environments
            self.approvalTimeout = approvalTimeout
            self.runnerDeadline = runnerDeadline
        }

        /// `local` when configured, else the only environment, else nil (must be named).
        var defaultEnvironment: String? {
            if environments["local"] != nil { return "local" }
            return environments.count == 1 ? environments.keys.first : nil
        }
    }

    /// A session that is still running, with what only the running engine knows. Its mutable
    /// part is behind a lock: the service and the session's run both read it.
    final class LiveSession: Sendable {
        let id: String
        let log: SessionLog
        /// Who asked: never the one who approves, whatever transport either uses.
        let requester: Identity
        /// Standing approvals this session may use (an alert route's; empty for people).
        let standing: [StandingApproval]
        private let state = Mutex(State())

        struct State {
            var task: Task<Void, Never>?
            var plan: DiagnosisPlan?
            var pendingApproval: PendingApproval?
            var cancelReason: String?
        }

        init(id: String, log: SessionLog, requester: Identity, standing: [StandingApproval] = []) {
            self.id = id
            self.log = log
            self.requester = requester
            self.standing = standing
        }

        var task: Task<Void, Never>? {
            get { state.withLock { $0.task } }
            set { state.withLock { $0.task = newValue } }
        }
        var plan: DiagnosisPlan? {
            get { state.withLock { $0.plan } }
            set { state.withLock { $0.plan = newValue } }
        }
        var pendingApproval: PendingApproval? {
            get { state.withLock { $0.pendingApproval } }
            set { state.withLock { $0.pendingApproval = newValue } }
        }
        var cancelReason: String? {
            get { state.withLock { $0.cancelReason } }
            set { state.withLock { $0.cancelReason = newValue } }
        }
    }

    /// What the service and each session's run use.
    let dependencies: SessionDependencies
    /// The sessions this daemon runs (also taken over and handed on in SessionService+Cluster.swift).
    var live: [String: LiveSession] = [:]
    /// Set when several daemons share the store: leases, takeovers, commands for other owners.
    let cluster: ClusterService?

    var settings: Settings { dependencies.settings }
    var store: any SessionStore { dependencies.store }
    var supervisor: RunnerSupervisor { dependencies.supervisor }
    var logger: Logger { dependencies.logger }
    var metrics: DaemonMetrics { dependencies.metrics }

    public init(
        settings: Settings, store: any SessionStore, planner: any Planner, fallbackPlanner: RulePlanner = RulePlanner(), synthesizer: any Synthesizer,
        supervisor: RunnerSupervisor, broker: SecretBroker, metrics: DaemonMetrics, secretScrubber: SecretScrubber, logger: Logger,
        notifications: NotificationHook? = nil, cluster: ClusterService? = nil
    ) {
        self.cluster = cluster
        self.dependencies = SessionDependencies(
            settings: settings, store: store, planner: planner, fallbackPlanner: fallbackPlanner, synthesizer: synthesizer,
            supervisor: supervisor, broker: broker, metrics: metrics, secretScrubber: secretScrubber, logger: logger,
            notifications: notifications
        )
    }

    public var activeCount: Int { live.count }
    func isLive(_ id: String) -> Bool { live[id] != nil }
    func liveSessionIDs() -> [String] { Array(live.keys) }

    // MARK: Start-up and shutdown

    /// Sessions that were running when the daemon stopped become `interrupted`, with an event.
    public func recoverInterrupted() async throws {
        for var record in try await store.unfinishedSessions() {
            let log = SessionLog(record: record, store: store, notifications: dependencies.notifications)
            try await log.append(.status(.init(status: .interrupted, phase: .done, progress: record.progress, message: "the daemon restarted while this session was \(record.status.rawValue)")))
            record = await log.record
            logger.notice("session interrupted by a daemon restart", metadata: [LogKey.sessionID: "\(record.id)"])
        }
    }

    /// Stops every running session (daemon shutdown): runners cancelled, sessions interrupted,
    /// live streams closed.
    public func shutdown() async {
        if let cluster {
            // Another daemon continues these sessions as soon as their leases are released.
            for (id, session) in live {
                await handOver(session, flushing: true)
                await cluster.release(id)
            }
            live.removeAll()
            return
        }
        for (id, session) in live {
            session.cancelReason = "daemon shutting down"
            await supervisor.cancel(sessionID: id, reason: "daemon shutting down")
            let record = await session.log.latest
            if !record.status.isTerminal {
                _ = try? await session.log.append(.status(.init(status: .interrupted, phase: .done, progress: record.progress, message: "the daemon stopped")))
            }
            await session.log.closeForShutdown()
        }
        live.removeAll()
    }

    // MARK: Creating

    /// - Parameter standing: standing approvals the session may use unattended — only an alert
    ///   route passes any; a person's request never does.
    public func start(_ request: DiagnoseRequest, requester: Identity, standing: [StandingApproval] = []) async throws -> SessionRecord {
        let problem = request.problem.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !problem.isEmpty else { throw SessionError.invalid("problem must describe what is wrong, e.g. \"Database connection failures in production\"") }
        guard problem.count <= 4000 else { throw SessionError.invalid("problem is longer than 4000 characters") }
        let known = settings.environments.keys.sorted()
        guard let environmentName = request.environment ?? settings.defaultEnvironment else {
            throw SessionError.invalid("environment is required; known environments: \(known.joined(separator: ", "))")
        }
        guard let inventory = settings.environments[environmentName] else {
            throw SessionError.unknownEnvironment(environmentName, known: known)
        }
        let context = request.context ?? [:]
        guard context.count <= 50, context.allSatisfy({ $0.key.count <= 100 && $0.value.count <= 1000 }) else {
            throw SessionError.invalid("context holds at most 50 keys of up to 100 characters, values up to 1000")
        }
        if let problem = RulePlanner.contextProblem(context, inventory: inventory) { throw SessionError.invalid(problem) }

        // With several daemons the limits count every daemon's sessions (the store's).
        let open = try await cluster?.coordination.unfinishedCount(requester: nil) ?? live.count
        guard open < settings.maxOpenSessions else {
            throw SessionError.tooManyOpen("\(open) sessions are unfinished (server.max_open_sessions); wait for one to finish or cancel one")
        }
        let own = try await cluster?.coordination.unfinishedCount(requester: requester.name)
            ?? live.values.filter { $0.requester.name == requester.name || ($0.requester.uid != nil && $0.requester.uid == requester.uid) }.count
        guard own < settings.maxOpenSessionsPerIdentity else {
            throw SessionError.tooManyOpen("\(requester.name) has \(own) unfinished sessions (server.max_open_sessions_per_identity); wait for one to finish or cancel one")
        }

        let now = Date()
        let usable = standing.filter { $0.environment == environmentName }
        let record = SessionRecord(
            id: UUID().uuidString.lowercased(), problem: problem, environment: environmentName, context: context,
            requester: requester.name, createdAt: now, updatedAt: now, lastSequence: 1
        )
        let created = SessionEvent(sessionID: record.id, sequence: 1, at: now, body: .created(.init(
            problem: problem, environment: environmentName, context: context, requester: requester.name,
            standingApprovals: usable.isEmpty ? nil : usable.map(\.name)
        )))
        // Held before the session exists, so no other daemon takes it for an orphan.
        if let cluster, !(try await cluster.acquire(record.id)) { throw SessionError.conflict("session id collision; try again") }
        do {
            try await store.create(record, firstEvent: created)
        } catch {
            if let cluster { await cluster.release(record.id) }
            throw error
        }
        let session = LiveSession(
            id: record.id, log: SessionLog(record: record, store: store, notifications: dependencies.notifications), requester: requester,
            standing: usable
        )
        live[record.id] = session
        metrics.sessionsStarted.increment()
        logger.notice(
            "session started for \(requester.name) in \(environmentName): \(problem.prefix(200))",
            metadata: [LogKey.sessionID: "\(record.id)", LogKey.messageID: "\(MessageID.sessionCreated)"]
        )
        let run = SessionRun(dependencies: dependencies, gate: self, session: session, inventory: inventory, sessionID: record.id)
        session.task = Task {
            await run.execute()
            self.finished(record.id)
        }
        return record
    }

    /// The per-minute limits on people's requests across every daemon sharing the store (each
    /// daemon's HTTP layer limits its own share too; alert intake has its own limit).
    public func admitStart(by requester: Identity) async throws {
        guard let cluster else { return }
        let minuteAgo = Date().addingTimeInterval(-60)
        let own = try await cluster.coordination.startedCount(since: minuteAgo, requester: requester.name)
        let all = try await cluster.coordination.startedCount(since: minuteAgo, requester: nil)
        if own >= settings.startsPerMinute || all >= settings.startsPerMinuteTotal {
            throw SessionError.rateLimited(retryAfterSeconds: 60)
        }
    }

    // MARK: Reading

    func liveSession(_ id: String) -> LiveSession? { live[id] }

    public func status(id: String) async throws -> SessionStatusView {
        if let session = live[id] {
            // A running session answers from memory.
            let log = session.log
            return SessionStatusView(
                record: await log.record, findings: await log.findings, pendingApproval: session.pendingApproval?.request,
                plan: session.plan, reportAvailable: await log.hasReport
            )
        }
        guard let record = try await store.session(id: id) else { throw SessionError.notFound("no session \(id)") }
        var plan: DiagnosisPlan?
        if case .plan(let stored)? = try await store.latestEvent(sessionID: id, type: "plan")?.body { plan = stored }
        let reportAvailable = try await store.latestEvent(sessionID: id, type: "report") != nil
        let pending = record.status.isTerminal ? nil : try await storedPendingApproval(id)
        return SessionStatusView(record: record, findings: try await store.findings(sessionID: id), pendingApproval: pending, plan: plan, reportAvailable: reportAvailable)
    }

    /// The open approval request of a session another daemon runs, from its log.
    private func storedPendingApproval(_ id: String) async throws -> ApprovalRequest? {
        guard case .approvalRequested(let request)? = try await store.latestEvent(sessionID: id, type: "approval_requested")?.body else { return nil }
        if case .approvalDecided(let decision)? = try await store.latestEvent(sessionID: id, type: "approval_decided")?.body, decision.requestID == request.requestID {
            return nil
        }
        return request.expiresAt > Date() ? request : nil
    }

    func record(id: String) async throws -> SessionRecord {
        if let session = live[id] { return await session.log.record }
        guard let record = try await store.session(id: id) else { throw SessionError.notFound("no session \(id)") }
        return record
    }

    public func list(status: SessionStatus?, limit: Int, cursor: String?) async throws -> SessionList {
        let page = try await store.sessions(status: status, limit: limit, before: cursor)
        var summaries: [SessionSummary] = []
        for record in page.records {
            // Live sessions are fresher in memory than in the store only by in-flight events.
            summaries.append(SessionSummary(live[record.id] != nil ? await live[record.id]?.log.record ?? record : record))
        }
        return SessionList(sessions: summaries, nextCursor: page.nextCursor)
    }

    public func report(id: String) async throws -> DiagnosisReport {
        let record = try await record(id: id)
        if case .report(let report)? = try await store.latestEvent(sessionID: id, type: "report")?.body { return report }
        throw SessionError.conflict("the report is not ready: the session is \(record.status.rawValue) (\(record.phase.rawValue))")
    }

    public func events(id: String, after: Int) async throws -> [SessionEvent] {
        _ = try await record(id: id)
        return try await store.events(sessionID: id, after: after)
    }

    public func audit(id: String) async throws -> [AuditEntry] {
        _ = try await record(id: id)
        return try await store.audit(sessionID: id)
    }

    /// Every event after `after`, then live ones until the session ends: stored events first,
    /// then the live stream, skipping what was already sent (nothing lost, nothing repeated).
    public func subscribe(id: String, after: Int) async throws -> AsyncStream<SessionEvent> {
        if live[id] == nil, let cluster, !(try await record(id: id).status.isTerminal) {
            return follow(id: id, after: after, cluster: cluster)
        }
        let session = live[id]
        let subscription = await session?.log.subscribe()
        let stored = try await events(id: id, after: after)
        let (stream, continuation) = AsyncStream<SessionEvent>.makeStream()
        let log = session?.log
        let feeder = Task {
            var last = after
            for event in stored {
                continuation.yield(event)
                last = event.sequence
            }
            if let subscription {
                for await event in subscription.stream where event.sequence > last {
                    continuation.yield(event)
                    last = event.sequence
                }
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in
            feeder.cancel()
            if let subscription, let log { Task { await log.unsubscribe(subscription.id) } }
        }
        return stream
    }

    // MARK: Acting

    public func cancel(id: String, by identity: Identity) async throws -> SessionRecord {
        guard let session = live[id] else {
            let record = try await record(id: id)
            if !record.status.isTerminal, let cluster { return try await ask(cluster, .cancel(by: RemoteIdentity(identity)), id: id).record ?? record }
            throw SessionError.conflict("the session already ended (\(record.status.rawValue))")
        }
        guard identity.role == .approver || identity.name == session.requester.name || (identity.uid != nil && identity.uid == session.requester.uid) else {
            throw SessionError.forbidden("only the requester (\(session.requester.name)) or an approver may cancel this session")
        }
        session.cancelReason = "cancelled by \(identity.name)"
        await supervisor.cancel(sessionID: id, reason: "cancelled by \(identity.name)")
        if let pending = session.pendingApproval {
            session.pendingApproval = nil
            pending.deliver(.unanswered(pending.request, .denied, comment: "session cancelled"))
        }
        // The run notices the reason between steps; its runners are already being stopped.
        // (The task itself is not cancelled: its last act is to record the final status.)
        await session.task?.value
        return await session.log.record
    }

    /// Applies a human's decision to the pending approval request.
    public func decide(id: String, _ request: ApprovalDecisionRequest, by approver: Identity) async throws -> ApprovalDecision {
        guard approver.role == .approver else {
            throw SessionError.forbidden("\(approver.name) may request diagnoses but not approve credentials; use an approver token")
        }
        guard let session = live[id], let pending = session.pendingApproval else {
            let record = try await record(id: id)
            if live[id] == nil, !record.status.isTerminal, let cluster, let decision = try await ask(cluster, .decide(request, by: RemoteIdentity(approver)), id: id).decision {
                return decision
            }
            throw SessionError.conflict("no approval is pending for this session (it is \(record.status.rawValue))")
        }
        if let requestID = request.requestID, requestID != pending.request.requestID {
            throw SessionError.conflict("approval request \(requestID) is not the pending one (\(pending.request.requestID)); reload and decide again")
        }
        if approver.mayBeSamePerson(as: session.requester) {
            let reason = session.requester.isAnonymous
                ? "the requester's local account is unknown, so only an approver token can decide"
                : "\(approver.name)\(approver.uid.map { " (uid \($0))" } ?? "") is, or shares the local account of, the requester \(session.requester.name)"
            throw SessionError.forbidden("a requester cannot approve their own credential request: \(reason)")
        }
        let requested = pending.request.references
        var approved: [String] = []
        if request.approved {
            let chosen = request.references ?? requested
            guard !chosen.isEmpty else { throw SessionError.invalid("references is empty; to deny, send approved: false") }
            let unknown = chosen.filter { !requested.contains($0) }
            guard unknown.isEmpty else {
                throw SessionError.invalid("not part of this request: \(unknown.joined(separator: ", ")); requested: \(requested.joined(separator: ", "))")
            }
            approved = requested.filter { chosen.contains($0) }
        } else if request.references != nil {
            throw SessionError.invalid("references only applies when approved is true")
        }
        let denied = requested.filter { !approved.contains($0) }
        let outcome: ApprovalDecision.Outcome = approved.isEmpty ? .denied : (denied.isEmpty ? .approved : .partial)
        let decision = ApprovalDecision(
            requestID: pending.request.requestID, outcome: outcome, approvedReferences: approved, deniedReferences: denied,
            approver: approver.name, comment: request.comment.map { String($0.prefix(1000)) }, decidedAt: Date()
        )
        session.pendingApproval = nil
        pending.deliver(decision, by: approver)
        // Answered only once the decision is stored: an approver told "approved" is never lost to
        // a crash, and a run that cannot record it (cancelled, handed over) says so.
        let stored = await withCheckedContinuation { pending.waitStored($0) }
        if case .failure(let error) = stored {
            throw SessionError.conflict("the decision was not recorded: \(error is SessionRun.Cancelled ? "the session was cancelled" : "\(error)")")
        }
        return decision
    }

    // MARK: Later news (alerts, deliveries)

    /// Adds alerts of the session's group that arrived after it started — also after it ended
    /// (within the dedupe window): the group's later history belongs with it. False when the
    /// session is gone.
    public func appendAlerts(id: String, _ update: SessionEvent.AlertsUpdate) async -> Bool {
        (try? await appendLate(id: id, .alerts(update))) == true
    }

    /// A notice about a session that may already have ended (a notification given up).
    public func appendNotice(id: String, _ message: String) async throws {
        _ = try await appendLate(id: id, .notice(.init(message: message)))
    }

    /// Appends to a running session's log, or — once it has ended — after its last event
    /// without changing its state (serialized by this actor, so sequences stay gapless).
    private func appendLate(id: String, _ body: SessionEvent.Body) async throws -> Bool {
        if let session = live[id], (try? await session.log.append(body)) != nil { return true }
        guard var record = try await store.session(id: id) else { return false }
        if !record.status.isTerminal, let cluster, case .alerts(let update) = body {
            // Running on another daemon: its owner appends (it numbers the session's events).
            return (try? await ask(cluster, .alerts(update), id: id))?.appended ?? false
        }
        guard record.status.isTerminal else { return false }
        record.lastSequence += 1
        let event = SessionEvent(sessionID: id, sequence: record.lastSequence, at: Date(), body: body)
        try await store.append(event, record: record)
        return true
    }

    // MARK: The approval gate (for SessionRun)

    /// Opens `request` for decisions; call before publishing it.
    func openApproval(_ request: ApprovalRequest, for session: LiveSession) -> PendingApproval {
        let pending = PendingApproval(request: request)
        session.pendingApproval = pending
        if session.cancelReason != nil {
            pending.deliver(.unanswered(request, .denied, comment: "session cancelled"))
        }
        return pending
    }

    /// Waits for a decision on an opened request, or its expiry.
    func awaitDecision(_ pending: PendingApproval, for session: LiveSession) async -> ApprovalDecision {
        let request = pending.request
        let timeout = request.expiresAt.timeIntervalSinceNow
        let expiry = Task {
            try await Task.sleep(for: .milliseconds(Int64(max(0, timeout) * 1000)))
            self.expire(request.requestID, for: session)
        }
        defer { expiry.cancel() }
        return await withCheckedContinuation { continuation in
            pending.wait(continuation)
        }
    }

    /// The run stored the decision it was waiting for (or could not).
    func decisionStored(_ pending: PendingApproval, _ result: Result<Void, any Error>) {
        pending.finishStoring(result)
    }

    private func expire(_ requestID: String, for session: LiveSession) {
        guard let pending = session.pendingApproval, pending.request.requestID == requestID else { return }
        session.pendingApproval = nil
        pending.deliver(.unanswered(pending.request, .expired))
    }

    func finished(_ id: String) {
        live.removeValue(forKey: id)
        if let cluster { Task { await cluster.release(id) } }
    }
}

extension SessionService: ApprovalGate {}

extension ApprovalDecision {
    /// Nobody decided: the request was cancelled or expired; every reference stays unapproved.
    static func unanswered(_ request: ApprovalRequest, _ outcome: Outcome, comment: String? = nil) -> ApprovalDecision {
        ApprovalDecision(
            requestID: request.requestID, outcome: outcome, approvedReferences: [], deniedReferences: request.references,
            approver: nil, comment: comment, decidedAt: Date()
        )
    }
}
