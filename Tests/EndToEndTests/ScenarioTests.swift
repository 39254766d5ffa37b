import DiagnosisModel
import Foundation
import TestSupport
import Testing

/// End-to-end scenarios: a fault set up on real components (PostgreSQL, openssl s_server, a
/// tmpfs, moto, the Kubernetes stand-in), a problem sent to the real daemon over HTTP, the
/// credentials approved, and the report's top cause checked. Every scenario carries a red
/// herring — an unrelated failing check — that must not outrank the real cause.
@Suite struct ScenarioTests {
    static let token = SessionAPITests.approverToken

    /// The unrelated warning every scenario includes.
    static let redHerring = """
              - {name: nightly-backup, domain: host, command: sh, args: ["-c", "echo 'last backup finished 26h ago'; exit 1"], code: backup.late, severity: medium, title: "Nightly backup is late"}
        """

    struct Outcome {
        let status: [String: Any]
        let report: [String: Any]
        var causes: [[String: Any]] { report["probable_causes"] as? [[String: Any]] ?? [] }
        var topCodes: [String] { causes.first?["codes"] as? [String] ?? [] }
        var topTitle: String { causes.first?["title"] as? String ?? "" }
        var findings: [[String: Any]] { report["findings"] as? [[String: Any]] ?? [] }
        func findingIDs(_ code: String) -> Set<String> { Set(findings.filter { $0["code"] as? String == code }.compactMap { $0["id"] as? String }) }
        var severities: [String] { findings.compactMap { $0["severity"] as? String } }
    }

    /// Starts a daemon with `environment` as environment "prod", asks, approves, returns.
    static func run(
        _ problem: String, environment: String, env: [String: String] = [:], directory: TemporaryDirectory, wrap: [String]? = nil,
        context: [String: String] = [:]
    ) throws -> Outcome {
        let tokenFile = try directory.write("alice.token", token, mode: 0o600)
        let config = """
            secrets: {allow_env_refs: true}
            runners: {deadline: 45s}
            auth: {approvers: [{name: alice, token: "file://\(tokenFile)"}]}
            environments:
              prod:
            \(environment)
                checks:
            \(redHerring)
            """
        let daemon: DaemonProcess
        if let wrap {
            // Run the daemon inside a wrapper (a private mount namespace for the disk scenario).
            try directory.write("config.yaml", config)
            let port = try TestEnvironment.freePort()
            let script = try directory.write("wrapped.sh", (wrap + ["exec \(TestEnvironment.binary("sre-diagnosed")) --config \(directory.file("config.yaml")) --listen 127.0.0.1:\(port) --state-directory \(directory.file("state")) --log-target stderr"]).joined(separator: "\n") + "\n", mode: 0o755)
            let child = try ChildProcess("/usr/bin/unshare", ["--mount", "--propagation", "private", "/bin/sh", script], environment: env, directory: directory, name: "sre-diagnosed")
            guard TestEnvironment.waitUntil(timeout: 20, { (try? TestHTTPClient.request(.tcp(port: port), "GET", "/health").status) == 200 }) else {
                child.stop()
                throw TestHTTPError.connect("wrapped daemon did not start: \(child.stderr)")
            }
            daemon = try DaemonProcess(adopting: child, port: port, directory: directory)
        } else {
            daemon = try DaemonProcess(config: config, environment: env, directory: directory)
        }
        defer { daemon.cleanUp(keepDirectory: true) }
        let accepted = try daemon.post("/diagnose", ["problem": problem, "environment": "prod", "context": context])
        #expect(accepted.status == 202, "\(accepted.text)")
        let id = try #require(accepted.json["session_id"] as? String)
        let waiting = try SessionAPITests.waitForStatus(daemon, id, timeout: 60) { ["awaiting_approval", "completed", "failed"].contains($0) }
        if waiting["status"] as? String == "awaiting_approval" {
            let decision = try daemon.post("/approve/\(id)", ["approved": true], headers: ["Authorization": "Bearer \(token)"])
            #expect(decision.status == 200, "\(decision.text)")
        }
        let status = try SessionAPITests.waitForStatus(daemon, id, timeout: 90) { ["completed", "failed", "expired"].contains($0) }
        #expect(status["status"] as? String == "completed", "\(status)")
        return Outcome(status: status, report: try daemon.get("/sessions/\(id)/report").json)
    }

    static func database(_ server: PostgresServer) -> String {
        """
            database:
              - {name: orders-db, host: 127.0.0.1, port: \(server.port), database: orders, credential: "env://DB_LOGIN", tls: disable}
        """
    }

