import DiagnosisModel
import Foundation
import Logging
import Orchestrator
import Redaction
import Secrets
import Systemd

/// One session from start to report: plan → approval → credentials → runners → synthesis.
///
/// Every step is an event in the session's log. A cancelled session stops its runners and ends
/// `cancelled`; a failure of any one domain only marks that domain.
struct SessionRun: Sendable {
    let service: SessionService
    let session: SessionService.LiveSession
    let inventory: EnvironmentInventory

    private var log: SessionLog { session.log }

    struct Cancelled: Error { let reason: String }

    func execute() async {
        let started = ContinuousClock.now
        let id = await log.record.id
        let logger = service.logger.with(LogKey.sessionID, id)
        var secrets: [String: [String]] = [:]
        do {
            let report = try await diagnose(started: started, logger: logger, secrets: &secrets)
            let finalStatus: SessionStatus = report.domains.allSatisfy({ $0.outcome == .skipped && ($0.reason ?? "").contains("expired") }) && !report.domains.isEmpty ? .expired : .completed
            try await log.append(.status(.init(status: finalStatus, phase: .done, progress: 1, message: report.summary)))
            logger.notice("session \(finalStatus.rawValue): \(report.summary)", metadata: [LogKey.messageID: "\(MessageID.sessionFinished)"])
        } catch let cancelled as Cancelled {
            let record = await log.record
            _ = try? await log.append(.status(.init(status: .cancelled, phase: record.phase, progress: record.progress, message: cancelled.reason)))
            logger.notice("session cancelled: \(cancelled.reason)", metadata: [LogKey.messageID: "\(MessageID.sessionFinished)"])
        } catch {
            let record = await log.record
            _ = try? await log.append(.status(.init(status: .failed, phase: record.phase, progress: record.progress, message: "internal error: \(error)")))
            logger.error("session failed: \(error)", metadata: [LogKey.messageID: "\(MessageID.sessionFinished)"])
        }
        for (reference, _) in secrets { service.secretScrubber.remove(reference: reference, session: id) }
        let finalStatus = await log.record.status
        service.metrics.sessionFinished(finalStatus)
        await service.finished(id)
    }

    private func checkCancelled() async throws {
        if let reason = await service.cancelReason(of: session) { throw Cancelled(reason: reason) }
    }

