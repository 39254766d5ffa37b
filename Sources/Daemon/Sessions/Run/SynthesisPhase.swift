import DiagnosisModel
import Orchestrator

extension SessionRun {
    /// Phase 5: ranks probable causes from the log's (redacted) findings — the rules when the
    /// synthesizer fails — and records the report with its timings.
    ///
    /// `leavingOut`: findings of a domain run that another daemon did not finish (run again).
    func synthesisPhase(_ diagnostics: Diagnostics, clock: PhaseClock, leavingOut stale: Set<String> = []) async throws -> DiagnosisReport {
        try await log.emit(.status(.init(status: .synthesizing, phase: .synthesizing, progress: 0.92, message: "ranking probable causes")))
        let record = await log.latest
        let input = SynthesisInput(
            sessionID: record.id, problem: record.problem, environment: record.environment, context: record.context,
            findings: await log.latestFindings.filter { !stale.contains($0.id) }, domains: diagnostics.outcomes, timings: .init()
        )
        let synthesisStarted = ContinuousClock.now
        var report: DiagnosisReport
        do {
            report = try await dependencies.synthesizer.synthesize(input)
        } catch {
            try await log.emit(.notice(.init(message: "the synthesizer failed (\(error)); using the rule-based synthesizer")))
            report = try await RuleSynthesizer().synthesize(input)
        }
        let end = ContinuousClock.now
        report.timings = .init(
            totalMs: (end - clock.started).milliseconds, planningMs: clock.planning.milliseconds, approvalWaitMs: clock.approvalWait.milliseconds,
            diagnosticsMs: clock.diagnostics.milliseconds, synthesisMs: (end - synthesisStarted).milliseconds
        )
        try await log.emit(.report(report))
        return report
    }
}
