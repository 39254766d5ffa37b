import Foundation
import TestSupport
import Testing

/// The guarantee: a planted canary secret — resolved through every provider — reaches only the
/// probe's tool. Probes echo it back raw, base64-, URL- and JSON-encoded, in output, in an
/// error and in a log line; none of those forms may appear in the daemon's log, the SQLite
/// files (WAL included), any API or SSE body, or any process's environ/cmdline but the tool's.
@Suite struct SecretCanaryTests {
    static let opToken = "ops_service-account-token-0123456789"
    static let connectToken = "connect-bearer-token-0123456789"

    /// Forms under which a secret commonly leaks.
    static func encodedForms(_ secret: String) -> [String] {
        let base64 = Data(secret.utf8).base64EncodedString()
        let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        let json = String(decoding: (try? JSONSerialization.data(withJSONObject: [secret])) ?? Data(), as: UTF8.self).dropFirst(2).dropLast(2)
        return [secret, base64, base64.replacingOccurrences(of: "=", with: ""), secret.addingPercentEncoding(withAllowedCharacters: unreserved) ?? secret, String(json)]
    }

    /// Writes the vault both 1Password stand-ins serve.
    static func writeVault(_ directory: TemporaryDirectory, password: String) throws -> String {
        let vault: [String: Any] = ["vaults": [[
            "id": "vlt0001", "name": "Infrastructure",
            "items": [[
                "id": "itm0001", "title": "prod-db", "sections": [["id": "sec1", "label": "login"]],
                "fields": [
                    ["id": "username", "label": "username", "value": "app", "type": "STRING"],
                    ["id": "password", "label": "password", "value": password, "type": "CONCEALED", "section": ["id": "sec1"]],
                ],
            ]],
        ]]]
        return try directory.write("vault.json", String(decoding: try JSONSerialization.data(withJSONObject: vault), as: UTF8.self))
    }

    /// A check that echoes `$S` every way it can, fails, and logs it on stderr.
    static func echoCheck(_ name: String, credential: String, field: String) -> String {
        let script = #"printf '%s\n' "$S"; printf '%s' "$S" | base64 -w0; echo; /usr/bin/python3 -c 'import os,json,urllib.parse; s=os.environ["S"]; print(urllib.parse.quote(s, safe="")); print(json.dumps({"v": s}))'; echo "login failed for password=$S" >&2; sleep 1; exit 3"#
        let json = #"printf '%s' "$S""#
        return """
                  - {name: \(name), domain: database, command: sh, args: ["-c", \(quoted(script))], credential: "\(credential)", env: {\(field): S}}
                  - {name: \(name)-json, domain: database, command: sh, args: ["-c", \(quoted(json))], credential: "\(credential)", env: {\(field): S}, json_path: x, expect: y}

            """
    }

    static func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    struct Planted {
        let daemon: DaemonProcess
        let canaries: [String]
    }