    private func diagnose(started: ContinuousClock.Instant, logger: Logger, secrets: inout [String: [String]]) async throws -> DiagnosisReport {
        let record = await log.record

        // 1. Plan.
        try await log.append(.status(.init(status: .analyzing, phase: .planning, progress: 0.05, message: "planning which domains to examine")))
        let input = PlanningInput(problem: record.problem, environment: inventory, context: record.context)
        let plan: DiagnosisPlan
        do {
            plan = try await service.planner.plan(input)
        } catch {
            try await log.append(.notice(.init(message: "the planner failed (\(error)); using the rule-based planner")))
            plan = try await service.fallbackPlanner.plan(input)
        }
        await service.setPlan(plan, for: session)
        try await log.append(.plan(plan))
        let planned = ContinuousClock.now
        try await checkCancelled()

        // 2. Approval of credential references.
        var unavailable: [String: String] = [:]
        var askable: [ApprovalItem] = []
        for need in plan.credentialNeeds {
            if let reference = try? CredentialReference(parsing: need.reference), let refusal = service.broker.refusal(for: reference) {
                unavailable[need.reference] = refusal
                try await log.append(.credentialFailed(.init(reference: need.reference, provider: service.broker.providerName(for: reference), error: refusal)))
            } else if let existing = askable.firstIndex(where: { $0.reference == need.reference }) {
                askable[existing].probes += need.probes
            } else {
                askable.append(ApprovalItem(reference: need.reference, domain: need.domain, probes: need.probes, purpose: need.purpose))
            }
        }
        var approved: [String] = []
        var approvalWait: Duration = .zero
        if !askable.isEmpty {
            let now = Date()
            let request = ApprovalRequest(
                requestID: UUID().uuidString.lowercased(), items: askable, requestedAt: now,
                expiresAt: now.addingTimeInterval(Double(service.settings.approvalTimeout.components.seconds)), requester: record.requester
            )
            let pending = await service.openApproval(request, for: session)
            try await log.append(.approvalRequested(request))
            try await service.audit(AuditEntry(
                sessionID: record.id, requestID: request.requestID, action: .requested, actor: record.requester,
                uid: session.requester.uid, transport: session.requester.transport.rawValue, references: request.references, at: now
            ))
            logger.notice(
                "approval requested for \(request.references.joined(separator: ", "))",
                metadata: [LogKey.messageID: "\(MessageID.approvalRequested)"]
            )
            try await log.append(.status(.init(status: .awaitingApproval, phase: .awaitingApproval, progress: 0.15, message: "waiting for a human to approve \(request.references.count) credential reference(s)")))
            let waitStarted = ContinuousClock.now
            let decision = await service.awaitDecision(pending, for: session)
            approvalWait = ContinuousClock.now - waitStarted
            try await checkCancelled()
            try await log.append(.approvalDecided(decision))
            let action: AuditEntry.Action = switch decision.outcome {
            case .approved: .approved
            case .partial: .partiallyApproved
            case .denied: .denied
            case .expired: .expired
            }
            try await service.audit(AuditEntry(
                sessionID: record.id, requestID: request.requestID, action: action, actor: decision.approver ?? "system",
                uid: pending.decidedBy?.uid, transport: pending.decidedBy?.transport.rawValue,
                references: decision.outcome == .denied || decision.outcome == .expired ? decision.deniedReferences : decision.approvedReferences,
                comment: decision.comment, at: decision.decidedAt
            ))
            logger.notice(
                "approval \(decision.outcome.rawValue) by \(decision.approver ?? "nobody"): approved [\(decision.approvedReferences.joined(separator: ", "))], not approved [\(decision.deniedReferences.joined(separator: ", "))]",
                metadata: [LogKey.messageID: "\(MessageID.approvalDecided)"]
            )
            approved = decision.approvedReferences
            for reference in decision.deniedReferences {
                unavailable[reference] = switch decision.outcome {
                case .expired: "approval expired after \(DurationText.format(service.settings.approvalTimeout)) without a decision"
                case .partial: "approval not granted\(decision.approver.map { " by \($0)" } ?? "") (approved a subset)\(decision.comment.map { ": \($0)" } ?? "")"
                default: "approval denied\(decision.approver.map { " by \($0)" } ?? "")\(decision.comment.map { ": \($0)" } ?? "")"
                }
            }
        }

        // 3. Resolve what was approved.
        var resolved: [String: ResolvedCredential] = [:]
        var credentialFindings: [Finding] = []
        if !approved.isEmpty {
            try await log.append(.status(.init(status: .diagnosing, phase: .resolvingCredentials, progress: 0.2, message: "resolving \(approved.count) approved credential(s)")))
            let broker = service.broker
            let results = await withTaskGroup(of: (String, Result<ResolvedCredential, SecretError>).self) { group in
                for reference in approved { group.addTask { (reference, await broker.resolve(reference)) } }
                var all: [(String, Result<ResolvedCredential, SecretError>)] = []
                for await item in group { all.append(item) }
                return all.sorted { $0.0 < $1.0 }
            }
            for (reference, result) in results {
                let provider = (try? CredentialReference(parsing: reference)).map(broker.providerName(for:)) ?? "none"
                switch result {
                case .success(let credential):
                    resolved[reference] = credential
                    secrets[reference] = credential.secretValues
                    service.secretScrubber.add(credential, session: record.id)
                    try await log.append(.credentialResolved(.init(reference: reference, provider: provider)))
                    try await service.audit(AuditEntry(sessionID: record.id, requestID: nil, action: .resolved, actor: "system", references: [reference], provider: provider, at: Date()))
                    logger.notice("credential \(reference) resolved via \(provider)", metadata: [LogKey.messageID: "\(MessageID.credentialResolved)"])
                case .failure(let error):
                    unavailable[reference] = "could not be resolved: \(error.reason)"
                    try await log.append(.credentialFailed(.init(reference: reference, provider: provider, error: error.reason)))
                    try await service.audit(AuditEntry(sessionID: record.id, requestID: nil, action: .resolveFailed, actor: "system", references: [reference], provider: provider, comment: error.reason, at: Date()))
                    logger.warning("credential \(reference) could not be resolved via \(provider): \(error.reason)", metadata: [LogKey.messageID: "\(MessageID.credentialResolved)"])
                    let domain = plan.credentialNeeds.first { $0.reference == reference }?.domain ?? .host
                    credentialFindings.append(Finding(
                        id: "credentials-\(credentialFindings.count + 1)", domain: domain, probe: "credentials",
                        draft: FindingDraft(
                            code: "cred.resolve_failed", severity: .high, target: reference,
                            title: "Credential \(reference) could not be resolved",
                            detail: "\(provider): \(error.reason). The probes that need it did not run.",
                            evidence: [.text("provider", provider), .text("error", error.reason)],
                            remediation: "Check that \(reference) exists and that the daemon's \(provider) access works (service-account token, LoadCredential=)."
                        ),
                        observedAt: Date()
                    ))
                }
            }
            await log.setRedactor(Redactor(secrets: resolved.mapValues(\.secretValues)))
        }
        for (reference, reason) in unavailable where reason.hasPrefix("approval") {
            let domain = plan.credentialNeeds.first { $0.reference == reference }?.domain ?? .host
            let expired = reason.contains("expired")
            credentialFindings.append(Finding(
                id: "credentials-\(credentialFindings.count + 1)", domain: domain, probe: "credentials",
                draft: FindingDraft(
                    code: expired ? "cred.expired" : "cred.denied", severity: .info, target: reference,
                    title: expired ? "Approval for \(reference) expired" : "Credential \(reference) was not approved",
                    detail: "\(reason). Probes that need it did not run; the report says what that leaves open.",
                    remediation: expired ? "Start a new diagnosis and approve within \(DurationText.format(service.settings.approvalTimeout))." : ""
                ),
                observedAt: Date()
            ))
        }
        for finding in credentialFindings { try await log.append(.finding(finding)) }
        try await checkCancelled()

        // 4. Runners, one per domain, in parallel (the supervisor bounds how many at once).
        try await log.append(.status(.init(status: .diagnosing, phase: .runningDiagnostics, progress: 0.2, message: "running \(plan.domains.count) domain(s)")))
        let diagnosticsStarted = ContinuousClock.now
        let deadline = service.settings.runnerDeadline
        let resolvedCredentials = resolved
        let unavailableReasons = unavailable
        var outcomes = try await runDomains(plan.domains, resolved: resolvedCredentials, unavailable: unavailableReasons, deadline: deadline)
        try await checkCancelled()

        // 4b. One follow-up round, when the planner wants to look further after the first results.
        if let followUp = service.planner as? any FollowUpPlanner, plan.planner == "llm" {
            let firstFindings = try await service.store.findings(sessionID: record.id)
            do {
                let extra = try await followUp.followUp(input, plan: plan, findings: firstFindings)
                    .filter { $0.credential == nil || resolvedCredentials[$0.credential ?? ""] != nil }
                if !extra.isEmpty {
                    try await log.append(.notice(.init(message: "follow-up round: \(extra.map(\.id).joined(separator: ", "))")))
                    let available = InventoryProbes.all(in: inventory)
                    let byDomain = Domain.allCases.compactMap { domain -> DomainPlan? in
                        let probes = extra.filter { request in available[domain]?.contains { $0.id == request.id } == true }
                        return probes.isEmpty ? nil : DomainPlan(domain: domain, probes: probes, rationale: "follow-up chosen by the model")
                    }
                    let second = try await runDomains(byDomain, resolved: resolvedCredentials, unavailable: unavailableReasons, deadline: deadline)
                    outcomes = Self.merge(outcomes, second)
                }
            } catch {
                try await log.append(.notice(.init(message: "no follow-up round: the planner failed (\(error))")))
            }
            try await checkCancelled()
        }

        // 5. Report.
        let diagnosed = ContinuousClock.now
        try await log.append(.status(.init(status: .synthesizing, phase: .synthesizing, progress: 0.92, message: "ranking probable causes")))
        let findings = try await service.store.findings(sessionID: record.id)
        var synthesisInput = SynthesisInput(
            sessionID: record.id, problem: record.problem, environment: record.environment,
            findings: findings, domains: outcomes, timings: .init()
        )
        let synthesisStarted = ContinuousClock.now
        var report: DiagnosisReport
        do {
            report = try await service.synthesizer.synthesize(synthesisInput)
        } catch {
            try await log.append(.notice(.init(message: "the synthesizer failed (\(error)); using the rule-based synthesizer")))
            synthesisInput.findings = findings
            report = try await RuleSynthesizer().synthesize(synthesisInput)
        }
        let end = ContinuousClock.now
        report.timings = .init(
            totalMs: (end - started).milliseconds, planningMs: (planned - started).milliseconds,
            approvalWaitMs: approvalWait.milliseconds, diagnosticsMs: (diagnosed - diagnosticsStarted).milliseconds,
            synthesisMs: (end - synthesisStarted).milliseconds
        )
        try await log.append(.report(report))
        return report
    }

