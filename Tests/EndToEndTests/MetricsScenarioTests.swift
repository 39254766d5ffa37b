import DiagnosisModel
import Foundation
import TestSupport
import Testing

/// The metrics domain through the real daemon and runners, against a real Prometheus (history
/// backfilled with promtool, rules that really fire), the real postgres_exporter and a real
/// PostgreSQL: metrics date the cause and are folded into it; metrics alone name the alert, the
/// target down and the changed signal with its start time; the dashboard draws the chart.
@Suite(.serialized) struct MetricsScenarioTests {
    static let step = 36.0

    /// Prometheus with `history`, scraping `jobs`, with `rules`.
    static func prometheus(history: [String], jobs: [PrometheusServer.Job], rules: String) throws -> PrometheusServer {
        try PrometheusServer(history: history, jobs: jobs, rules: "groups:\n  - name: scenario\n    rules:\n" + rules)
    }

    /// A gauge backfilled over the last 3 h that steps from `before` to `after` at `start`.
    static func stepHistory(_ series: String, start: Date, before: Double, after: Double) -> [String] {
        let now = Date()
        return PrometheusServer.gauge(series, from: now.addingTimeInterval(-10800), to: now.addingTimeInterval(-2)) { time in
            (time >= start ? after : before) * (1 + Double(Int(time.timeIntervalSince1970) % 5) * 0.01)
        }
    }

    static func metrics(_ prometheus: PrometheusServer, signals: String) -> String {
        """
            metrics:
              prometheus:
                url: \(prometheus.url)
                services:
                  checkout:
        \(signals)
        """
    }

    static func postgresExporter(_ server: PostgresServer, directory: TemporaryDirectory) throws -> (ChildProcess, Int) {
        let port = try TestEnvironment.freePort()
        let exporter = try ChildProcess(
            "/usr/bin/prometheus-postgres-exporter", ["--web.listen-address=127.0.0.1:\(port)"],
            environment: ["DATA_SOURCE_NAME": "postgresql://postgres:postgres-superuser-pw@127.0.0.1:\(server.port)/postgres?sslmode=disable"],
            directory: directory, name: "postgres_exporter"
        )
        #expect(TestEnvironment.waitUntil(timeout: 20) { (try? TestHTTPClient.request(.tcp(port: port), "GET", "/metrics", timeout: 2).status) == 200 }, "\(exporter.stderr)")
        return (exporter, port)
    }

    static func startedNear(_ value: Any?, _ expected: Date, tolerance: Double = step + 15) -> Bool {
        guard let text = value as? String, let date = JSONCoding.parseDate(text) else { return false }
        return abs(date.timeIntervalSince(expected)) <= tolerance
    }