    /// Daemon A: op CLI stand-in, systemd credential, env and file. Daemon B: Connect stand-in.
    static func plant(connect: Bool) throws -> (Planted, ChildProcess?) {
        let directory = try TestEnvironment.makeTemporaryDirectory("cnry")
        let unique = UUID().uuidString.prefix(8)
        // Quotes, slashes, plus and space make every encoding differ from the raw value.
        func canary(_ tag: String) -> String { "c4n4ry-\(tag)-\(unique)/+ \"q\"" }
        let token = try directory.write("alice.token", SessionAPITests.approverToken, mode: 0o600)
        var environment: [String: String] = [:]
        var checks = ""
        var secretsConfig = "allow_env_refs: true\n  allow_file_refs: true\n"
        var canaries: [String] = []
        var connectServer: ChildProcess?
        if connect {
            let password = canary("CONNECT")
            canaries.append(password)
            let vault = try writeVault(directory, password: password)
            connectServer = try ChildProcess("/usr/bin/python3", [TestEnvironment.fixture("onepassword_connect.py"), vault, connectToken, directory.file("connect.port"), directory.file("connect.log")], directory: directory, name: "connect")
            #expect(TestEnvironment.waitUntil { FileManager.default.fileExists(atPath: directory.file("connect.port")) })
            let port = try String(contentsOfFile: directory.file("connect.port"), encoding: .utf8)
            try directory.write("connect.token", connectToken, mode: 0o600)
            secretsConfig += "  onepassword: {mode: connect, host: \"http://127.0.0.1:\(port)\", token: \"file://\(directory.file("connect.token"))\"}\n"
            checks += echoCheck("connect-field", credential: "op://Infrastructure/prod-db/login/password", field: "value")
            checks += echoCheck("connect-item", credential: "op://infrastructure/PROD-DB", field: "password")
        } else {
            let password = canary("OPCLI")
            canaries.append(password)
            let vault = try writeVault(directory, password: password)
            let op = try directory.write("op", "#!/bin/sh\nexec /usr/bin/python3 \(TestEnvironment.fixture("fake_op.py")) \(vault) \(opToken) \"$@\"\n", mode: 0o755)
            try directory.write("op.token", opToken, mode: 0o600)
            secretsConfig += "  onepassword: {mode: cli, cli_path: \"\(op)\", service_account_token: \"file://\(directory.file("op.token"))\"}\n"
            checks += echoCheck("op-field", credential: "op://Infrastructure/prod-db/password", field: "value")
            checks += echoCheck("op-item", credential: "op://Infrastructure/prod-db", field: "password")

            let systemd = canary("SYSTEMD")
            try directory.write("credentials/db-password", systemd, mode: 0o600)
            environment["CREDENTIALS_DIRECTORY"] = directory.file("credentials")
            checks += echoCheck("systemd", credential: "cred://db-password", field: "value")

            let env = canary("ENV")
            environment["SRE_CANARY_ENV"] = env
            checks += echoCheck("env", credential: "env://SRE_CANARY_ENV", field: "value")

            let file = canary("FILE")
            let path = try directory.write("secret.txt", file, mode: 0o600)
            checks += echoCheck("file", credential: "file://\(path)", field: "value")
            canaries += [systemd, env, file]
        }
        let config = """
            logging: {level: debug}
            secrets:
              \(secretsConfig)
            auth:
              approvers: [{name: alice, token: "file://\(token)"}]
            environments:
              canary:
                checks:
            \(checks)
            """
        let daemon = try DaemonProcess(config: config, environment: environment, directory: directory)
        return (Planted(daemon: daemon, canaries: canaries), connectServer)
    }