    private func runDomains(_ plans: [DomainPlan], resolved: [String: ResolvedCredential], unavailable: [String: String], deadline: Duration) async throws -> [DomainOutcome] {
        try await withThrowingTaskGroup(of: DomainOutcome.self) { group in
            for domainPlan in plans {
                group.addTask { try await runDomain(domainPlan, resolved: resolved, unavailable: unavailable, deadline: deadline) }
            }
            var outcomes: [DomainOutcome] = []
            for try await outcome in group { outcomes.append(outcome) }
            return outcomes.sorted { $0.domain < $1.domain }
        }
    }

    /// Combines two rounds' outcomes per domain (the worse outcome wins).
    static func merge(_ first: [DomainOutcome], _ second: [DomainOutcome]) -> [DomainOutcome] {
        func rank(_ outcome: DomainOutcome.Outcome) -> Int {
            switch outcome { case .failed: 3; case .issues: 2; case .ok: 1; case .skipped: 0 }
        }
        var merged = first
        for outcome in second {
            if let index = merged.firstIndex(where: { $0.domain == outcome.domain }) {
                var existing = merged[index]
                if rank(outcome.outcome) > rank(existing.outcome) {
                    existing.outcome = outcome.outcome
                    existing.reason = outcome.reason ?? existing.reason
                }
                existing.probes += outcome.probes
                existing.findings = max(existing.findings, outcome.findings)
                existing.durationMs = (existing.durationMs ?? 0) + (outcome.durationMs ?? 0)
                merged[index] = existing
            } else {
                merged.append(outcome)
            }
        }
        return merged.sorted { $0.domain < $1.domain }
    }

