import DiagnosisModel
import Foundation

/// Why a credential — and so the probes that need it — was not available to a session.
/// Typed, so the report and the final status are decided from the reason itself rather than
/// from its wording.
enum UnexaminedReason: Sendable, Equatable {
    /// The broker would not even ask (a development scheme not enabled, no provider).
    case refused(String)
    case denied(by: String?, comment: String?)
    /// The approver chose a subset that left this reference out.
    case notInSubset(by: String?, comment: String?)
    case expired(after: Duration)
    case resolveFailed(provider: String, error: String)

    /// The sentence the report and the domain state show.
    var sentence: String {
        switch self {
        case .refused(let reason): reason
        case .denied(let approver, let comment):
            "approval denied\(approver.map { " by \($0)" } ?? "")\(comment.map { ": \($0)" } ?? "")"
        case .notInSubset(let approver, let comment):
            "approval not granted\(approver.map { " by \($0)" } ?? "") (approved a subset)\(comment.map { ": \($0)" } ?? "")"
        case .expired(let timeout): "approval expired after \(DurationText.format(timeout)) without a decision"
        case .resolveFailed(_, let error): "could not be resolved: \(error)"
        }
    }

    var isExpiry: Bool {
        if case .expired = self { return true }
        return false
    }

    /// The finding that tells the report why probes did not run; nil for a refusal (its own
    /// `credential_failed` event says it).
    func finding(reference: String, domain: Domain, id: String) -> Finding? {
        let draft: FindingDraft
        switch self {
        case .refused:
            return nil
        case .denied, .notInSubset:
            draft = FindingDraft(
                code: .credDenied, severity: .info, target: reference, title: "Credential \(reference) was not approved",
                detail: "\(sentence). Probes that need it did not run; the report says what that leaves open."
            )
        case .expired(let timeout):
            draft = FindingDraft(
                code: .credExpired, severity: .info, target: reference, title: "Approval for \(reference) expired",
                detail: "\(sentence). Probes that need it did not run; the report says what that leaves open.",
                remediation: "Start a new diagnosis and approve within \(DurationText.format(timeout))."
            )
        case .resolveFailed(let provider, let error):
            draft = FindingDraft(
                code: .credResolveFailed, severity: .high, target: reference, title: "Credential \(reference) could not be resolved",
                detail: "\(provider): \(error). The probes that need it did not run.",
                evidence: [.text("provider", provider), .text("error", error)],
                remediation: "Check that \(reference) exists and that the daemon's \(provider) access works (service-account token, LoadCredential=)."
            )
        }
        return Finding(id: id, domain: domain, probe: "credentials", draft: draft, observedAt: Date())
    }
}
