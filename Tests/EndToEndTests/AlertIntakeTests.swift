import DiagnosisModel
import Foundation
import TestSupport
import Synchronization
import Testing

/// Alerts in, reports out — with a real Prometheus whose rule fires on a test-owned exporter's
/// metric, a real Alertmanager that routes it (bearer token) to the daemon's webhook, the team's
/// webhook receiver checking signatures, and a Slack stand-in checking Block Kit (Slack cannot be
/// reached from here).
@Suite(.serialized) struct AlertIntakeTests {
    static let token = SessionAPITests.approverToken

    struct Team {
        let directory: TemporaryDirectory
        let receiver: FixtureServer
        let receiverLog: String
        let slack: FixtureServer
        let slackLog: String
        let secretFile: String
        let slackURLFile: String
        let intakeTokenFile: String
        let intakeToken: String

        func stop() {
            receiver.stop()
            slack.stop()
        }

        var sinks: String {
            """
              sinks:
                - {name: team-webhook, type: webhook, url: "http://127.0.0.1:\(receiver.port)/hook", secret: "file://\(secretFile)"}
                - {name: team-slack, type: slack, url_credential: "file://\(slackURLFile)"}
            """
        }
    }

    static func team(_ directory: TemporaryDirectory) throws -> Team {
        let secretFile = try directory.write("hmac.secret", "hmac-\(UUID().uuidString)", mode: 0o600)
        let receiverLog = directory.file("receiver.log")
        let receiver = try FixtureServer("webhook_receiver.py", [secretFile, receiverLog], directory: directory)
        let slackLog = directory.file("slack.log")
        let slack = try FixtureServer("slack_standin.py", [slackLog], directory: directory)
        let slackURLFile = try directory.write("slack.url", "http://127.0.0.1:\(slack.port)/services/T000/B000/\(UUID().uuidString.prefix(12))", mode: 0o600)
        let intakeToken = "am-token-\(UUID().uuidString)"
        let intakeTokenFile = try directory.write("intake.token", intakeToken, mode: 0o600)
        return Team(
            directory: directory, receiver: receiver, receiverLog: receiverLog, slack: slack, slackLog: slackLog, secretFile: secretFile,
            slackURLFile: slackURLFile, intakeTokenFile: intakeTokenFile, intakeToken: intakeToken
        )
    }

    static func config(_ team: Team, routes: String = "      - {name: checkout, match: {team: checkout}, environment: prod, context_labels: [service, alertname]}", intakeExtra: String = "", retry: String = "{initial: 200ms, max: 1s}", environment: String? = nil) throws -> String {
        let approverToken = try team.directory.write("alice.token", token, mode: 0o600)
        return """
            secrets: {allow_env_refs: true}
            auth: {approvers: [{name: alice, token: "file://\(approverToken)"}]}
            intake:
              alertmanager:
                tokens: ["file://\(team.intakeTokenFile)"]
            \(intakeExtra)
                routes:
            \(routes)
            notifications:
              public_url: http://sre.example.test
              retry: \(retry)
            \(team.sinks)
            environments:
              prod:
            \(environment ?? """
                checks:
                  - {name: db-login, domain: database, command: sh, args: ["-c", "test -n \\"$PW\\""], credential: "env://SRE_TEST_DB_SECRET", env: {value: PW}}
            """)
            """
    }

    static func intake(_ daemon: DaemonProcess, limit: Int = 100) throws -> [[String: Any]] {
        try daemon.get("/alerts?limit=\(limit)").json["records"] as? [[String: Any]] ?? []
    }

    static func outcome(_ record: [String: Any]) -> (kind: String, session: String?) {
        let outcome = record["outcome"] as? [String: Any] ?? [:]
        return (outcome["kind"] as? String ?? "", outcome["session_id"] as? String)
    }