    static func login(_ password: String) -> [String: String] {
        ["DB_LOGIN": #"{"username": "app", "password": "\#(password)"}"#]
    }

    /// Application log lines, the last `errors` of them failing with `message`.
    static func appLog(_ directory: TemporaryDirectory, errors: Int, message: String) throws -> String {
        var text = ""
        let now = Date()
        for index in 0..<40 { text += "\(JSONCoding.format(now.addingTimeInterval(-1500 + Double(index) * 20))) INFO GET /orders 200\n" }
        for index in 0..<errors { text += "\(JSONCoding.format(now.addingTimeInterval(-200 + Double(index) * 4))) ERROR \(message) (request \(UUID().uuidString))\n" }
        try directory.write("app/api-gateway.log", text)
        return directory.file("app/*.log")
    }

    // MARK: Scenarios

    @Test func connectionSlotsExhaustedWithAppLogErrors() throws {
        let server = try PostgresServer(maxConnections: 8, reservedConnections: 3)
        defer { server.cleanUp() }
        for _ in 0..<5 { try server.holdSession("SELECT pg_sleep(300);") }
        let directory = try TestEnvironment.makeTemporaryDirectory("sc1")
        defer { directory.remove() }
        let logs = try Self.appLog(directory, errors: 30, message: "db pool: FATAL: sorry, too many clients already")
        let outcome = try Self.run("Database connection failures in production", environment: Self.database(server) + """

                logs: {files: ["\(logs)"], lookback: 30m}
            """, env: Self.login(server.appPassword), directory: directory, context: ["service": "api-gateway"])
        #expect(outcome.topCodes.first == "db.connections_saturated", "\(outcome.causes)")
        #expect(outcome.topTitle == "Connection pool exhaustion at orders-db")
        let supporting = Set(outcome.causes.first?["finding_ids"] as? [String] ?? [])
        #expect(!supporting.intersection(outcome.findingIDs("logs.error_signature")).isEmpty, "the app log errors support it")
        #expect((outcome.report["summary"] as? String)?.contains("first seen") == true)
        #expect(outcome.causes.first { ($0["codes"] as? [String])?.contains("backup.late") == true }.map { ($0["confidence"] as? Double ?? 1) < (outcome.causes.first?["confidence"] as? Double ?? 0) } == true)
    }

    @Test func lockContention() throws {
        let server = try PostgresServer()
        defer { server.cleanUp() }
        try server.holdSession("BEGIN; UPDATE accounts SET balance = balance + 1 WHERE id = 1;")
        #expect(TestEnvironment.waitUntil { (try? server.psql("SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'")) == "1" })
        try server.holdSession("UPDATE accounts SET balance = 0 WHERE id = 1;")
        try server.holdSession("UPDATE accounts SET balance = 5 WHERE id = 1;")
        let directory = try TestEnvironment.makeTemporaryDirectory("sc2")
        defer { directory.remove() }
        let outcome = try Self.run("Checkout requests time out; the orders database seems slow", environment: Self.database(server), env: Self.login(server.appPassword), directory: directory)
        #expect(outcome.topCodes.first == "db.lock_contention", "\(outcome.causes)")
        #expect(outcome.topTitle.contains("Lock contention at orders-db"))
    }

    @Test func wrongPasswordAfterRotation() throws {
        let server = try PostgresServer()
        defer { server.cleanUp() }
        let directory = try TestEnvironment.makeTemporaryDirectory("sc3")
        defer { directory.remove() }
        let outcome = try Self.run("Database connection failures since the nightly secret rotation", environment: Self.database(server), env: Self.login("previous-password"), directory: directory)
        #expect(outcome.topCodes.first == "db.auth_failed", "\(outcome.causes)")
    }

    @Test func databaseDown() throws {
        let server = try PostgresServer()
        defer { server.cleanUp() }
        server.stop()
        let directory = try TestEnvironment.makeTemporaryDirectory("sc4")
        defer { directory.remove() }
        let logs = try Self.appLog(directory, errors: 15, message: "could not connect to server: Connection refused")
        let outcome = try Self.run("Database connection failures in production", environment: Self.database(server) + """

                logs: {files: ["\(logs)"], lookback: 30m}
            """, env: Self.login(server.appPassword), directory: directory)
        #expect(outcome.topCodes.first == "db.unreachable", "\(outcome.causes)")
        #expect(outcome.topTitle == "orders-db is down or unreachable")
    }

    @Test func expiredCertificateOnTheHealthEndpoint() throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("sc5")
        defer { directory.remove() }
        let server = try TLSTestServer(certificate: "expired", directory: directory)
        defer { server.stop() }
        let port = server.port
        let outcome = try Self.run("The API returns errors: https health check failing", environment: """
                network: {endpoints: ["https://localhost:\(port)/healthz"]}
            """, directory: directory)
        #expect(outcome.topCodes.first == "net.tls_expired", "\(outcome.causes)")
        #expect(outcome.topTitle.hasPrefix("Expired TLS certificate on localhost:\(port)"))
    }

