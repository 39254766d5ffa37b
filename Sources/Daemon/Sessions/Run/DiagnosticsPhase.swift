import DiagnosisModel
import Foundation
import Logging
import Orchestrator
import RunnerProtocol
import Systemd

/// What the runners found, per domain.
struct Diagnostics: Sendable {
    var outcomes: [DomainOutcome] = []
    /// Domains skipped entirely, and the reasons of their references.
    var skipped: [Domain: [UnexaminedReason]] = [:]

    /// Every domain was skipped, and only because approval expired: the session `expired`.
    var allSkippedByExpiry: Bool {
        !outcomes.isEmpty && outcomes.allSatisfy { outcome in
            outcome.outcome == .skipped && (skipped[outcome.domain].map { !$0.isEmpty && $0.allSatisfy(\.isExpiry) } ?? false)
        }
    }
}

/// One domain's run: its outcome, and why probes did not run when some did not.
struct DomainRun: Sendable {
    var outcome: DomainOutcome
    var skipped: [UnexaminedReason] = []
}

extension SessionRun {
    /// Phase 4: one runner per domain, in parallel (the supervisor bounds how many at once),
    /// then one follow-up round when an LLM planner wants to look further.
    ///
    /// `finished`: domains a previous owner of the session had finished — kept, not run again.
    func diagnosticsPhase(_ plan: DiagnosisPlan, credentials: Credentials, finished: [Domain: DomainOutcome] = [:]) async throws -> Diagnostics {
        let toRun = plan.domains.filter { finished[$0.domain] == nil }
        // No credential leaves the daemon before the audit of its resolution is stored. The
        // status below is not waited for: it is written while the runners start.
        if !credentials.resolved.isEmpty { try await log.flush() }
        try await log.emit(.status(.init(status: .diagnosing, phase: .runningDiagnostics, progress: 0.2, message: "running \(toRun.count) domain(s)")))
        var diagnostics = Diagnostics()
        diagnostics.add(finished.values.sorted { $0.domain < $1.domain }.map { DomainRun(outcome: $0) })
        diagnostics.add(try await runDomains(toRun, credentials: credentials))
        try checkCancelled()
        if let extra = try await followUpPlans(plan, credentials: credentials) {
            let second = try await runDomains(extra, credentials: credentials)
            diagnostics.outcomes = DomainOutcome.merge(diagnostics.outcomes, second.map(\.outcome))
            try checkCancelled()
        }
        return diagnostics
    }

    /// The follow-up round's domains, or nil (no follow-up planner, nothing asked, a failure).
    private func followUpPlans(_ plan: DiagnosisPlan, credentials: Credentials) async throws -> [DomainPlan]? {
        guard let followUp = dependencies.planner as? any FollowUpPlanner, plan.planner == "llm" else { return nil }
        // The log's findings: redacted, as anything that reaches a model must be.
        let firstFindings = await log.latestFindings
        do {
            let extra = try await followUp.followUp(await planningInput(), plan: plan, findings: firstFindings)
                .filter { $0.credential.map { credentials.resolved[$0] != nil } ?? true }
            guard !extra.isEmpty else { return nil }
            try await log.emit(.notice(.init(message: "follow-up round: \(extra.map(\.id).joined(separator: ", "))")))
            let available = InventoryProbes.all(in: inventory)
            return Domain.allCases.compactMap { domain in
                let probes = extra.filter { request in available[domain]?.contains { $0.id == request.id } == true }
                return probes.isEmpty ? nil : DomainPlan(domain: domain, probes: probes, rationale: "follow-up chosen by the model")
            }
        } catch {
            try await log.emit(.notice(.init(message: "no follow-up round: the planner failed (\(error))")))
            return nil
        }
    }

    private func runDomains(_ plans: [DomainPlan], credentials: Credentials) async throws -> [DomainRun] {
        try await withThrowingTaskGroup(of: DomainRun.self) { group in
            for domainPlan in plans {
                group.addTask { try await runDomain(domainPlan, credentials: credentials) }
            }
            var runs: [DomainRun] = []
            for try await run in group { runs.append(run) }
            return runs.sorted { $0.outcome.domain < $1.outcome.domain }
        }
    }

