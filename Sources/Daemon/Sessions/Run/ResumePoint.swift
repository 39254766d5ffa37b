import DiagnosisModel
import Foundation

/// Where a session stands that another daemon started and stopped running (it died, or shut
/// down and let go): read from its event log alone, so the daemon taking it over continues it
/// from there. Phases that finished are kept; a pending approval keeps waiting under the same
/// request; domains that finished keep their outcome; the others run again, and what they had
/// found before (possibly partial) is left out of the report in favour of the new run.
struct ResumePoint: Sendable, Equatable {
    var plan: DiagnosisPlan?
    /// Asked and not yet decided.
    var openRequest: ApprovalRequest?
    /// Decided: the request and its decision (a standing approval's included).
    var decided: (request: ApprovalRequest, decision: ApprovalDecision)?
    /// The credential phase had ended (it recorded its findings; diagnostics had started).
    var credentialsAnnounced = false
    /// Domains that ended, with how.
    var finishedDomains: [Domain: DomainOutcome] = [:]
    /// Findings of domains that had not finished: superseded by their new run.
    var staleFindingIDs: Set<String> = []
    /// The report, when only the final status was missing.
    var report: DiagnosisReport?
    /// The standing approvals the session was started with (names; empty for a person's).
    var standingApprovals: [String] = []

    init(events: [SessionEvent]) {
        var requests: [String: ApprovalRequest] = [:]
        var findingsByDomain: [Domain: [Finding]] = [:]
        for event in events {
            switch event.body {
            case .created(let created):
                standingApprovals = created.standingApprovals ?? []
            case .plan(let plan):
                self.plan = plan
            case .approvalRequested(let request):
                requests[request.requestID] = request
                openRequest = request
            case .approvalDecided(let decision):
                if let request = requests[decision.requestID] { decided = (request, decision) }
                if openRequest?.requestID == decision.requestID { openRequest = nil }
            case .status(let change) where change.phase == .runningDiagnostics:
                credentialsAnnounced = true
            case .domain(let update):
                switch update.state {
                case .completed, .failed, .skipped:
                    let found = findingsByDomain[update.domain] ?? []
                    let issues = found.contains { $0.severity != .ok && $0.severity != .info }
                    let outcome: DomainOutcome.Outcome = switch update.state {
                    case .failed: .failed
                    case .skipped: .skipped
                    default: issues ? .issues : .ok
                    }
                    finishedDomains[update.domain] = DomainOutcome(
                        domain: update.domain, outcome: outcome, reason: update.reason, findings: found.count, probes: update.probes ?? []
                    )
                default:
                    break
                }
            case .finding(let finding):
                findingsByDomain[finding.domain, default: []].append(finding)
            case .report(let report):
                self.report = report
            default:
                break
            }
        }
        // A finding of a domain that has not finished belongs to a run that will be repeated.
        // (Credential findings are filed under a domain that may never run: they stay.)
        for (domain, findings) in findingsByDomain where finishedDomains[domain] == nil {
            for finding in findings where !finding.code.hasPrefix("cred.") {
                staleFindingIDs.insert(finding.id)
            }
        }
    }

    static func == (lhs: ResumePoint, rhs: ResumePoint) -> Bool {
        lhs.plan == rhs.plan && lhs.openRequest == rhs.openRequest && lhs.decided?.request == rhs.decided?.request
            && lhs.decided?.decision == rhs.decided?.decision && lhs.credentialsAnnounced == rhs.credentialsAnnounced
            && lhs.finishedDomains == rhs.finishedDomains && lhs.staleFindingIDs == rhs.staleFindingIDs && lhs.report == rhs.report
            && lhs.standingApprovals == rhs.standingApprovals
    }
}
