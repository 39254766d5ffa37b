import DiagnosisModel
import Foundation
import Logging
import Orchestrator
import Redaction
import Secrets
import SessionStore
import Systemd

/// What a session run uses: everything but the approval gate, which is the service's.
struct SessionDependencies: Sendable {
    let settings: SessionService.Settings
    let store: any SessionStore
    let planner: any Planner
    /// Used when the planner fails (an LLM that times out or answers nonsense).
    let fallbackPlanner: RulePlanner
    let synthesizer: any Synthesizer
    let supervisor: RunnerSupervisor
    let broker: SecretBroker
    let metrics: DaemonMetrics
    let secretScrubber: SecretScrubber
    let logger: Logger
    /// Where approval requests and reports are announced (nil: no sinks configured).
    var notifications: NotificationHook?
}

/// Where a run waits for a human: the service opens an approval request and delivers the
/// decision (or its expiry, or a cancellation).
protocol ApprovalGate: Sendable {
    func openApproval(_ request: ApprovalRequest, for session: SessionService.LiveSession) async -> SessionService.PendingApproval
    func awaitDecision(_ pending: SessionService.PendingApproval, for session: SessionService.LiveSession) async -> ApprovalDecision
    /// Whether the decision was stored: the approver's answer waits for it.
    func decisionStored(_ pending: SessionService.PendingApproval, _ result: Result<Void, any Error>) async
}

/// One session from start to report, in phases — plan → approval → credentials → diagnostics
/// → synthesis — each in its own file with a typed input and output.
///
/// Every step is an event in the session's log. A cancelled session stops its runners and ends
/// `cancelled`; a failure of any one domain only marks that domain.
struct SessionRun: Sendable {
    let dependencies: SessionDependencies
    let gate: any ApprovalGate
    let session: SessionService.LiveSession
    let inventory: EnvironmentInventory
    let logger: Logger
    /// Set when this daemon took the session over from another: where to continue.
    var resume: ResumePoint?

    var log: SessionLog { session.log }

    struct Cancelled: Error { let reason: String }

    init(dependencies: SessionDependencies, gate: any ApprovalGate, session: SessionService.LiveSession, inventory: EnvironmentInventory, sessionID: String) {
        self.dependencies = dependencies
        self.gate = gate
        self.session = session
        self.inventory = inventory
        self.logger = dependencies.logger.with(LogKey.sessionID, sessionID)
    }

    /// Runs the session to its final status; never throws.
    func execute() async {
        let id = session.id
        var credentials = Credentials()
        do {
            let (report, allExpired) = try await diagnose(credentials: &credentials)
            let finalStatus: SessionStatus = allExpired ? .expired : .completed
            try await log.append(.status(.init(status: finalStatus, phase: .done, progress: 1, message: report.summary)))
            logger.notice("session \(finalStatus.rawValue): \(report.summary)", metadata: [LogKey.messageID: "\(MessageID.sessionFinished)"])
        } catch {
            await ended(by: error)
        }
        for reference in credentials.resolved.keys { dependencies.secretScrubber.remove(reference: reference, session: id) }
        if !(await log.isHandedOver) { dependencies.metrics.sessionFinished(await log.record.status) }
    }

    /// Records why the run ended early: handed over (not an end: another daemon continues the
    /// session from its log), cancelled, or an internal error.
    private func ended(by error: any Error) async {
        let record = await log.latest
        if await log.isHandedOver {
            logger.notice("session handed over to another daemon")
        } else if let cancelled = error as? Cancelled {
            _ = try? await log.append(.status(.init(status: .cancelled, phase: record.phase, progress: record.progress, message: cancelled.reason)))
            logger.notice("session cancelled: \(cancelled.reason)", metadata: [LogKey.messageID: "\(MessageID.sessionFinished)"])
        } else {
            _ = try? await log.append(.status(.init(status: .failed, phase: record.phase, progress: record.progress, message: "internal error: \(error)")))
            logger.error("session failed: \(error)", metadata: [LogKey.messageID: "\(MessageID.sessionFinished)"])
        }
    }

    /// The phases in order; returns the report and whether every domain was lost to expiry.
    private func diagnose(credentials: inout Credentials) async throws -> (DiagnosisReport, allExpired: Bool) {
        var clock = PhaseClock()
        if let report = resume?.report { return (report, false) }  // only the final status was missing
        let plan: DiagnosisPlan
        if let stored = resume?.plan {
            session.plan = stored
            plan = stored
        } else {
            plan = try await planPhase()
        }
        clock.planned()
        try checkCancelled()

        let approvals = if let resume { try await resumedApprovals(plan, at: resume) } else { try await approvalPhase(plan) }
        clock.approvalWait = approvals.waited
        try checkCancelled()

        credentials = try await credentialPhase(plan, approvals: approvals, announceUnavailable: !(resume?.credentialsAnnounced ?? false))
        try checkCancelled()

        clock.diagnosticsStarted()
        let diagnostics = try await diagnosticsPhase(plan, credentials: credentials, finished: resume?.finishedDomains ?? [:])
        clock.diagnosed()

        let report = try await synthesisPhase(diagnostics, clock: clock, leavingOut: resume?.staleFindingIDs ?? [])
        return (report, diagnostics.allSkippedByExpiry)
    }

    func checkCancelled() throws {
        if let reason = session.cancelReason { throw Cancelled(reason: reason) }
    }
}

/// When each phase started and ended, for the report's timings.
struct PhaseClock {
    let started = ContinuousClock.now
    private(set) var planning: Duration = .zero
    var approvalWait: Duration = .zero
    private var diagnosticsStart = ContinuousClock.now
    private(set) var diagnostics: Duration = .zero

    mutating func planned() { planning = ContinuousClock.now - started }
    mutating func diagnosticsStarted() { diagnosticsStart = ContinuousClock.now }
    mutating func diagnosed() { diagnostics = ContinuousClock.now - diagnosticsStart }
}

extension Logger {
    func with(_ key: String, _ value: String) -> Logger {
        var copy = self
        copy[metadataKey: key] = "\(value)"
        return copy
    }
}