    /// Runs one domain's runner (or skips it) and records how it went.
    private func runDomain(
        _ plan: DomainPlan, resolved: [String: ResolvedCredential], unavailable: [String: String], deadline: Duration
    ) async throws -> DomainOutcome {
        let record = await log.record
        var skippedReasons: [String] = []
        var runnable: [ProbeRequest] = []
        for probe in plan.probes {
            if let reference = probe.credential, resolved[reference] == nil {
                let reason = "\(reference): \(unavailable[reference] ?? "not approved")"
                if !skippedReasons.contains(reason) { skippedReasons.append(reason) }
            } else {
                runnable.append(probe)
            }
        }
        guard !runnable.isEmpty else {
            let reason = skippedReasons.joined(separator: "; ")
            try await log.append(.domain(.init(domain: plan.domain, state: .skipped, reason: reason)))
            return DomainOutcome(domain: plan.domain, outcome: .skipped, reason: reason)
        }
        let references = Set(runnable.compactMap(\.credential))
        let job = RunnerJob(
            sessionID: record.id, domain: plan.domain, probes: runnable,
            credentials: resolved.filter { references.contains($0.key) },
            deadline: Date().addingTimeInterval(Double(deadline.components.seconds) + Double(deadline.components.attoseconds) / 1e18)
        )
        let (events, continuation) = AsyncStream<RunnerEvent>.makeStream()
        let log = self.log
        let domain = plan.domain
        let relay = Task {
            var findings = 0
            for await event in events {
                switch event {
                case .queued(let position):
                    _ = try? await log.append(.domain(.init(domain: domain, state: .queued, queuePosition: position)))
                case .started(let runnerID, let pid):
                    _ = try? await log.append(.domain(.init(domain: domain, state: .running, runnerID: runnerID, pid: pid)))
                case .progress(let update):
                    _ = try? await log.append(.probeProgress(.init(domain: domain, probe: update.probe, state: update.state.rawValue, fraction: update.fraction)))
                case .finding(let finding):
                    findings += 1
                    _ = try? await log.append(.finding(finding))
                case .log(let line):
                    _ = try? await log.append(.runnerLog(.init(domain: domain, level: line.level.rawValue, message: line.message)))
                }
            }
            return findings
        }
        let started = ContinuousClock.now
        let result = await service.supervisor.run(job, events: continuation)
        continuation.finish()
        _ = await relay.value
        let elapsed = (ContinuousClock.now - started).milliseconds
        let domainFindings = try await service.store.findings(sessionID: record.id).filter { $0.domain == domain && $0.probe != "credentials" }
        let hasIssues = domainFindings.contains { $0.severity != .ok && $0.severity != .info }
        let skippedNote = skippedReasons.isEmpty ? nil : "some probes did not run: " + skippedReasons.joined(separator: "; ")
        switch result {
        case .completed(let done):
            service.metrics.recordProbes(done.outcomes, domain: domain)
            try await log.append(.domain(.init(domain: domain, state: .completed, reason: skippedNote, probes: done.outcomes)))
            return DomainOutcome(domain: domain, outcome: hasIssues ? .issues : .ok, reason: skippedNote, findings: domainFindings.count, durationMs: elapsed, probes: done.outcomes)
        case .failed(let reason, let partial):
            try await log.append(.domain(.init(domain: domain, state: .failed, reason: reason, probes: partial?.outcomes)))
            return DomainOutcome(domain: domain, outcome: .failed, reason: reason, findings: domainFindings.count, durationMs: elapsed, probes: partial?.outcomes ?? [])
        }
    }
}

extension Logger {
    func with(_ key: String, _ value: String) -> Logger {
        var copy = self
        copy[metadataKey: key] = "\(value)"
        return copy
    }
}

extension Duration {
    var milliseconds: Double {
        ((Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15) * 10).rounded() / 10
    }
}