    @Test func diskNearlyFullOnALogMount() throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("sc6")
        defer { directory.remove() }
        let mount = directory.file("logs-mount")
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        // A 4 MiB tmpfs, 95% full, mounted in the daemon's own mount namespace (its runners inherit it).
        let outcome = try Self.run("Disk full on the log volume, services cannot write", environment: """
                host: {mounts: ["\(mount)"], disk_warn_percent: 85, disk_critical_percent: 98}
            """, directory: directory, wrap: [
                "set -e",
                "mount -t tmpfs -o size=4m tmpfs \(mount)",
                "dd if=/dev/zero of=\(mount)/app.log bs=1k count=3900 2>/dev/null",
            ])
        #expect(outcome.topCodes.first == "host.disk_full", "\(outcome.causes)")
        #expect(outcome.topTitle == "\(mount) is out of space")
    }

    @Test func crashloopingDeploymentOOMKilled() throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("sc7")
        defer { directory.remove() }
        let certificates = try ChildProcess("/usr/bin/env", ["python3", TestEnvironment.fixture("make_certs.py"), directory.path], directory: directory, name: "certs")
        #expect(certificates.wait() == 0)
        let token = "kube-token-\(UUID().uuidString.prefix(6))"
        let apiserver = try ChildProcess("/usr/bin/python3", [TestEnvironment.fixture("k8s_standin.py"), "oom", directory.file("k8s.port"), token, directory.file("k8s.log"), directory.file("valid.pem"), directory.file("valid.key")], directory: directory, name: "apiserver")
        defer { apiserver.stop() }
        #expect(TestEnvironment.waitUntil { FileManager.default.fileExists(atPath: directory.file("k8s.port")) })
        let port = try String(contentsOfFile: directory.file("k8s.port"), encoding: .utf8)
        let ca = try Data(contentsOf: URL(fileURLWithPath: directory.file("ca.pem"))).base64EncodedString()
        let kubeconfig = """
            apiVersion: v1
            kind: Config
            clusters: [{name: prod, cluster: {server: "https://localhost:\(port)", certificate-authority-data: "\(ca)"}}]
            users: [{name: sre, user: {token: \(token)}}]
            contexts: [{name: prod, context: {cluster: prod, user: sre}}]
            current-context: prod
            """
        let outcome = try Self.run("Pods restarting in the api namespace", environment: """
                kubernetes: {kubeconfig_credential: "env://KUBECONFIG_DATA", namespaces: [api]}
            """, env: ["KUBECONFIG_DATA": kubeconfig], directory: directory, context: ["namespace": "api"])
        #expect(outcome.topCodes.first == "k8s.oomkilled", "\(outcome.causes)")
        #expect(outcome.topTitle.hasPrefix("Containers are OOMKilled"))
        let supporting = Set(outcome.causes.first?["finding_ids"] as? [String] ?? [])
        #expect(!supporting.intersection(outcome.findingIDs("k8s.crashloop")).isEmpty)
    }

    @Test func rdsStorageFullWithFiringAlarm() throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("sc8")
        defer { directory.remove() }
        let moto = try ChildProcess("/usr/bin/env", ["python3", TestEnvironment.fixture("aws_standin.py"), directory.file("aws.port"), "faults"], directory: directory, name: "moto")
        defer { moto.stop() }
        #expect(TestEnvironment.waitUntil(timeout: 60) { FileManager.default.fileExists(atPath: directory.file("aws.port")) })
        let port = try String(contentsOfFile: directory.file("aws.port"), encoding: .utf8)
        let outcome = try Self.run("RDS storage alarm firing, writes fail", environment: """
                cloud:
                  aws: {region: us-west-2, credential: "env://AWS_LOGIN", endpoint_url: "http://127.0.0.1:\(port)"}
            """, env: ["AWS_LOGIN": #"{"aws_access_key_id": "AKIASCENARIO", "aws_secret_access_key": "scenario-secret"}"#], directory: directory)
        #expect(outcome.topCodes.first == "aws.rds_unavailable", "\(outcome.causes)")
        #expect(outcome.topTitle == "RDS instance orders-rds is out of storage")
        #expect(outcome.topCodes.contains("aws.alarm_firing"), "the alarm supports it")
    }

    @Test func healthyBaselineHasNoHighOrCriticalFinding() throws {
        let server = try PostgresServer()
        defer { server.cleanUp() }
        let directory = try TestEnvironment.makeTemporaryDirectory("sc9")
        defer { directory.remove() }
        let logs = try Self.appLog(directory, errors: 0, message: "")
        let open = try TestEnvironment.listeningSocket()
        defer { close(open.fd) }
        let outcome = try Self.run("Database connection failures in production", environment: Self.database(server) + """

                logs: {files: ["\(logs)"], lookback: 30m}
                network: {endpoints: ["tcp://127.0.0.1:\(open.port)"]}
            """, env: Self.login(server.appPassword), directory: directory)
        #expect(!outcome.severities.contains("critical") && !outcome.severities.contains("high"), "\(outcome.findings.map { "\($0["code"] ?? "") \($0["severity"] ?? "")" })")
        #expect(outcome.findings.filter { $0["severity"] as? String == "ok" }.count >= 6, "what was ruled out is listed")
        // Only the red herring remains as a cause, with low confidence.
        #expect(outcome.causes.allSatisfy { ($0["codes"] as? [String]) == ["backup.late"] })
    }
}