    /// An alert fires, Alertmanager posts it, a session starts with its labels as context, the
    /// approval request reaches the team (signed webhook and Slack) with the link and the command;
    /// approved over the API, the report reaches them too. A second alert of the group and the
    /// group's resolution join the same session.
    @Test func anAlertStartsASessionAndTheTeamHearsOfIt() throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("intake")
        defer { directory.remove() }
        let team = try Self.team(directory)
        defer { team.stop() }
        let daemon = try DaemonProcess(config: try Self.config(team), environment: ["SRE_TEST_DB_SECRET": "db-secret-value-1234"], directory: directory)
        defer { daemon.cleanUp() }
        let alertmanager = try AlertmanagerServer(webhook: "http://127.0.0.1:\(daemon.port)/webhooks/alertmanager", tokenFile: team.intakeTokenFile)
        defer { alertmanager.cleanUp() }
        let exporter = try FixtureServer("metrics_exporter.py", directory: directory)
        defer { exporter.stop() }
        try exporter.set(#"checkout_errors{service="checkout"}"#, "12")
        let prometheus = try PrometheusServer(jobs: [.init("checkout", ["127.0.0.1:\(exporter.port)"])], rules: """
            groups:
              - name: checkout
                rules:
                  - alert: CheckoutErrors
                    expr: checkout_errors > 5
                    labels: {severity: page, team: checkout}
                    annotations: {summary: "checkout returns errors"}
            """, alertmanager: alertmanager.address)
        defer { prometheus.cleanUp() }

        // The session the alert started.
        var started: [String: Any]?
        _ = TestEnvironment.waitUntil(timeout: 60, interval: 0.25) {
            started = (try? Self.intake(daemon))?.first { Self.outcome($0).kind == "started" }
            return started != nil
        }
        let record = try #require(started, "no session started; alertmanager: \(alertmanager.stderr) intake: \(String(describing: try? Self.intake(daemon)))")
        let id = try #require(Self.outcome(record).session)
        let waiting = try SessionAPITests.waitForStatus(daemon, id, timeout: 30) { $0 == "awaiting_approval" }
        let created = try daemon.get("/status/\(id)").text
        #expect(created.contains(#""alertname":"CheckoutErrors""#) && created.contains(#""service":"checkout""#), "the labels are the context: \(created)")
        #expect(created.contains("alertmanager:sre") && created.contains("CheckoutErrors: checkout returns errors"))
        #expect(waiting["pending_approval"] != nil)

        // The approval request reached the team: signed, with the link, the command and the references.
        var approvalMessage: [String: Any]?
        _ = TestEnvironment.waitUntil(timeout: 20) {
            approvalMessage = FixtureServer.jsonLines(team.receiverLog).first { $0["event"] as? String == "approval_requested" }
            return approvalMessage != nil
        }
        let approval = try #require(approvalMessage, "no approval notification: \(FixtureServer.jsonLines(team.receiverLog))")
        #expect(approval["signature_ok"] as? Bool == true)
        let body = try #require(approval["body"] as? [String: Any])
        #expect(body["dashboard_url"] as? String == "http://sre.example.test/#session=\(id)")
        let details = try #require(body["approval"] as? [String: Any])
        #expect(details["approve_command"] as? String == "sre-diagnose approve \(id)")
        let references = details["references"] as? [[String: Any]] ?? []
        #expect(references.first?["reference"] as? String == "env://SRE_TEST_DB_SECRET" && !(references.first?["purpose"] as? String ?? "").isEmpty)
        #expect(TestEnvironment.waitUntil(timeout: 20) { FixtureServer.jsonLines(team.slackLog).count >= 1 })
        let slackApproval = try #require(FixtureServer.jsonLines(team.slackLog).first)
        #expect(slackApproval["ok"] as? Bool == true, "\(slackApproval)")
        #expect("\(slackApproval["body"] ?? "")".contains("sre-diagnose approve \(id)"))

        // Approved over the API: the report reaches the team.
        let decision = try daemon.post("/approve/\(id)", ["approved": true], headers: ["Authorization": "Bearer \(Self.token)"])
        #expect(decision.status == 200, "\(decision.text)")
        _ = try SessionAPITests.waitForStatus(daemon, id, timeout: 60) { $0 == "completed" }
        #expect(TestEnvironment.waitUntil(timeout: 20) { FixtureServer.jsonLines(team.receiverLog).contains { $0["event"] as? String == "completed" } })
        let completed = try #require(FixtureServer.jsonLines(team.receiverLog).first { $0["event"] as? String == "completed" })
        #expect(completed["signature_ok"] as? Bool == true)
        #expect(((completed["body"] as? [String: Any])?["report"] as? [String: Any])?["summary"] != nil)
        #expect(TestEnvironment.waitUntil(timeout: 20) { FixtureServer.jsonLines(team.slackLog).count >= 2 && FixtureServer.jsonLines(team.slackLog).allSatisfy { $0["ok"] as? Bool == true } })

        // A second alert of the same group, then the group resolves: no new session.
        try exporter.set(#"checkout_errors{service="checkout",pod="b"}"#, "30")
        #expect(TestEnvironment.waitUntil(timeout: 30, interval: 0.25) { ((try? Self.intake(daemon)) ?? []).contains { Self.outcome($0).kind == "added" } })
        try exporter.set(#"checkout_errors{service="checkout"}"#, "0")
        try exporter.set(#"checkout_errors{service="checkout",pod="b"}"#, "0")
        #expect(TestEnvironment.waitUntil(timeout: 40, interval: 0.25) { ((try? Self.intake(daemon)) ?? []).contains { Self.outcome($0).kind == "resolved" } })
        let records = try Self.intake(daemon)
        #expect(records.allSatisfy { Self.outcome($0).session == id }, "every notification of the group went to one session: \(records.map(Self.outcome))")
        let sessions = try daemon.get("/sessions").json["sessions"] as? [[String: Any]] ?? []
        #expect(sessions.count == 1)
        #expect(sessions.first?["requester"] as? String == "alertmanager:sre")

        // The dashboard marks the session as alert-started and lists the group's later alerts.
        let page = try DashboardTests.drive("http://127.0.0.1:\(daemon.port)/#session=\(id)", [
            ["wait": "document.querySelector('#sessions .badge.alert') !== null && document.getElementById('alerts') !== null", "timeout": 20],
            ["eval": "'alerts panel: ' + document.getElementById('alerts').innerText.replace(/\\s+/g, ' ')"],
        ], directory: directory)
        #expect(page.wait(timeout: 60) == 0, "\(page.stdout)")
        #expect(page.stdout.contains("Started by an alert") && page.stdout.contains("resolved"), "\(page.stdout)")

        // The CLI lists the intake.
        let cli = try ChildProcess(TestEnvironment.binary("sre-diagnose"), ["alerts", "--url", "http://127.0.0.1:\(daemon.port)"], directory: directory, name: "cli-alerts")
        #expect(cli.wait() == 0, "\(cli.stderr)")
        #expect(cli.stdout.contains("started") && cli.stdout.contains("resolved") && cli.stdout.contains("CheckoutErrors"), "\(cli.stdout)")
    }

    static func payload(_ groupKey: String, team: String = "checkout", status: String = "firing", version: String = "4", extra: [String: Any] = [:]) -> [String: Any] {
        var body: [String: Any] = [
            "version": version, "groupKey": groupKey, "status": status, "receiver": "sre", "truncatedAlerts": 0,
            "groupLabels": ["alertname": "Burst"], "commonLabels": ["alertname": "Burst", "team": team, "service": "checkout"],
            "commonAnnotations": ["summary": "a burst"], "externalURL": "http://alertmanager.example",
            "alerts": [[
                "status": status, "labels": ["alertname": "Burst", "team": team, "service": "checkout"], "annotations": ["summary": "a burst"],
                "startsAt": "2026-11-29T19:00:00.123456789Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus.example/graph",
                "fingerprint": "f\(groupKey.hashValue & 0xffff)",
            ]],
        ]
        for (key, value) in extra { body[key] = value }
        return body
    }

    /// Wrong credentials, wrong media type, bad JSON, a wrong version, an oversized body: 4xx
    /// JSON errors; an alert no route matches is acknowledged and listed; Grafana's shape is taken.
    @Test func theWebhookRefusesBadInputAndListsWhatNoRouteTakes() throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("intake-bad")
        defer { directory.remove() }
        let team = try Self.team(directory)
        defer { team.stop() }
        let daemon = try DaemonProcess(config: try Self.config(team, environment: "    checks: [{name: quick, domain: host, command: \"true\"}]"), directory: directory)
        defer { daemon.cleanUp() }
        let good = ["Authorization": "Bearer \(team.intakeToken)"]
        func post(_ body: Data, headers: [String: String], contentType: String = "application/json") throws -> HTTPResult {
            var all = headers
            all["Content-Type"] = contentType
            return try TestHTTPClient.request(daemon.target, "POST", "/webhooks/alertmanager", headers: all, body: body)
        }
        let valid = try JSONSerialization.data(withJSONObject: Self.payload("{}:{alertname=\"Burst\"}"))
        for (headers, label) in [([String: String](), "none"), (["Authorization": "Bearer wrong"], "wrong"), (["Authorization": "Basic \(Data("a:b".utf8).base64EncodedString())"], "basic")] {
            let answer = try post(valid, headers: headers)
            #expect(answer.status == 401 && answer.text.contains(#""code":"unauthorized""#), "\(label): \(answer.status) \(answer.text)")
        }
        #expect(try post(valid, headers: good, contentType: "text/plain").status == 415)
        let broken = try post(Data("{\"version\": \"4\", ".utf8), headers: good)
        #expect(broken.status == 400 && broken.text.contains(#""error""#), "\(broken.text)")
        let version = try post(try JSONSerialization.data(withJSONObject: Self.payload("v", version: "3")), headers: good)
        #expect(version.status == 422 && version.text.contains("version"), "\(version.text)")
        let empty = try post(try JSONSerialization.data(withJSONObject: Self.payload("e", extra: ["alerts": [Any]()])), headers: good)
        #expect(empty.status == 422, "\(empty.text)")
        let huge = try post(Data(count: 5 << 20), headers: good)
        #expect(huge.status == 413, "\(huge.status) \(huge.text)")
        #expect(try Self.intake(daemon).isEmpty, "nothing refused was recorded")

        let unrouted = try post(try JSONSerialization.data(withJSONObject: Self.payload("u", team: "payments")), headers: good)
        #expect(unrouted.status == 200, "\(unrouted.text)")
        // Grafana's webhook: version 1 with fields of its own.
        let grafana = try post(try JSONSerialization.data(withJSONObject: Self.payload("g", version: "1", extra: ["orgId": 1, "title": "[FIRING:1] Burst", "state": "alerting", "message": "x"])), headers: good)
        #expect(grafana.status == 200, "\(grafana.text)")
        #expect(TestEnvironment.waitUntil { ((try? Self.intake(daemon)) ?? []).allSatisfy { $0["state"] as? String == "processed" } })
        let kinds = try Self.intake(daemon).map { Self.outcome($0).kind }
        #expect(kinds == ["started", "unrouted"], "\(kinds)")
        #expect(daemon.child.stderr.contains("no route"), "the unrouted alert is logged")
    }

    /// 1000 alert groups in a burst: each answered quickly, at most `max_sessions_per_minute`
    /// sessions, the rest attached and listed — none dropped. Then kill -9 right after the last
    /// acknowledgement: after a restart every acknowledged notification is processed.
    @Test func aBurstIsBoundedAndKillNineLosesNothing() throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("intake-burst")
        defer { directory.remove() }
        let team = try Self.team(directory)
        defer { team.stop() }
        let config = try Self.config(team, intakeExtra: "    max_sessions_per_minute: 5", environment: "    checks: [{name: quick, domain: host, command: \"true\"}]")
        let daemon = try DaemonProcess(config: config, directory: directory)
        let good = ["Authorization": "Bearer \(team.intakeToken)", "Content-Type": "application/json"]
        let bodies = try (0..<1000).map { try JSONSerialization.data(withJSONObject: Self.payload("burst-\($0)")) }
        let slowest = Mutex<Double>(0)
        let failures = Mutex<[Int]>([])
        let started = Date()
        DispatchQueue.concurrentPerform(iterations: 4) { lane in
            for index in stride(from: lane, to: bodies.count, by: 4) {
                let begin = Date()
                let status = (try? TestHTTPClient.request(daemon.target, "POST", "/webhooks/alertmanager", headers: good, body: bodies[index]).status) ?? 0
                let took = Date().timeIntervalSince(begin)
                slowest.withLock { $0 = max($0, took) }
                if status != 200 { failures.withLock { $0.append(status) } }
            }
        }
        let elapsed = Date().timeIntervalSince(started)
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0.prefix(5) })")
        #expect(slowest.withLock { $0 } < 2, "each notification is answered quickly (slowest \(slowest.withLock { $0 }) s, all in \(elapsed) s)")
        #expect(TestEnvironment.waitUntil(timeout: 60, interval: 0.5) { ((try? Self.intake(daemon, limit: 1000)) ?? []).filter { $0["state"] as? String == "processed" }.count == 1000 })
        let outcomes = try Self.intake(daemon, limit: 1000).map(Self.outcome)
        #expect(outcomes.filter { $0.kind == "started" }.count == 5, "\(Dictionary(grouping: outcomes, by: \.kind).mapValues(\.count))")
        #expect(outcomes.filter { $0.kind == "attached" }.count == 995)
        #expect(outcomes.filter { $0.kind == "attached" }.allSatisfy { $0.session != nil })
        let sessions = try daemon.get("/sessions?limit=100").json["sessions"] as? [[String: Any]] ?? []
        #expect(sessions.count == 5)