    /// Pool exhaustion seen three ways: the database probe finds the slots used up, the real
    /// postgres_exporter's numbers fire `PostgresTooManyConnections`, and checkout's error ratio
    /// jumped 12 minutes ago. One cause, first seen when the errors began.
    @Test func poolExhaustionIsDatedByTheErrorRatio() throws {
        let server = try PostgresServer(maxConnections: 8, reservedConnections: 3)
        defer { server.cleanUp() }
        for _ in 0..<5 { try server.holdSession("SELECT pg_sleep(300);") }
        let directory = try TestEnvironment.makeTemporaryDirectory("metrics-pool")
        defer { directory.remove() }
        let (exporter, exporterPort) = try Self.postgresExporter(server, directory: directory)
        defer { exporter.stop() }
        let spike = Date().addingTimeInterval(-12 * 60)
        let prometheus = try Self.prometheus(
            history: Self.stepHistory(#"checkout_error_ratio{service="checkout"}"#, start: spike, before: 0.002, after: 0.12),
            jobs: [.init("postgres", ["127.0.0.1:\(exporterPort)"])],
            rules: """
                  - alert: PostgresTooManyConnections
                    expr: sum by (instance) (pg_stat_activity_count) / max by (instance) (pg_settings_max_connections) > 0.6
                    labels: {severity: critical}
                    annotations: {summary: "PostgreSQL instance {{ $labels.instance }} uses most of its connections"}
            """
        )
        defer { prometheus.cleanUp() }
        #expect(prometheus.waitForAlert("PostgresTooManyConnections"), "the alert fires from the exporter's numbers")

        let outcome = try ScenarioTests.run(
            "Checkout is failing: database connection errors", environment: ScenarioTests.database(server) + "\n" + Self.metrics(prometheus, signals: """
                            error_ratio: 'checkout_error_ratio{service="{service}"}'
            """), env: ScenarioTests.login(server.appPassword), directory: directory, context: ["service": "checkout"]
        )
        let top = try #require(outcome.causes.first)
        let codes = top["codes"] as? [String] ?? []
        #expect(codes.first == "db.connections_saturated", "\(outcome.causes)")
        #expect(codes.contains("metrics.alert_firing") && codes.contains("metrics.error_ratio"), "the alert and the error ratio are this cause's evidence: \(codes)")
        #expect(Self.startedNear(top["first_seen"], spike), "first seen at the change point: \(top["first_seen"] ?? "nil") vs \(spike)")
        #expect((top["explanation"] as? String)?.contains("Timeline:") == true, "\(top["explanation"] ?? "")")
        let signal = try #require(outcome.findings.first { $0["code"] as? String == "metrics.error_ratio" })
        #expect((signal["series"] as? [String: Any])?["points"] as? [[String: Any]] != nil, "the JSON report carries the points")
    }

    /// A latency rise that began before the lock was found: linked to the lock contention, and
    /// the cause is dated by it.
    @Test func latencyChangeIsLinkedToTheLockThatCausedIt() throws {
        let server = try PostgresServer()
        defer { server.cleanUp() }
        try server.holdSession("BEGIN; UPDATE accounts SET balance = balance + 1 WHERE id = 1;")
        #expect(TestEnvironment.waitUntil { (try? server.psql("SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'")) == "1" })
        try server.holdSession("UPDATE accounts SET balance = 0 WHERE id = 1;")
        try server.holdSession("UPDATE accounts SET balance = 5 WHERE id = 1;")
        let directory = try TestEnvironment.makeTemporaryDirectory("metrics-lock")
        defer { directory.remove() }
        let rise = Date().addingTimeInterval(-9 * 60)
        let prometheus = try Self.prometheus(
            history: Self.stepHistory(#"checkout_latency_p99_seconds{service="checkout"}"#, start: rise, before: 0.18, after: 4.2),
            jobs: [], rules: "      - {alert: Never, expr: vector(0) > 1}\n"
        )
        defer { prometheus.cleanUp() }
        let outcome = try ScenarioTests.run(
            "Checkout requests time out; the orders database seems slow", environment: ScenarioTests.database(server) + "\n" + Self.metrics(prometheus, signals: """
                            latency_p99: {query: 'checkout_latency_p99_seconds{service="{service}"}', unit: seconds}
            """), env: ScenarioTests.login(server.appPassword), directory: directory, context: ["service": "checkout"]
        )
        let top = try #require(outcome.causes.first)
        let codes = top["codes"] as? [String] ?? []
        #expect(codes.first == "db.lock_contention" && codes.contains("metrics.latency"), "\(outcome.causes)")
        #expect(Self.startedNear(top["first_seen"], rise), "\(top["first_seen"] ?? "nil") vs \(rise)")
        #expect((top["explanation"] as? String)?.contains("P99 latency") == true, "\(top["explanation"] ?? "")")
    }

    /// Only metrics configured: the report names the firing alert, the target down (one cause
    /// with the refused connection to the same instance, when the network is examined too) and
    /// the changed signal with its start time; Markdown shows a sparkline, the dashboard a chart.
    @Test func metricsAloneNameAlertTargetAndSignal() throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("metrics-only")
        defer { directory.remove() }
        let ghost = try TestEnvironment.freePort()
        let spike = Date().addingTimeInterval(-25 * 60)
        let prometheus = try Self.prometheus(
            history: Self.stepHistory(#"checkout_error_ratio{service="checkout"}"#, start: spike, before: 0.001, after: 0.083),
            jobs: [.init("payments", ["127.0.0.1:\(ghost)"])],
            rules: """
                  - alert: PaymentsInstanceDown
                    expr: up{job="payments"} == 0
                    labels: {severity: critical}
                    annotations: {summary: "payments instance {{ $labels.instance }} is down"}
            """
        )
        defer { prometheus.cleanUp() }
        #expect(prometheus.waitForAlert("PaymentsInstanceDown"))
        let signals = """
                            error_ratio: 'checkout_error_ratio{service="{service}"}'
            """
        let tokenFile = try directory.write("alice.token", ScenarioTests.token, mode: 0o600)
        let daemon = try DaemonProcess(config: """
            runners: {deadline: 45s}
            auth: {approvers: [{name: alice, token: "file://\(tokenFile)"}]}
            environments:
              metrics-only:
            \(Self.metrics(prometheus, signals: signals))
              with-network:
            \(Self.metrics(prometheus, signals: signals))
                network: {endpoints: ["tcp://127.0.0.1:\(ghost)"]}
            """, directory: directory)
        defer { daemon.cleanUp() }

        let only = try Self.diagnose(daemon, "Checkout errors since this afternoon", environment: "metrics-only")
        let findings = only.report["findings"] as? [[String: Any]] ?? []
        let titles = findings.compactMap { $0["title"] as? String }
        #expect(titles.contains { $0.contains("PaymentsInstanceDown") && $0.contains("firing") }, "\(titles)")
        #expect(titles.contains { $0.contains("127.0.0.1:\(ghost)") && $0.contains("down") }, "\(titles)")
        let ratio = try #require(findings.first { $0["code"] as? String == "metrics.error_ratio" }, "\(titles)")
        #expect(Self.startedNear(ratio["first_seen"], spike), "\(ratio)")
        #expect((ratio["title"] as? String)?.contains("started") == true)
        let markdown = try daemon.get("/sessions/\(only.id)/report", headers: ["Accept": "text/markdown"]).text
        #expect(markdown.contains("▁") && markdown.contains("changed at"), "\(markdown)")

        // With the network examined too, the refused port and the target down are one cause.
        let both = try Self.diagnose(daemon, "The payments service is down", environment: "with-network")
        let top = try #require((both.report["probable_causes"] as? [[String: Any]])?.first)
        let codes = top["codes"] as? [String] ?? []
        #expect(codes.first == "metrics.target_down" && codes.contains("net.tcp_refused"), "\(both.report["probable_causes"] ?? "")")

        // The dashboard draws the error ratio as an SVG chart: the line, the threshold, the change point.
        let artifacts = TestEnvironment.packageRoot.appendingPathComponent("artifacts")
        try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
        let screenshot = artifacts.appendingPathComponent("dashboard-chart.png").path
        try? FileManager.default.removeItem(atPath: screenshot)
        let chart = ".finding[data-code=\\\"metrics.error_ratio\\\"] svg"
        let run = try DashboardTests.drive("http://127.0.0.1:\(daemon.port)/#session=\(only.id)", [
            ["wait": "document.querySelector('\(chart)') !== null", "timeout": 20],
            ["eval": "(() => { const s = document.querySelector('\(chart)'); return 'chart ' + s.getAttribute('data-points') + ' ' + (s.querySelector('path.series').getAttribute('d').split('L').length) + ' ' + (s.querySelector('line.change') !== null) + ' ' + (s.querySelector('line.threshold') !== null); })()"],
            ["eval": "document.querySelector('\(chart)').scrollIntoView(), true"],
            ["screenshot": screenshot],
        ], directory: directory)
        #expect(run.wait(timeout: 90) == 0, "\(run.stdout)")
        let drawn = run.stdout.range(of: #"chart (\d+) (\d+) true true"#, options: .regularExpression).map { String(run.stdout[$0]) }
        let numbers = drawn?.split(separator: " ").compactMap { Int($0) } ?? []
        #expect(numbers.count == 2 && numbers[0] > 60 && numbers[0] <= 120 && numbers[1] == numbers[0], "\(run.stdout)")
        let size = (try? FileManager.default.attributesOfItem(atPath: screenshot)[.size] as? Int) ?? 0
        #expect(size > 10_000, "screenshot written (\(size) bytes)")
    }

    struct Diagnosis {
        let id: String
        let report: [String: Any]
    }

    static func diagnose(_ daemon: DaemonProcess, _ problem: String, environment: String) throws -> Diagnosis {
        let accepted = try daemon.post("/diagnose", ["problem": problem, "environment": environment])
        #expect(accepted.status == 202, "\(accepted.text)")
        let id = try #require(accepted.json["session_id"] as? String)
        let status = try SessionAPITests.waitForStatus(daemon, id, timeout: 90) { ["completed", "failed", "expired"].contains($0) }
        #expect(status["status"] as? String == "completed", "\(status)")
        return Diagnosis(id: id, report: try daemon.get("/sessions/\(id)/report").json)
    }
}
