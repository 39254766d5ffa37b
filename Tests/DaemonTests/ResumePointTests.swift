@testable import Daemon
import DiagnosisModel
import Foundation
import Testing

/// Where a session taken over from another daemon stands, from its log alone.
@Suite struct ResumePointTests {
    static let plan = DiagnosisPlan(domains: [], rationale: "r", planner: "rules")
    static let request = ApprovalRequest(
        requestID: "req-1", items: [ApprovalItem(reference: "env://A", domain: .database, probes: ["db.postgres"], purpose: "p")],
        requestedAt: Date(timeIntervalSince1970: 0), expiresAt: Date(timeIntervalSince1970: 600), requester: "user:dev"
    )

    static func log(_ bodies: [SessionEvent.Body]) -> [SessionEvent] {
        bodies.enumerated().map { SessionEvent(sessionID: "s", sequence: $0.offset + 1, at: Date(timeIntervalSince1970: Double($0.offset)), body: $0.element) }
    }

    static func finding(_ id: String, _ domain: Domain, _ code: FindingCode, _ severity: Severity = .high) -> Finding {
        Finding(id: id, domain: domain, probe: "p", draft: FindingDraft(code: code, severity: severity, target: "t", title: "t"), observedAt: Date(timeIntervalSince1970: 0))
    }

    @Test func beforeThePlanEverythingRuns() {
        let point = ResumePoint(events: Self.log([.created(.init(problem: "p", environment: "e", context: [:], requester: "user:dev"))]))
        #expect(point.plan == nil && point.openRequest == nil && point.decided == nil && point.finishedDomains.isEmpty)
    }

    @Test func theStandingApprovalsItStartedWithAreRead() {
        let point = ResumePoint(events: Self.log([.created(.init(problem: "p", environment: "e", context: [:], requester: "alertmanager:x", standingApprovals: ["night"]))]))
        #expect(point.standingApprovals == ["night"])
    }

    @Test func anUndecidedRequestKeepsWaiting() {
        let point = ResumePoint(events: Self.log([.plan(Self.plan), .approvalRequested(Self.request)]))
        #expect(point.plan == Self.plan)
        #expect(point.openRequest == Self.request)
        #expect(point.decided == nil)
    }

    @Test func finishedDomainsAreKeptAndUnfinishedOnesFindingsSuperseded() {
        let decision = ApprovalDecision(requestID: "req-1", outcome: .approved, approvedReferences: ["env://A"], deniedReferences: [], approver: "alice", comment: nil, decidedAt: Date(timeIntervalSince1970: 1))
        let point = ResumePoint(events: Self.log([
            .plan(Self.plan), .approvalRequested(Self.request), .approvalDecided(decision),
            .status(.init(status: .diagnosing, phase: .runningDiagnostics, progress: 0.2)),
            .domain(.init(domain: .network, state: .running)),
            .domain(.init(domain: .database, state: .running)),
            .finding(Self.finding("network-1", .network, .netTCPRefused)),
            .finding(Self.finding("database-1", .database, .netTCPRefused)),
            .finding(Self.finding("database-2", .database, .credDenied, .info)),
            .domain(.init(domain: .network, state: .completed)),
        ]))
        #expect(point.openRequest == nil)
        #expect(point.decided?.decision == decision)
        #expect(point.credentialsAnnounced)
        #expect(point.finishedDomains.keys.sorted() == [.network])
        #expect(point.finishedDomains[.network]?.outcome == .issues)
        #expect(point.finishedDomains[.network]?.findings == 1)
        #expect(point.staleFindingIDs == ["database-1"], "the unfinished domain's finding goes; a credential finding stays")
        #expect(point.report == nil)
    }
}
