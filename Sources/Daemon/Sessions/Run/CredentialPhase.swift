import DiagnosisModel
import Foundation
import Redaction
import Secrets
import Systemd

/// The credentials a session's probes may use, and why the others are unavailable.
struct Credentials: Sendable {
    var resolved: [String: ResolvedCredential] = [:]
    var unavailable: [String: UnexaminedReason] = [:]
}

extension SessionRun {
    /// Phase 3: resolves what was approved (in parallel), registers the values with the
    /// scrubbers, and records one finding per reference that cannot be used, saying why.
    /// `announceUnavailable` is false for a session taken over after this phase had recorded them.
    func credentialPhase(_ plan: DiagnosisPlan, approvals: Approvals, announceUnavailable: Bool = true) async throws -> Credentials {
        var credentials = Credentials(unavailable: approvals.unavailable)
        if !approvals.approved.isEmpty {
            try await log.emit(.status(.init(status: .diagnosing, phase: .resolvingCredentials, progress: 0.2, message: "resolving \(approvals.approved.count) approved credential(s)")))
            for (reference, result) in await resolveAll(approvals.approved) {
                let provider = (try? CredentialReference(parsing: reference)).map(dependencies.broker.providerName(for:)) ?? "none"
                switch result {
                case .success(let credential):
                    credentials.resolved[reference] = credential
                    try await recordResolved(credential, provider: provider)
                case .failure(let error):
                    credentials.unavailable[reference] = .resolveFailed(provider: provider, error: error.reason)
                    try await recordFailure(reference, provider: provider, error: error)
                }
            }
            await log.setRedactor(Redactor(secrets: credentials.resolved.mapValues(\.secretValues)))
        }
        // Resolution failures first, then the references nobody approved; each by reference.
        let ordered = credentials.unavailable.sorted { lhs, rhs in
            let (left, right) = (lhs.value.isResolveFailure, rhs.value.isResolveFailure)
            return left != right ? left : lhs.key < rhs.key
        }
        var count = 0
        for (reference, reason) in ordered where announceUnavailable {
            let domain = plan.credentialNeeds.first { $0.reference == reference }?.domain ?? .host
            guard let finding = reason.finding(reference: reference, domain: domain, id: "credentials-\(count + 1)") else { continue }
            count += 1
            try await log.emit(.finding(finding))
        }
        return credentials
    }

    private func resolveAll(_ references: [String]) async -> [(String, Result<ResolvedCredential, SecretError>)] {
        let broker = dependencies.broker
        return await withTaskGroup(of: (String, Result<ResolvedCredential, SecretError>).self) { group in
            for reference in references { group.addTask { (reference, await broker.resolve(reference)) } }
            var all: [(String, Result<ResolvedCredential, SecretError>)] = []
            for await item in group { all.append(item) }
            return all.sorted { $0.0 < $1.0 }
        }
    }

    private func recordResolved(_ credential: ResolvedCredential, provider: String) async throws {
        dependencies.secretScrubber.add(credential, session: session.id)
        try await log.emit(
            .credentialResolved(.init(reference: credential.reference, provider: provider)),
            audit: [AuditEntry(sessionID: session.id, requestID: nil, action: .resolved, actor: "system", references: [credential.reference], provider: provider, at: Date())]
        )
        logger.notice("credential \(credential.reference) resolved via \(provider)", metadata: [LogKey.messageID: "\(MessageID.credentialResolved)"])
    }

    private func recordFailure(_ reference: String, provider: String, error: SecretError) async throws {
        try await log.emit(
            .credentialFailed(.init(reference: reference, provider: provider, error: error.reason)),
            audit: [AuditEntry(sessionID: session.id, requestID: nil, action: .resolveFailed, actor: "system", references: [reference], provider: provider, comment: error.reason, at: Date())]
        )
        logger.warning("credential \(reference) could not be resolved via \(provider): \(error.reason)", metadata: [LogKey.messageID: "\(MessageID.credentialResolved)"])
    }
}

extension UnexaminedReason {
    var isResolveFailure: Bool {
        if case .resolveFailed = self { return true }
        return false
    }
}
