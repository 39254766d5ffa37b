import DiagnosisModel
import Foundation
@testable import Orchestrator
import Testing

@Suite struct RulePlannerTests {
    static let prod = EnvironmentInventory(
        name: "prod",
        databases: [DatabaseTarget(name: "orders-db", host: "orders-db.internal", database: "orders", credential: "op://Infrastructure/prod-db")],
        aws: AWSInventory(region: "us-west-2", credential: "op://Infrastructure/aws"),
        kubernetes: KubernetesInventory(kubeconfigCredential: "op://Infrastructure/kubeconfig/config", namespaces: ["api"]),
        logs: LogsInventory(journaldUnits: ["api-gateway.service", "billing.service"], files: ["/var/log/api-gateway/*.log", "/var/log/billing/*.log"]),
        network: NetworkInventory(endpoints: ["https://api.example.com/healthz", "tcp://orders-db.internal:5432"]),
        host: HostInventory(),
        metrics: MetricsInventory(prometheus: PrometheusSource(url: "https://prometheus.internal", credential: "op://Infrastructure/prometheus/token", services: [
            ServiceSignals(service: "api-gateway", signals: [SignalQuery(kind: .errorRatio, query: #"sum(rate(http_requests_total{service="{service}",namespace=~"{namespace}",code=~"5.."}[5m]))"#)]),
            ServiceSignals(service: "billing", signals: [SignalQuery(kind: .latencyP99, query: #"histogram_quantile(0.99, rate(latency_bucket{service="{service}"}[5m]))"#)]),
        ]))
    )

    static func planner() throws -> RulePlanner { RulePlanner(library: try PlaybookLibrary.load(directories: [])) }

    static func plan(_ problem: String, context: [String: String] = [:]) async throws -> DiagnosisPlan {
        try await planner().plan(PlanningInput(problem: problem, environment: prod, context: context))
    }

    @Test func builtinPlaybooksAreUpToDateWithConfigPlaybooks() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("config/playbooks")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".yaml") }
        #expect(Set(files) == Set(BuiltinPlaybooks.files.keys), "run scripts/generate-playbooks")
        for file in files {
            let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            #expect(BuiltinPlaybooks.files[file]?.trimmingCharacters(in: .whitespacesAndNewlines) == text.trimmingCharacters(in: .whitespacesAndNewlines), "\(file) changed: run scripts/generate-playbooks")
        }
    }

    @Test func databaseProblemsPlanDatabaseLogsAndNetwork() async throws {
        let plan = try await Self.plan("Database connection failures in production", context: ["service": "api-gateway"])
        #expect(plan.planner == "rules")
        #expect(plan.playbooks.contains("database"))
        let domains = plan.domains.map(\.domain)
        #expect(domains.contains(.database) && domains.contains(.logs) && domains.contains(.network))
        #expect(!domains.contains(.host), "unrelated domains are left out")
        let database = try #require(plan.domains.first { $0.domain == .database })
        #expect(database.probes.map(\.probe) == ["db.postgres"])
        #expect(database.probes.first?.credential == "op://Infrastructure/prod-db")
        #expect(database.rationale.contains("connection failures") || database.rationale.contains("database"))
        // Context narrows the logs to the service.
        let logs = try #require(plan.domains.first { $0.domain == .logs })
        #expect(logs.probes.first { $0.probe == "logs.journald" }?.params["units"] == ["api-gateway.service"])
        #expect(logs.probes.filter { $0.probe == "logs.files" }.map(\.target) == ["/var/log/api-gateway/*.log"])
        #expect(plan.credentialNeeds.map(\.reference) == ["op://Infrastructure/prod-db", "op://Infrastructure/aws", "op://Infrastructure/kubeconfig/config", "op://Infrastructure/prometheus/token"])
        let cloud = try #require(plan.domains.first { $0.domain == .cloud })
        #expect(Set(cloud.probes.map(\.probe)) == ["aws.rds", "aws.alarms"], "the database playbook asks for RDS and alarms only")
    }

    @Test(arguments: [
        ("can't connect to the orders database", Domain.database),
        ("API returns 5xx since the deploy", .network),
        ("pods restarting in the api namespace", .host),
        ("Disk full on the log volume", .host),
        ("checkout is slow", .host),
        ("RDS storage alarm firing", .database),
    ])
    func synonymsSelectDomains(problem: String, expected: Domain) async throws {
        let plan = try await Self.plan(problem)
        #expect(!plan.playbooks.isEmpty, "\(problem) matched no playbook")
        #expect(plan.domains.map(\.domain).contains(expected), "\(problem): \(plan.domains.map(\.domain))")
    }

    @Test func metricsWordsAndContextSelectTheServicesSignals() async throws {
        let plan = try await Self.plan("error rate spiking since 14:00", context: ["service": "api-gateway", "namespace": "api"])
        let metrics = try #require(plan.domains.first { $0.domain == .metrics })
        #expect(Set(metrics.probes.map(\.probe)) == ["metrics.alerts", "metrics.targets", "metrics.signals"])
        let signals = try #require(metrics.probes.first { $0.probe == "metrics.signals" })
        let queries = signals.params["signals"]?.arrayValue?.compactMap { $0.objectValue?["query"]?.stringValue } ?? []
        #expect(queries == [#"sum(rate(http_requests_total{service="api-gateway",namespace=~"api",code=~"5.."}[5m]))"#])
        #expect(signals.credential == "op://Infrastructure/prometheus/token")
        // Without context every service's signals run, placeholders filled with the service's own name.
        let broad = try await Self.plan("latency is up")
        let all = broad.domains.first { $0.domain == .metrics }?.probes.first { $0.probe == "metrics.signals" }?.params["signals"]?.arrayValue ?? []
        #expect(all.count == 2 && all.allSatisfy { !($0.objectValue?["query"]?.stringValue ?? "{").contains("{service}") })
        // A context value cannot break out of the PromQL string.
        let hostile = try await Self.plan("errors", context: ["service": "api-gateway", "namespace": #"x"} or vector(1) #"#])
        let hostileQuery = hostile.domains.first { $0.domain == .metrics }?.probes.first { $0.probe == "metrics.signals" }?.params["signals"]?.arrayValue?.first?.objectValue?["query"]?.stringValue ?? ""
        #expect(hostileQuery.contains(#"namespace=~"x\"} or vector(1) #""#), "\(hostileQuery)")
    }

    @Test func anAlertsNameAndInstanceGuideThePlan() async throws {
        // The problem text of an alert-started session says little; its name says what it is about.
        let plan = try await Self.plan("PostgresTooManyConnections: firing", context: ["alertname": "PostgresTooManyConnections", "instance": "orders-db.internal:5432"])
        #expect(plan.playbooks.contains("database"), "\(plan.playbooks)")
        let database = try #require(plan.domains.first { $0.domain == .database })
        #expect(database.probes.map(\.target) == ["orders-db"])
        let network = plan.domains.first { $0.domain == .network }
        #expect(network == nil || network?.probes.allSatisfy { $0.target.contains("orders-db.internal") } == true, "\(network?.probes.map(\.target) ?? [])")
        #expect(RulePlanner.words(of: "KubePodOOMKilled") == "Kube Pod OOM Killed")
    }

    @Test func noMatchSweepsEveryConfiguredDomain() async throws {
        let plan = try await Self.plan("something is weird")
        #expect(plan.playbooks.isEmpty)
        #expect(Set(plan.domains.map(\.domain)) == Set(Domain.allCases))
        #expect(plan.rationale.contains("sweeping"))
    }

    @Test func userPlaybooksAddCommandProbesAndReplaceBuiltins() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pb-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try """
            name: queues
            match: {phrases: [queue backlog]}
            domains: {logs: {probes: [logs.journald]}}
            checks:
              - {name: rabbit, domain: host, command: rabbitmqctl, args: [list_queues], credential: "cred://rabbit", env: {password: RABBITMQ_PASSWORD}, fail_regex: "[1-9][0-9]{4}", code: queue.backlog}
            """.write(to: directory.appendingPathComponent("queues.yaml"), atomically: true, encoding: .utf8)
        let library = try PlaybookLibrary.load(directories: [directory.path])
        #expect(library.playbooks.contains { $0.name == "queues" })
        let plan = try await RulePlanner(library: library).plan(PlanningInput(problem: "Queue backlog keeps growing", environment: Self.prod, context: [:]))
        let host = try #require(plan.domains.first { $0.domain == .host })
        let check = try #require(host.probes.first { $0.probe == "command" })
        #expect(check.params["command"] == "rabbitmqctl")
        #expect(check.params["env"] == ["password": "RABBITMQ_PASSWORD"])
        #expect(check.credential == "cred://rabbit")
        #expect(plan.credentialNeeds.contains { $0.reference == "cred://rabbit" })
    }

    @Test(arguments: [
        ("name: x\nmatch: {phrases: [a]}\ndomains: {databse: {probes: [db.postgres]}}\n", "unknown domain"),
        ("name: x\nmatch: {phrases: [a]}\ndomains: {database: {probes: [db.mysql]}}\n", "unknown probe"),
        ("name: x\nmatch: {phrases: [a]}\ndomains: {}\nextra: 1\n", "unknown key"),
        ("name: x\nmatch: {phrases: [a]}\ndomains: {}\nchecks: [{name: c, domain: host, command: x, credential: \"op://only\"}]\n", "invalid credential reference"),
    ])
    func invalidPlaybooksSayWhy(yaml: String, reason: String) {
        do {
            _ = try Playbook.parse(yaml, source: "test.yaml")
            Issue.record("should fail: \(reason)")
        } catch {
            #expect("\(error)".contains(reason), "\(error)")
            #expect("\(error)".hasPrefix("test.yaml"))
        }
    }
}
