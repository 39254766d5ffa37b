import DiagnosisModel
import Foundation
@testable import Orchestrator
import Testing

@Suite struct RuleSynthesizerTests {
    static func finding(_ id: String, _ domain: Domain, _ code: String, _ severity: Severity, target: String = "orders-db", title: String? = nil, tags: [String] = [], evidence: [Evidence] = []) -> Finding {
        Finding(id: id, domain: domain, probe: "p", draft: FindingDraft(code: FindingCode(rawValue: code), severity: severity, target: target, title: title ?? "\(code) on \(target)", evidence: evidence, remediation: "fix \(code)", tags: tags), observedAt: Date())
    }

    static func synthesize(_ findings: [Finding], domains: [DomainOutcome] = []) async throws -> DiagnosisReport {
        try await RuleSynthesizer().synthesize(SynthesisInput(sessionID: "s", problem: "p", environment: "prod", findings: findings, domains: domains, timings: .init()))
    }

    @Test func poolExhaustionChainsDatabaseLogsAndKubernetes() async throws {
        let firstSeen = "2026-11-27T14:02:07.000Z"
        let report = try await Self.synthesize([
            Self.finding("database-1", .database, "db.connections_saturated", .critical, tags: ["too_many_clients"]),
            Self.finding("logs-1", .logs, "logs.error_signature", .high, target: "api-gateway.service", title: "120× FATAL: sorry, too many clients already", tags: ["too_many_clients"],
                         evidence: [.table("occurrences", columns: ["count", "first seen", "last seen", "sources"], rows: [["120", firstSeen, "2026-11-27T14:20:00.000Z", "api"]])]),
            // Its previous container's log says why it exits (the k8s probe tags it so).
            Self.finding("kubernetes-1", .kubernetes, "k8s.crashloop", .high, target: "api/api-gateway", tags: ["too_many_clients"]),
            Self.finding("logs-2", .logs, "logs.error_signature", .low, target: "billing.service", title: "3× cache miss warning"),
            Self.finding("network-1", .network, "net.ok", .ok, target: "api.example.com:443"),
        ])
        let top = try #require(report.probableCauses.first)
        #expect(top.title == "Connection pool exhaustion at orders-db")
        #expect(Set(top.findingIDs) == ["database-1", "logs-1", "kubernetes-1"])
        #expect(top.confidence >= 0.9)
        #expect(top.codes.first == "db.connections_saturated")
        #expect(report.summary.contains("first seen 14:02 UTC"), "\(report.summary)")
        // The red herring ranks below and is not part of the chain.
        let herring = try #require(report.probableCauses.first { $0.findingIDs == ["logs-2"] })
        #expect(herring.confidence < top.confidence)
        #expect(report.ruledOut == ["net.ok on api.example.com:443"])
        #expect(report.nextSteps.first?.contains("pg_stat_activity") == true)
    }

    @Test func failedAndSkippedDomainsLimitTheConclusion() async throws {
        let report = try await Self.synthesize(
            [Self.finding("network-1", .network, "net.ok", .ok, target: "x")],
            domains: [
                DomainOutcome(domain: .network, outcome: .ok),
                DomainOutcome(domain: .database, outcome: .skipped, reason: "op://db: approval denied"),
                DomainOutcome(domain: .kubernetes, outcome: .failed, reason: "the runner was killed by signal 9"),
            ]
        )
        #expect(report.probableCauses.isEmpty)
        #expect(report.limitations.count == 2)
        #expect(report.limitations.contains { $0.contains("database was not examined") && $0.contains("not ruled out") })
        #expect(report.summary.contains("could not be examined"))
    }

    @Test(arguments: [
        (["db.lock_contention", "db.idle_in_transaction"], "Lock contention at orders-db: an open, idle transaction blocks other sessions"),
        (["db.auth_failed"], "orders-db rejects the application's credentials (password rotated on one side?)"),
        (["db.unreachable"], "orders-db is down or unreachable"),
        (["net.tls_expired", "net.http_error"], "Expired TLS certificate on orders-db"),
        (["host.disk_full"], "orders-db is out of space"),
        (["aws.rds_unavailable", "aws.alarm_firing"], "RDS instance orders-db is not available"),
    ])
    func knownPatternsRankFirst(codes: [String], title: String) async throws {
        var findings = codes.enumerated().map { Self.finding("f\($0.offset)", .database, $0.element, .high) }
        findings.append(Self.finding("noise", .logs, "logs.error_signature", .medium, target: "other", title: "unrelated warning"))
        let report = try await Self.synthesize(findings)
        #expect(report.probableCauses.first?.title == title, "\(report.probableCauses.map(\.title))")
    }

    @Test func aProbeThatCouldNotLookIsNotExaminedNotHealthy() async throws {
        let report = try await Self.synthesize(
            [
                Self.finding("logs-1", .logs, "logs.no_data", .info, target: "journal", title: "Nothing was read from journal in the last 30 min"),
                Self.finding("logs-2", .logs, "logs.ok", .ok, target: "billing.service", title: "No error lines in billing.service"),
            ],
            domains: [DomainOutcome(domain: .logs, outcome: .ok, probes: [
                ProbeOutcome(id: "logs.files#/var/log/shop/*.log", probe: "logs.files", status: .failed, durationMs: 1, error: "no log files match /var/log/shop/*.log"),
            ])]
        )
        #expect(report.ruledOut == ["No error lines in billing.service"], "nothing read is never ruled out")
        #expect(report.limitations.contains { $0.contains("Nothing was read from journal") })
        #expect(report.limitations.contains { $0.contains("logs.files#/var/log/shop/*.log could not be examined (no log files match") })
        #expect(report.probableCauses.isEmpty)
    }
}