    /// Runs one domain's runner (or skips it when none of its probes can run) and records how
    /// it went.
    private func runDomain(_ plan: DomainPlan, credentials: Credentials) async throws -> DomainRun {
        let domain = plan.domain
        var skipped: [(reference: String, reason: UnexaminedReason)] = []
        var runnable: [ProbeRequest] = []
        for probe in plan.probes {
            if let reference = probe.credential, credentials.resolved[reference] == nil {
                let reason = credentials.unavailable[reference] ?? .denied(by: nil, comment: nil)
                if !skipped.contains(where: { $0.reference == reference }) { skipped.append((reference, reason)) }
            } else {
                runnable.append(probe)
            }
        }
        let skippedText = skipped.map { "\($0.reference): \($0.reason.sentence)" }.joined(separator: "; ")
        guard !runnable.isEmpty else {
            try await log.emit(.domain(.init(domain: domain, state: .skipped, reason: skippedText)))
            return DomainRun(outcome: DomainOutcome(domain: domain, outcome: .skipped, reason: skippedText), skipped: skipped.map(\.reason))
        }
        let references = Set(runnable.compactMap(\.credential))
        let job = RunnerJob(
            sessionID: session.id, domain: domain, probes: runnable, credentials: credentials.resolved.filter { references.contains($0.key) },
            deadline: Date().addingTimeInterval(dependencies.settings.runnerDeadline.inSeconds)
        )
        let domainLogger = logger.with(LogKey.domain, domain.rawValue)
        domainLogger.info("\(domain.rawValue): running \(runnable.count) probe(s): \(runnable.map(\.id).joined(separator: ", "))")
        let started = ContinuousClock.now
        let (result, findings) = await runJob(job, logger: domainLogger)
        let elapsed = (ContinuousClock.now - started).milliseconds
        switch result {
        case .completed: domainLogger.info("\(domain.rawValue) completed in \(Int(elapsed)) ms: \(findings.filter { $0.severity >= .low }.count) problem finding(s) of \(findings.count)")
        case .failed(let reason, _): domainLogger.warning("\(domain.rawValue) failed after \(Int(elapsed)) ms: \(reason)")
        }
        let note = skipped.isEmpty ? nil : "some probes did not run: " + skippedText
        switch result {
        case .completed(let done):
            dependencies.metrics.recordProbes(done.outcomes, domain: domain)
            try await log.emit(.domain(.init(domain: domain, state: .completed, reason: note, probes: done.outcomes)))
            let issues = findings.contains { $0.severity != .ok && $0.severity != .info }
            return DomainRun(
                outcome: DomainOutcome(domain: domain, outcome: issues ? .issues : .ok, reason: note, findings: findings.count, durationMs: elapsed, probes: done.outcomes),
                skipped: skipped.map(\.reason)
            )
        case .failed(let reason, let partial):
            try await log.emit(.domain(.init(domain: domain, state: .failed, reason: reason, probes: partial?.outcomes)))
            return DomainRun(
                outcome: DomainOutcome(domain: domain, outcome: .failed, reason: reason, findings: findings.count, durationMs: elapsed, probes: partial?.outcomes ?? []),
                skipped: skipped.map(\.reason)
            )
        }
    }

    /// Runs the job through the supervisor, relaying its events into the session's log as they
    /// come; returns the result and the domain's findings.
    private func runJob(_ job: RunnerJob, logger: Logger) async -> (RunnerResult, [Finding]) {
        let (events, continuation) = AsyncStream<RunnerEvent>.makeStream()
        let log = self.log
        let domain = job.domain
        let relay = Task {
            var findings: [Finding] = []
            for await event in events {
                switch event {
                case .queued(let position):
                    _ = try? await log.emit(.domain(.init(domain: domain, state: .queued, queuePosition: position)))
                case .started(let runnerID, let pid):
                    _ = try? await log.emit(.domain(.init(domain: domain, state: .running, runnerID: runnerID, pid: pid)))
                case .progress(let update):
                    _ = try? await log.emit(.probeProgress(.init(domain: domain, probe: update.probe, state: update.state.rawValue, fraction: update.fraction)))
                case .finding(let finding):
                    findings.append(finding)
                    _ = try? await log.emit(.finding(finding))
                case .log(let line):
                    _ = try? await log.emit(.runnerLog(.init(domain: domain, level: line.level.rawValue, message: line.message)))
                    // Into the journal too, with SRE_DOMAIN and SRE_PROBE (already redacted).
                    var probeLogger = logger
                    if let probe = line.probe { probeLogger[metadataKey: LogKey.probe] = "\(probe)" }
                    probeLogger.log(level: line.level.loggerLevel, "\(line.message)")
                }
            }
            return findings
        }
        let result = await dependencies.supervisor.run(job, events: continuation)
        continuation.finish()
        return (result, await relay.value)
    }
}

extension Diagnostics {
    mutating func add(_ runs: [DomainRun]) {
        outcomes = DomainOutcome.merge(outcomes, runs.map(\.outcome))
        for run in runs where run.outcome.outcome == .skipped { skipped[run.outcome.domain, default: []] += run.skipped }
    }
}

extension DomainOutcome {
    /// Combines two rounds' outcomes per domain (the worse outcome wins).
    static func merge(_ first: [DomainOutcome], _ second: [DomainOutcome]) -> [DomainOutcome] {
        func rank(_ outcome: DomainOutcome.Outcome) -> Int {
            switch outcome { case .failed: 3; case .issues: 2; case .ok: 1; case .skipped: 0 }
        }
        var merged = first
        for outcome in second {
            guard let index = merged.firstIndex(where: { $0.domain == outcome.domain }) else {
                merged.append(outcome)
                continue
            }
            var existing = merged[index]
            if rank(outcome.outcome) > rank(existing.outcome) {
                existing.outcome = outcome.outcome
                existing.reason = outcome.reason ?? existing.reason
            }
            existing.probes += outcome.probes
            existing.findings = max(existing.findings, outcome.findings)
            existing.durationMs = (existing.durationMs ?? 0) + (outcome.durationMs ?? 0)
            merged[index] = existing
        }
        return merged.sorted { $0.domain < $1.domain }
    }
}

extension LogLine.Level {
    var loggerLevel: Logger.Level {
        switch self {
        case .debug: .debug
        case .info: .info
        case .warning: .warning
        case .error: .error
        }
    }
}