        // kill -9 right after the last acknowledgement; the restarted daemon processes the rest.
        let more = try (0..<300).map { try JSONSerialization.data(withJSONObject: Self.payload("after-\($0)")) }
        for body in more {
            #expect(try TestHTTPClient.request(daemon.target, "POST", "/webhooks/alertmanager", headers: good, body: body).status == 200)
        }
        daemon.child.signal(SIGKILL)
        _ = daemon.child.wait()
        let pendingAtKill = try Self.pendingRows(directory.file("state/sessions.sqlite"))
        let restarted = try DaemonProcess(config: config, directory: directory, port: daemon.port)
        defer { restarted.cleanUp() }
        #expect(TestEnvironment.waitUntil(timeout: 60, interval: 0.5) {
            let records = (try? Self.intake(restarted, limit: 1000)) ?? []
            return records.count == 1000 && records.allSatisfy { $0["state"] as? String == "processed" }
        }, "\(pendingAtKill) were pending when the daemon was killed")
        let all = try Self.intake(restarted, limit: 1000)
        #expect(all.filter { ($0["group_key"] as? String ?? "").hasPrefix("after-") }.count == 300)
    }

    /// `max_sessions_per_minute` counts the starts every daemon on the store recorded, not only
    /// this process's: a daemon started on the same store (a restart here; another replica on
    /// PostgreSQL) attaches the next group to the newest session of its route instead of starting
    /// a sixth within the minute.
    @Test func theSessionCapCountsStartsRecordedInTheStore() throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("intake-cap")
        defer { directory.remove() }
        let team = try Self.team(directory)
        defer { team.stop() }
        let config = try Self.config(team, intakeExtra: "    max_sessions_per_minute: 5", environment: "    checks: [{name: quick, domain: host, command: \"true\"}]")
        let good = ["Authorization": "Bearer \(team.intakeToken)", "Content-Type": "application/json"]
        let first = try DaemonProcess(config: config, directory: directory)
        for index in 0..<5 {
            let body = try JSONSerialization.data(withJSONObject: Self.payload("cap-\(index)"))
            #expect(try TestHTTPClient.request(first.target, "POST", "/webhooks/alertmanager", headers: good, body: body).status == 200)
        }
        #expect(TestEnvironment.waitUntil(timeout: 30, interval: 0.2) { ((try? Self.intake(first)) ?? []).filter { Self.outcome($0).kind == "started" }.count == 5 })
        first.cleanUp(keepDirectory: true)

        let second = try DaemonProcess(config: config, directory: directory, port: first.port)
        defer { second.cleanUp() }
        let body = try JSONSerialization.data(withJSONObject: Self.payload("cap-after"))
        #expect(try TestHTTPClient.request(second.target, "POST", "/webhooks/alertmanager", headers: good, body: body).status == 200)
        var latest: (kind: String, session: String?) = ("", nil)
        #expect(TestEnvironment.waitUntil(timeout: 30, interval: 0.2) {
            guard let record = (try? Self.intake(second))?.first(where: { $0["group_key"] as? String == "cap-after" }), record["state"] as? String == "processed" else { return false }
            latest = Self.outcome(record)
            return true
        })
        #expect(latest.kind == "attached", "the sixth group within the minute, on a daemon that started none itself: \(latest)")
        let started = try Self.intake(second).filter { Self.outcome($0).kind == "started" }.compactMap { Self.outcome($0).session }
        #expect(latest.session.map(started.contains) == true, "attached to a session the first daemon started")
    }

    /// A standing approval lets the sessions of the route that names it run unattended —
    /// audited like a live approval; another route's session, and a person's, still wait for a
    /// human.
    @Test func aStandingApprovalServesOnlyTheRouteThatNamesIt() throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("intake-standing")
        defer { directory.remove() }
        let team = try Self.team(directory)
        defer { team.stop() }
        let expires = JSONCoding.format(Date().addingTimeInterval(7 * 86400))
        var config = try Self.config(team, routes: """
                  - {name: night, match: {team: checkout}, environment: prod, standing_approvals: [checkout-db-readonly]}
                  - {name: day, match: {team: payments}, environment: prod}
            """)
        config = config.replacingOccurrences(of: "intake:\n", with: """
            approval:
              standing:
                - {name: checkout-db-readonly, environment: prod, references: ["env://SRE_TEST_DB_SECRET"], owner: alice, reason: "night pages for checkout", expires: "\(expires)"}
            intake:

            """)
        let daemon = try DaemonProcess(config: config, environment: ["SRE_TEST_DB_SECRET": "db-secret-value-1234"], directory: directory)
        defer { daemon.cleanUp() }
        let standing = try daemon.get("/approvals/standing").json["standing"] as? [[String: Any]] ?? []
        #expect(standing.count == 1 && standing.first?["active"] as? Bool == true && standing.first?["routes"] as? [String] == ["night"], "\(standing)")

        let good = ["Authorization": "Bearer \(team.intakeToken)", "Content-Type": "application/json"]
        for (key, team) in [("night-1", "checkout"), ("day-1", "payments")] {
            #expect(try TestHTTPClient.request(daemon.target, "POST", "/webhooks/alertmanager", headers: good, body: try JSONSerialization.data(withJSONObject: Self.payload(key, team: team))).status == 200)
        }
        #expect(TestEnvironment.waitUntil { ((try? Self.intake(daemon)) ?? []).filter { Self.outcome($0).kind == "started" }.count == 2 }, "\(String(describing: try? Self.intake(daemon)))")
        let records = try Self.intake(daemon)
        let night = try #require(records.first { $0["group_key"] as? String == "night-1" }.flatMap { Self.outcome($0).session })
        let day = try #require(records.first { $0["group_key"] as? String == "day-1" }.flatMap { Self.outcome($0).session })
        _ = try SessionAPITests.waitForStatus(daemon, night, timeout: 30) { $0 == "completed" }
        let audit = try daemon.get("/sessions/\(night)/audit").json["entries"] as? [[String: Any]] ?? []
        #expect(audit.map { $0["action"] as? String ?? "" }.prefix(2) == ["requested", "approved"], "\(audit)")
        #expect(audit.contains { $0["actor"] as? String == "standing:checkout-db-readonly" && ($0["comment"] as? String ?? "").contains("alice") })
        let waiting = try SessionAPITests.waitForStatus(daemon, day, timeout: 30) { $0 == "awaiting_approval" }
        #expect(waiting["pending_approval"] != nil, "the other route's session waits for a human")
        let person = try SessionAPITests.diagnose(daemon, "prod")
        _ = try SessionAPITests.waitForStatus(daemon, person, timeout: 30) { $0 == "awaiting_approval" }
    }

    static func pendingRows(_ database: String) throws -> Int {
        let query = try ChildProcess("/usr/bin/python3", ["-c", "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"select count(*) from intake where state='pending'\").fetchone()[0])", database], directory: try TestEnvironment.makeTemporaryDirectory("sq"), name: "sqlite")
        _ = query.wait()
        return Int(query.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }
}
