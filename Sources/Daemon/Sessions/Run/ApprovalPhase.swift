import DiagnosisModel
import Foundation
import Systemd

/// What the approval phase settled: the references a human approved, and why the others are
/// unavailable.
struct Approvals: Sendable {
    var approved: [String] = []
    var unavailable: [String: UnexaminedReason] = [:]
    var waited: Duration = .zero

    func applying(_ decision: ApprovalDecision, reason: UnexaminedReason) -> Approvals {
        var approvals = self
        approvals.approved = decision.approvedReferences
        for reference in decision.deniedReferences { approvals.unavailable[reference] = reason }
        return approvals
    }
}

extension SessionRun {
    /// Phase 2: asks a human to approve the credential references the plan needs (those the
    /// broker would resolve at all), and waits for the decision or its expiry.
    func approvalPhase(_ plan: DiagnosisPlan) async throws -> Approvals {
        var approvals = Approvals()
        var askable: [ApprovalItem] = []
        for need in plan.credentialNeeds {
            if let reference = try? CredentialReference(parsing: need.reference), let refusal = dependencies.broker.refusal(for: reference) {
                approvals.unavailable[need.reference] = .refused(refusal)
                try await log.emit(.credentialFailed(.init(reference: need.reference, provider: dependencies.broker.providerName(for: reference), error: refusal)))
            } else if let existing = askable.firstIndex(where: { $0.reference == need.reference }) {
                askable[existing].probes += need.probes
            } else {
                askable.append(need)
            }
        }
        guard !askable.isEmpty else { return approvals }

        if let standing = standingApproval(covering: askable) {
            approvals.approved = askable.map(\.reference)
            try await useStanding(standing, for: try await openRequest(for: askable))
            return approvals
        }
        let request = try await openRequest(for: askable)
        let pending = await gate.openApproval(request, for: session)
        try await announce(request)
        return try await decide(pending, adding: approvals)
    }

    /// Waits for the decision on an opened request (or its expiry) and records it.
    private func decide(_ pending: SessionService.PendingApproval, adding approvals: Approvals) async throws -> Approvals {
        var approvals = approvals
        let waitStarted = ContinuousClock.now
        let decision = await gate.awaitDecision(pending, for: session)
        approvals.waited = ContinuousClock.now - waitStarted
        do {
            try checkCancelled()
            try await record(decision, of: pending.request, by: pending.decidedBy)
            await gate.decisionStored(pending, .success(()))
        } catch {
            await gate.decisionStored(pending, .failure(error))
            throw error
        }
        return approvals.applying(decision, reason: reason(for: decision))
    }

    /// Phase 2 of a session taken over from another daemon: a decision already taken stands; a
    /// request still open keeps waiting under its id (approvers' links and clients still work,
    /// its expiry unchanged); a plan never put to approval is put to it now.
    func resumedApprovals(_ plan: DiagnosisPlan, at point: ResumePoint) async throws -> Approvals {
        if let (_, decision) = point.decided {
            return Approvals().applying(decision, reason: reason(for: decision))
        }
        if let request = point.openRequest {
            let pending = await gate.openApproval(request, for: session)
            return try await decide(pending, adding: Approvals())
        }
        return try await approvalPhase(plan)
    }

    /// A standing approval of this session's that covers every reference, if one is in force.
    private func standingApproval(covering items: [ApprovalItem]) -> StandingApproval? {
        let now = Date()
        return session.standing.first { standing in
            standing.isActive(at: now) && items.allSatisfy { standing.references.contains($0.reference) }
        }
    }

    /// Approves by a standing approval, audited like a live one: requested, then approved by
    /// `standing:<name>` with its owner, reason and expiry.
    private func useStanding(_ standing: StandingApproval, for request: ApprovalRequest) async throws {
        let comment = "standing approval \(standing.name) set by \(standing.owner): \(standing.reason) (expires \(JSONCoding.format(standing.expiresAt)))"
        let decision = ApprovalDecision(
            requestID: request.requestID, outcome: .approved, approvedReferences: request.references, deniedReferences: [],
            approver: "standing:\(standing.name)", comment: comment, decidedAt: Date()
        )
        try await record(decision, of: request, by: nil, auditingFirst: [requestedAudit(request)])
        try await log.emit(.notice(.init(message: "credentials approved without waiting: \(comment)")))
    }

    private func openRequest(for items: [ApprovalItem]) async throws -> ApprovalRequest {
        let now = Date()
        return ApprovalRequest(
            requestID: UUID().uuidString.lowercased(), items: items, requestedAt: now,
            expiresAt: now.addingTimeInterval(dependencies.settings.approvalTimeout.inSeconds), requester: session.requester.name
        )
    }

    /// The request goes into the log, the audit and the journal; the session waits.
    private func announce(_ request: ApprovalRequest) async throws {
        try await log.emit(.approvalRequested(request), audit: [requestedAudit(request)])
        logger.notice("approval requested for \(request.references.joined(separator: ", "))", metadata: [LogKey.messageID: "\(MessageID.approvalRequested)"])
        try await log.append(.status(.init(
            status: .awaitingApproval, phase: .awaitingApproval, progress: 0.15,
            message: "waiting for a human to approve \(request.references.count) credential reference(s)"
        )))
    }

    private func requestedAudit(_ request: ApprovalRequest) -> AuditEntry {
        AuditEntry(
            sessionID: session.id, requestID: request.requestID, action: .requested, actor: request.requester,
            uid: session.requester.uid, transport: session.requester.transport.rawValue, references: request.references, at: request.requestedAt
        )
    }

    /// The decision goes into the log, the audit (with the approver's uid and transport) and
    /// the journal — stored before any credential is resolved. `auditingFirst`: audit rows that
    /// precede the decision's, in the same transaction.
    private func record(_ decision: ApprovalDecision, of request: ApprovalRequest, by approver: Identity?, auditingFirst: [AuditEntry] = []) async throws {
        let action: AuditEntry.Action = switch decision.outcome {
        case .approved: .approved
        case .partial: .partiallyApproved
        case .denied: .denied
        case .expired: .expired
        }
        let decided = AuditEntry(
            sessionID: session.id, requestID: request.requestID, action: action, actor: decision.approver ?? "system",
            uid: approver?.uid, transport: approver?.transport.rawValue,
            references: decision.outcome == .denied || decision.outcome == .expired ? decision.deniedReferences : decision.approvedReferences,
            comment: decision.comment, at: decision.decidedAt
        )
        try await log.append(.approvalDecided(decision), audit: auditingFirst + [decided])
        logger.notice(
            "approval \(decision.outcome.rawValue) by \(decision.approver ?? "nobody"): approved [\(decision.approvedReferences.joined(separator: ", "))], not approved [\(decision.deniedReferences.joined(separator: ", "))]",
            metadata: [LogKey.messageID: "\(MessageID.approvalDecided)"]
        )
    }

    private func reason(for decision: ApprovalDecision) -> UnexaminedReason {
        switch decision.outcome {
        case .expired: .expired(after: dependencies.settings.approvalTimeout)
        case .partial: .notInSubset(by: decision.approver, comment: decision.comment)
        case .approved, .denied: .denied(by: decision.approver, comment: decision.comment)
        }
    }
}