    /// Every process whose environ or cmdline holds a canary form, with its ancestors' names
    /// read at once (a process whose ancestry is already gone is exiting and is skipped).
    static func processesHolding(_ forms: [String]) -> [(pid: Int32, comm: String, ancestors: [String])] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.compactMap { pid in
            let text = TestEnvironment.processEnvironmentAndCommandLine(pid)
            guard forms.contains(where: { text.contains($0) }) else { return nil }
            let parent = parentOf(pid)
            let grandparent = parentOf(parent)
            let ancestors = [comm(parent), comm(grandparent)]
            guard ancestors[0] != "?" else { return nil }
            return (pid, comm(pid), ancestors)
        }
    }

    static func comm(_ pid: Int32) -> String {
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        return stat.split(separator: "(").dropFirst().first?.split(separator: ")").first.map(String.init) ?? "?"
    }

    @Test(arguments: [false, true])
    func canaryReachesOnlyTheProbeTool(connect: Bool) throws {
        let (planted, connectServer) = try Self.plant(connect: connect)
        let daemon = planted.daemon
        defer {
            connectServer?.stop()
            daemon.cleanUp()
        }
        let forms = planted.canaries.flatMap(Self.encodedForms)
        let id = try SessionAPITests.diagnose(daemon, "canary")
        let waiting = try SessionAPITests.waitForStatus(daemon, id) { $0 == "awaiting_approval" }
        let approval = try #require(waiting["pending_approval"] as? [String: Any])
        let requestID = try #require(approval["request_id"] as? String)
        let approved = try daemon.post("/approve/\(id)", ["approved": true, "request_id": requestID], headers: ["Authorization": "Bearer \(SessionAPITests.approverToken)"])
        #expect(approved.status == 200, "\(approved.text)")

        // While the tools run (each sleeps 1 s): only tool processes (children of a runner) may
        // hold a canary in their environment.
        var sawTool = false
        var offenders: [String] = []
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            let status = try daemon.get("/status/\(id)").json["status"] as? String ?? ""
            if ["completed", "failed"].contains(status) { break }
            for holder in Self.processesHolding(forms) {
                // The env:// canary lives in the daemon's own environment: that is its source.
                if holder.pid == daemon.pid, !connect {
                    let text = TestEnvironment.processEnvironmentAndCommandLine(holder.pid)
                    let others = forms.filter { text.contains($0) && !Self.encodedForms(planted.canaries[2]).contains($0) }
                    if !others.isEmpty { offenders.append("daemon \(holder.pid) holds \(others)") }
                    continue
                }
                if holder.ancestors.contains(where: { $0.hasPrefix("sre-diagnose-ru") }) {
                    sawTool = true
                } else {
                    offenders.append("\(holder.comm) (pid \(holder.pid), ancestors \(holder.ancestors))")
                }
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(sawTool, "the tools received the credential in their environment")
        #expect(offenders.isEmpty, "\(offenders)")

        let final = try SessionAPITests.waitForStatus(daemon, id) { $0 == "completed" }
        let findings = try #require(final["findings"] as? [[String: Any]])
        // One failing echo check per credential reference (two for each 1Password provider).
        #expect(findings.filter { $0["code"] as? String == "command.failed" }.count == (connect ? 2 : 5))
        // The JSON checks failed with an error that quoted the secret: redacted in the outcome.
        let report = try daemon.get("/sessions/\(id)/report").json
        let outcomes = (report["domains"] as? [[String: Any]] ?? []).flatMap { $0["probes"] as? [[String: Any]] ?? [] }
        let errors = outcomes.compactMap { $0["error"] as? String }.filter { $0.contains("is not JSON") }
        #expect(errors.count == (connect ? 2 : 5), "\(outcomes)")
        #expect(errors.allSatisfy { $0.contains("[REDACTED:") })
        // The output was captured — and redacted, not lost.
        let statusText = try daemon.get("/status/\(id)").text
        #expect(statusText.contains("[REDACTED:"), "redaction markers in the findings")

        // Every sink.
        var sinks: [(String, String)] = []
        for path in ["/status/\(id)", "/sessions/\(id)/report", "/sessions/\(id)/audit", "/sessions", "/metrics", "/environments"] {
            sinks.append((path, try daemon.get(path).text))
        }
        sinks.append(("report.md", try daemon.get("/sessions/\(id)/report", headers: ["Accept": "text/markdown"]).text))
        sinks.append(("events", try SSEClient(daemon.target, path: "/sessions/\(id)/events").rest().map(\.data).joined(separator: "\n")))
        #expect(sinks.first { $0.0 == "events" }?.1.contains("runner_log") == true, "stderr reached the event log as a runner log line")
        daemon.terminate()
        sinks.append(("daemon stderr", daemon.child.stderr))
        for file in ["sessions.sqlite", "sessions.sqlite-wal", "sessions.sqlite-shm"] {
            let data = FileManager.default.contents(atPath: daemon.directory.file("state/\(file)")) ?? Data()
            sinks.append((file, String(decoding: data, as: UTF8.self)))
            #expect(file != "sessions.sqlite" || data.count > 0)
        }
        for (sink, text) in sinks {
            for form in forms {
                #expect(!text.contains(form), "\(sink) contains a canary form: \(form)")
            }
        }
        // The provider tokens themselves stayed out too.
        let tokens = connect ? [Self.connectToken] : [Self.opToken]
        for (sink, text) in sinks { for token in tokens { #expect(!text.contains(token), "\(sink) leaked a provider token") } }
    }

    /// The metrics domain's credential: a bearer token for the Prometheus API, refused by the
    /// authenticating proxy stand-in, whose refusal quotes the header it got. The token travels
    /// in curl's stdin config (never argv) and must reach no sink — the finding that quotes the
    /// refusal included.
    @Test func metricsBearerTokenReachesNoSink() throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("cnry-metrics")
        let prometheus = try PrometheusServer()
        defer { prometheus.cleanUp() }
        let expected = try directory.write("expected", "Bearer the-right-token", mode: 0o600)
        let proxy = try FixtureServer("auth_proxy.py", [prometheus.url, expected], directory: directory)
        defer { proxy.stop() }
        let canary = "c4n4ry-PROM-\(UUID().uuidString.prefix(8))/+ \"q\""
        let forms = Self.encodedForms(canary)
        let token = try directory.write("alice.token", SessionAPITests.approverToken, mode: 0o600)
        let daemon = try DaemonProcess(config: """
            logging: {level: debug}
            secrets: {allow_env_refs: true}
            auth: {approvers: [{name: alice, token: "file://\(token)"}]}
            environments:
              canary:
                metrics:
                  prometheus:
                    url: http://127.0.0.1:\(proxy.port)
                    credential: env://SRE_PROM_TOKEN
            """, environment: ["SRE_PROM_TOKEN": canary], directory: directory)
        defer { daemon.cleanUp() }
        let id = try SessionAPITests.diagnose(daemon, "canary", problem: "error rate alert firing")
        _ = try SessionAPITests.waitForStatus(daemon, id) { $0 == "awaiting_approval" }
        let approved = try daemon.post("/approve/\(id)", ["approved": true], headers: ["Authorization": "Bearer \(SessionAPITests.approverToken)"])
        #expect(approved.status == 200, "\(approved.text)")
        var offenders: [String] = []
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            let status = try daemon.get("/status/\(id)").json["status"] as? String ?? ""
            if ["completed", "failed"].contains(status) { break }
            // The daemon's own environment is the env:// source; nothing else may hold it.
            for holder in Self.processesHolding(forms) where holder.pid != daemon.pid {
                offenders.append("\(holder.comm) (pid \(holder.pid), ancestors \(holder.ancestors))")
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(offenders.isEmpty, "\(offenders)")
        let final = try SessionAPITests.waitForStatus(daemon, id) { $0 == "completed" }
        let findings = final["findings"] as? [[String: Any]] ?? []
        let refused = findings.filter { $0["code"] as? String == "metrics.unreachable" }
        #expect(refused.count == 3, "alerts, targets and signals each report the refusal: \(findings)")
        #expect(refused.allSatisfy { ($0["detail"] as? String)?.contains("[REDACTED:") == true }, "the quoted header is redacted: \(refused)")
        let seen = (try? String(contentsOfFile: proxy.portFile + ".seen", encoding: .utf8)) ?? ""
        #expect(seen.split(separator: "\n").count == 3 && !seen.contains("ok"), "the token was sent once per probe, and refused: \(seen)")

        var sinks: [(String, String)] = []
        for path in ["/status/\(id)", "/sessions/\(id)/report", "/sessions/\(id)/audit", "/sessions", "/metrics", "/environments"] {
            sinks.append((path, try daemon.get(path).text))
        }
        sinks.append(("report.md", try daemon.get("/sessions/\(id)/report", headers: ["Accept": "text/markdown"]).text))
        sinks.append(("events", try SSEClient(daemon.target, path: "/sessions/\(id)/events").rest().map(\.data).joined(separator: "\n")))
        daemon.terminate()
        sinks.append(("daemon stderr", daemon.child.stderr))
        for file in ["sessions.sqlite", "sessions.sqlite-wal", "sessions.sqlite-shm"] {
            sinks.append((file, String(decoding: FileManager.default.contents(atPath: daemon.directory.file("state/\(file)")) ?? Data(), as: UTF8.self)))
        }
        for (sink, text) in sinks {
            for form in forms { #expect(!text.contains(form), "\(sink) contains a canary form: \(form)") }
        }
    }

    /// Notifications: the approval request and the report go to a signed webhook and to Slack
    /// (stand-in) while a probe echoes a canary every way it can. No message holds a canary form,
    /// and neither the signing key nor the Slack URL (both secrets) reaches a message, the
    /// database or the log.
    @Test func notificationsCarryNoSecret() throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("cnry-notify")
        let canary = "c4n4ry-NOTIFY-\(UUID().uuidString.prefix(8))/+ \"q\""
        let forms = Self.encodedForms(canary)
        let hmacKey = "hmac-key-\(UUID().uuidString)"
        let secretFile = try directory.write("hmac.secret", hmacKey, mode: 0o600)
        let receiverLog = directory.file("receiver.log")
        let receiver = try FixtureServer("webhook_receiver.py", [secretFile, receiverLog], directory: directory)
        defer { receiver.stop() }
        let slackLog = directory.file("slack.log")
        let slack = try FixtureServer("slack_standin.py", [slackLog], directory: directory)
        defer { slack.stop() }
        let slackToken = "XoXb\(UUID().uuidString.prefix(12))"
        let slackURL = try directory.write("slack.url", "http://127.0.0.1:\(slack.port)/services/T1/B1/\(slackToken)", mode: 0o600)
        let token = try directory.write("alice.token", SessionAPITests.approverToken, mode: 0o600)
        let daemon = try DaemonProcess(config: """
            logging: {level: debug}
            secrets: {allow_env_refs: true}
            auth: {approvers: [{name: alice, token: "file://\(token)"}]}
            notifications:
              retry: {initial: 100ms, max: 500ms}
              sinks:
                - {name: team, type: webhook, url: "http://127.0.0.1:\(receiver.port)/hook", secret: "file://\(secretFile)"}
                - {name: chat, type: slack, url_credential: "file://\(slackURL)"}
            environments:
              canary:
                checks:
            \(Self.echoCheck("notify", credential: "env://SRE_CANARY_NOTIFY", field: "value"))
            """, environment: ["SRE_CANARY_NOTIFY": canary], directory: directory)
        defer { daemon.cleanUp() }
        let id = try SessionAPITests.diagnose(daemon, "canary")
        _ = try SessionAPITests.waitForStatus(daemon, id) { $0 == "awaiting_approval" }
        #expect(try daemon.post("/approve/\(id)", ["approved": true], headers: ["Authorization": "Bearer \(SessionAPITests.approverToken)"]).status == 200)
        _ = try SessionAPITests.waitForStatus(daemon, id) { $0 == "completed" }
        #expect(TestEnvironment.waitUntil(timeout: 20) { FixtureServer.jsonLines(receiverLog).count >= 2 && FixtureServer.jsonLines(slackLog).count >= 2 })
        let messages = FixtureServer.jsonLines(receiverLog)
        #expect(messages.map { $0["event"] as? String ?? "" } == ["approval_requested", "completed"])
        #expect(messages.allSatisfy { $0["signature_ok"] as? Bool == true })
        let report = try daemon.get("/sessions/\(id)/report").text
        #expect(report.contains("[REDACTED:"), "the echoed secret was redacted in the report the message summarises")

        daemon.terminate()
        var sinks: [(String, String)] = [
            ("webhook messages", (try? String(contentsOfFile: receiverLog, encoding: .utf8)) ?? ""),
            ("slack messages", (try? String(contentsOfFile: slackLog, encoding: .utf8)) ?? ""),
            ("daemon stderr", daemon.child.stderr),
        ]
        for file in ["sessions.sqlite", "sessions.sqlite-wal"] {
            sinks.append((file, String(decoding: FileManager.default.contents(atPath: daemon.directory.file("state/\(file)")) ?? Data(), as: UTF8.self)))
        }
        for (sink, text) in sinks {
            for form in forms { #expect(!text.contains(form), "\(sink) contains a canary form: \(form)") }
            #expect(!text.contains(hmacKey), "\(sink) holds the signing key")
            #expect(!text.contains(slackToken), "\(sink) holds the Slack webhook URL")
        }
    }

    static func parentOf(_ pid: Int32) -> Int32 {
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        let fields = stat.split(separator: ")").last?.split(separator: " ") ?? []
        return Int32(fields.count > 1 ? fields[1] : "0") ?? 0
    }

    /// Beyond one host: the PostgreSQL store's password and the Kubernetes API token (daemon
    /// secrets read from files) and a database credential that travels to a runner started as a
    /// Kubernetes Job (the API stand-in starts it from the Job's pod template). None reaches the
    /// daemon's log, the shared database, an API or SSE body, the Job specs the API received, or
    /// any process's environ/cmdline — but the tool's (the credential), the stand-in API server's
    /// (its own token, in its argv) and the daemon's (its env:// source).
    @Test func clusterAndJobSecretsReachNoSink() throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("cnry-cluster")
        defer { directory.remove() }
        let unique = UUID().uuidString.prefix(8)
        let storePassword = "c4n4ry-STORE-\(unique)/+ pw"
        let apiToken = "c4n4ry-K8S-\(unique)"
        let credential = "c4n4ry-DB-\(unique)/+ \"q\""
        let postgres = try PostgresServer()
        defer { postgres.cleanUp() }
        try postgres.psql("ALTER ROLE app PASSWORD '\(storePassword)'")
        try postgres.psql("CREATE DATABASE sre OWNER app")
        let certificates = try ChildProcess("/usr/bin/env", ["python3", TestEnvironment.fixture("make_certs.py"), directory.path], directory: directory, name: "certs")
        #expect(certificates.wait() == 0)
        let apiserver = try ChildProcess(
            "/usr/bin/python3",
            [TestEnvironment.fixture("k8s_standin.py"), "healthy", directory.file("port"), apiToken, directory.file("requests.jsonl"), directory.file("valid.pem"), directory.file("valid.key")],
            directory: directory, name: "apiserver"
        )
        defer { apiserver.stop() }
        #expect(TestEnvironment.waitUntil { FileManager.default.fileExists(atPath: directory.file("port")) })
        let apiPort = try String(contentsOfFile: directory.file("port"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let storeFile = try directory.write("store.password", storePassword, mode: 0o600)
        let tokenFile = try directory.write("sa.token", apiToken, mode: 0o600)
        let approver = try directory.write("alice.token", SessionAPITests.approverToken, mode: 0o600)
        let endpointPort = try TestEnvironment.freePort()
        // Exit 3 (not 4) proves the credential arrived whole; it is echoed every way.
        let echo = #"[ ${#S} -eq "# + String(credential.utf8.count) + #" ] || exit 4; printf '%s\n' "$S"; printf '%s' "$S" | base64 -w0; echo; echo "login failed for password=$S" >&2; exit 3"#
        let daemon = try DaemonProcess(config: """
            logging: {level: debug}
            secrets: {allow_env_refs: true}
            auth: {approvers: [{name: alice, token: "file://\(approver)"}]}
            storage:
              backend: postgres
              postgres: {host: 127.0.0.1, port: \(postgres.port), database: sre, user: app, credential: "file://\(storeFile)"}
            runners:
              launcher: kubernetes
              endpoint: {listen: "127.0.0.1:\(endpointPort)", advertise: "tls://localhost:\(endpointPort)", certificate: "\(directory.file("valid.pem"))", key: "\(directory.file("valid.key"))", ca_file: "\(directory.file("ca.pem"))"}
              kubernetes: {api_url: "https://localhost:\(apiPort)", token_file: "\(tokenFile)", ca_file: "\(directory.file("ca.pem"))", namespace: diagnose, image: "registry.example/sre-diagnose:test", command: ["\(TestEnvironment.binary("sre-diagnose-runner"))"]}
            environments:
              canary:
                checks:
                  - {name: echo, domain: database, command: sh, args: ["-c", \(Self.quoted(echo))], credential: "env://DB_PASSWORD", env: {value: S}}
            """, environment: ["DB_PASSWORD": credential])
        defer { daemon.cleanUp() }
        let forms = [storePassword, apiToken, credential].flatMap(Self.encodedForms)
        let id = try SessionAPITests.diagnose(daemon, "canary")
        _ = try SessionAPITests.waitForStatus(daemon, id) { $0 == "awaiting_approval" }
        #expect(try daemon.post("/approve/\(id)", ["approved": true], headers: ["Authorization": "Bearer \(SessionAPITests.approverToken)"]).status == 200)
        var offenders: [String] = []
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if ["completed", "failed"].contains(try daemon.get("/status/\(id)").json["status"] as? String ?? "") { break }
            for holder in Self.processesHolding(forms) where holder.pid != daemon.pid && holder.pid != apiserver.pid {
                // The tool may hold the credential (and only it): its parent is the runner.
                let text = TestEnvironment.processEnvironmentAndCommandLine(holder.pid)
                let onlyCredential = !Self.encodedForms(storePassword).contains(where: text.contains) && !Self.encodedForms(apiToken).contains(where: text.contains)
                if holder.ancestors.contains("sre-diagnose-ru"), holder.comm == "sh", onlyCredential { continue }
                offenders.append("\(holder.comm) (pid \(holder.pid), ancestors \(holder.ancestors))")
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(offenders.isEmpty, "\(offenders)")
        let final = try SessionAPITests.waitForStatus(daemon, id) { $0 == "completed" }
        // The tool in the Job's runner got the credential whole (exit 3, not 4) and echoed it.
        let echoed = (final["findings"] as? [[String: Any]] ?? []).compactMap { $0["detail"] as? String }
        #expect(echoed.contains { $0.contains("exit code 3") }, "\(echoed)")
        #expect(((try? String(contentsOfFile: directory.file("requests.jsonl.jobs"), encoding: .utf8)) ?? "").contains("\"kind\": \"Job\""), "the runner ran as a Job")

        var sinks: [(String, String)] = []
        for path in ["/status/\(id)", "/sessions/\(id)/report", "/sessions/\(id)/audit", "/sessions", "/metrics", "/alerts"] {
            sinks.append((path, try daemon.get(path).text))
        }
        sinks.append(("events", try SSEClient(daemon.target, path: "/sessions/\(id)/events").rest().map(\.data).joined(separator: "\n")))
        sinks.append(("job specs", (try? String(contentsOfFile: directory.file("requests.jsonl.jobs"), encoding: .utf8)) ?? ""))
        sinks.append(("api requests", (try? String(contentsOfFile: directory.file("requests.jsonl"), encoding: .utf8)) ?? ""))
        let dump = try ChildProcess(
            "/usr/bin/setpriv", ["--reuid=postgres", "--regid=postgres", "--init-groups", "\(PostgresServer.bin)/pg_dump", "-h", postgres.socketDirectory, "-p", String(postgres.port), "-U", "postgres", "sre"],
            directory: directory, name: "pg_dump"
        )
        #expect(dump.wait(timeout: 30) == 0, "\(dump.stderr)")
        #expect(dump.stdout.contains("CREATE TABLE public.events"), "the dump holds the store")
        sinks.append(("pg_dump sre", dump.stdout))
        daemon.terminate()
        sinks.append(("daemon stderr", daemon.child.stderr))
        for (sink, text) in sinks {
            for form in forms { #expect(!text.contains(form), "\(sink) contains a canary form: \(form)") }
        }
    }
}
