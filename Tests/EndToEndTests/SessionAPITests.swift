import Foundation
import TestSupport
import Testing

/// The HTTP API through real HTTP against a real daemon with real runners.
@Suite struct SessionAPITests {
    static let approverToken = "alice-approver-token-0123456789"

    /// A daemon with: `local` (a closed TCP port), `slow` (a check that sleeps), `secured` (a
    /// check that needs a credential), an approver `alice`.
    static func start(extraConfig: String = "", sleep: Int = 30, environment: [String: String] = [:], directory: TemporaryDirectory? = nil, port: Int? = nil) throws -> DaemonProcess {
        let directory = try directory ?? TestEnvironment.makeTemporaryDirectory("api")
        let tokenPath = try directory.write("alice.token", approverToken, mode: 0o600)
        let closed = try TestEnvironment.freePort()
        let config = """
            approval: {timeout: 10m}
            secrets: {allow_env_refs: true}
            auth:
              approvers:
                - {name: alice, token: "file://\(tokenPath)"}
            environments:
              local:
                network: {endpoints: ["tcp://127.0.0.1:\(closed)"]}
              slow:
                checks:
                  - {name: wait, domain: host, command: sleep, args: ["\(sleep)"]}
              secured:
                network: {endpoints: ["tcp://127.0.0.1:\(closed)"]}
                checks:
                  - {name: db-login, domain: database, command: sh, args: ["-c", "test -n \\"$PW\\""], credential: "env://SRE_TEST_DB_SECRET", env: {value: PW}}
            \(extraConfig)
            """
        var env = environment
        env["SRE_TEST_DB_SECRET"] = env["SRE_TEST_DB_SECRET"] ?? "db-secret-value-1234"
        return try DaemonProcess(config: config, arguments: ["--heartbeat-seconds", "0.3"], environment: env, directory: directory, port: port)
    }

    static func diagnose(_ daemon: DaemonProcess, _ environment: String, problem: String = "Database connection failures in production") throws -> String {
        let response = try daemon.post("/diagnose", ["problem": problem, "environment": environment, "context": ["service": "api-gateway"]])
        #expect(response.status == 202, "\(response.text)")
        return try #require(response.json["session_id"] as? String)
    }

    static func waitForStatus(_ daemon: DaemonProcess, _ id: String, timeout: Double = 30, headers: [String: String] = [:], _ accept: (String) -> Bool) throws -> [String: Any] {
        var last: [String: Any] = [:]
        let reached = try TestEnvironment.waitUntil(timeout: timeout, interval: 0.05) {
            last = try daemon.get("/status/\(id)", headers: headers).json
            return accept(last["status"] as? String ?? "")
        }
        #expect(reached, "status stayed \(last["status"] ?? "?")")
        return last
    }

    @Test func diagnoseStatusReportAndList() throws {
        let daemon = try Self.start()
        defer { daemon.cleanUp() }
        let accepted = try daemon.post("/diagnose", ["problem": "Database connection failures in production", "environment": "local", "context": ["service": "api-gateway"]])
        #expect(accepted.status == 202)
        #expect(accepted.json["status"] as? String == "analyzing")
        #expect(accepted.json["message"] as? String == "Diagnosis started")
        let id = try #require(accepted.json["session_id"] as? String)
        #expect(accepted.headers["location"] == "/status/\(id)")

        let status = try Self.waitForStatus(daemon, id) { $0 == "completed" }
        #expect(status["phase"] as? String == "done")
        #expect(status["progress"] as? Double == 1)
        #expect((status["context"] as? [String: String])?["service"] == "api-gateway")
        let findings = try #require(status["findings"] as? [[String: Any]])
        #expect(findings.map { $0["code"] as? String } == ["net.tcp_refused"])
        let domains = try #require(status["domains"] as? [[String: Any]])
        #expect(domains.first?["state"] as? String == "completed")
        #expect(status["created_at"] is String && status["updated_at"] is String)
        #expect(status["report_available"] as? Bool == true)

        let report = try daemon.get("/sessions/\(id)/report")
        #expect(report.status == 200)
        let causes = try #require(report.json["probable_causes"] as? [[String: Any]])
        #expect((causes.first?["codes"] as? [String]) == ["net.tcp_refused"])
        let markdown = try daemon.get("/sessions/\(id)/report", headers: ["Accept": "text/markdown"])
        #expect(markdown.headers["content-type"]?.hasPrefix("text/markdown") == true)
        #expect(markdown.text.contains("# Diagnosis: Database connection failures in production"))
        #expect(markdown.text.contains("## Probable causes"))

        let list = try daemon.get("/sessions?status=completed&limit=10")
        let sessions = try #require(list.json["sessions"] as? [[String: Any]])
        #expect(sessions.contains { $0["session_id"] as? String == id })
        let health = try daemon.get("/health")
        #expect(health.json["active_sessions"] as? Int == 0)
    }

    @Test func listingPaginatesWithACursor() throws {
        let daemon = try Self.start()
        defer { daemon.cleanUp() }
        var ids: [String] = []
        for index in 0..<5 { ids.append(try Self.diagnose(daemon, "local", problem: "problem \(index)")) }
        for id in ids { _ = try Self.waitForStatus(daemon, id) { $0 == "completed" } }
        var seen: [String] = []
        var cursor: String?
        repeat {
            let page = try daemon.get("/sessions?limit=2" + (cursor.map { "&cursor=\($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0)" } ?? ""))
            #expect(page.status == 200)
            let sessions = try #require(page.json["sessions"] as? [[String: Any]])
            #expect(sessions.count <= 2)
            seen += sessions.compactMap { $0["session_id"] as? String }
            cursor = page.json["next_cursor"] as? String
        } while cursor != nil
        #expect(seen == ids.reversed(), "newest first, each once")
    }

    @Test func everyErrorStatus() throws {
        let daemon = try Self.start(extraConfig: "server: {max_body_bytes: 2048, diagnose_rate_per_minute: 3}")
        defer { daemon.cleanUp() }
        let target = daemon.target
        func check(_ result: HTTPResult, _ status: Int, _ code: String, _ note: Comment) {
            #expect(result.status == status, note)
            #expect(result.errorCode == code, "\(note): \(result.text)")
            #expect(result.headers["content-type"] == "application/json", note)
        }
        // 400
        check(try TestHTTPClient.request(target, "POST", "/diagnose", headers: ["Content-Type": "application/json"], body: Data("{not json".utf8)), 400, "bad_request", "malformed JSON")
        check(try daemon.post("/diagnose", ["environment": "local"]), 400, "bad_request", "missing problem")
        check(try daemon.post("/diagnose", ["problem": 42]), 400, "bad_request", "problem of the wrong type")
        check(try daemon.get("/sessions?limit=0"), 400, "bad_request", "limit out of range")
        check(try daemon.get("/sessions?status=sleepy"), 400, "bad_request", "unknown status filter")
        check(try daemon.get("/sessions?cursor=%%%"), 400, "bad_request", "bad cursor")
        // 401
        check(try daemon.post("/approve/x", ["approved": true], headers: ["Authorization": "Bearer wrong-token-wrong-token"]), 401, "unauthorized", "invalid token")
        check(try daemon.get("/sessions", headers: ["Authorization": "Basic abc"]), 401, "unauthorized", "not a bearer token")
        // 403: loopback may request but not approve
        let id = try Self.diagnose(daemon, "secured")
        _ = try Self.waitForStatus(daemon, id) { $0 == "awaiting_approval" }
        check(try daemon.post("/approve/\(id)", ["approved": true]), 403, "forbidden", "requester approving")
        // 404
        check(try daemon.get("/status/no-such-session"), 404, "not_found", "unknown session")
        check(try daemon.get("/sessions/no-such-session/report"), 404, "not_found", "unknown session report")
        check(try daemon.get("/nowhere"), 404, "not_found", "unknown route")
        // 405
        let wrongMethod = try TestHTTPClient.request(target, "DELETE", "/status/\(id)")
        check(wrongMethod, 405, "method_not_allowed", "wrong method")
        #expect(wrongMethod.headers["allow"] == "GET")
        // 409
        check(try daemon.get("/sessions/\(id)/report"), 409, "conflict", "report not ready")
        let bearer = ["Authorization": "Bearer \(Self.approverToken)"]
        check(try daemon.post("/approve/\(id)", ["approved": true, "request_id": "stale"], headers: bearer), 409, "conflict", "stale request id")
        // 413
        let big = String(repeating: "x", count: 4096)
        check(try daemon.post("/diagnose", ["problem": big]), 413, "body_too_large", "body over max_body_bytes")
        // 415
        check(try TestHTTPClient.request(target, "POST", "/diagnose", headers: ["Content-Type": "text/plain"], body: Data("problem".utf8)), 415, "unsupported_media_type", "not JSON")
        // 422
        let unknown = try daemon.post("/diagnose", ["problem": "x", "environment": "staging"])
        check(unknown, 422, "unknown_environment", "unknown environment")
        #expect(unknown.text.contains("local, secured, slow"), "names the known ones: \(unknown.text)")
        check(try daemon.post("/diagnose", ["problem": "   "]), 422, "invalid", "empty problem")
        check(try daemon.post("/approve/\(id)", ["approved": true, "references": ["env://OTHER"]], headers: bearer), 422, "invalid", "reference not in the request")
        // 429: three diagnoses a minute (one spent on `secured` above, one on 413? no: body refused before)
        _ = try daemon.post("/diagnose", ["problem": "a", "environment": "local"])
        _ = try daemon.post("/diagnose", ["problem": "b", "environment": "local"])
        let limited = try daemon.post("/diagnose", ["problem": "c", "environment": "local"])
        check(limited, 429, "rate_limited", "rate limit")
        #expect(Int(limited.headers["retry-after"] ?? "") ?? 0 >= 1)

        // Nothing a client sent made the daemon fail.
        #expect(daemon.child.isRunning)
        #expect(!daemon.child.stderr.contains("internal error"))
    }

    @Test func cancelStopsTheRunners() throws {
        let daemon = try Self.start(sleep: 50)
        defer { daemon.cleanUp() }
        let id = try Self.diagnose(daemon, "slow")
        var runnerPid: Int32?
        #expect(TestEnvironment.waitUntil(timeout: 20) {
            let status = (try? daemon.get("/status/\(id)").json) ?? [:]
            let domains = status["domains"] as? [[String: Any]] ?? []
            return domains.first?["state"] as? String == "running"
        })
        let sse = try SSEClient(daemon.target, path: "/sessions/\(id)/events")
        while let event = try sse.next() {
            if event.event == "domain", let data = event.json["data"] as? [String: Any], let pid = data["pid"] as? Int {
                runnerPid = Int32(pid)
                break
            }
        }
        sse.close()
        let pid = try #require(runnerPid)
        let cancelled = try daemon.post("/sessions/\(id)/cancel", [:])
        #expect(cancelled.status == 200, "\(cancelled.text)")
        #expect(cancelled.json["status"] as? String == "cancelled")
        #expect(TestEnvironment.waitUntil(timeout: 5) { !TestEnvironment.processAlive(pid) })
        // Its tool too (a SIGKILLed process is gone a moment after the signal, not at once).
        #expect(TestEnvironment.waitUntil(timeout: 5) { !TestEnvironment.commandLines().contains { $0.contains("sleep\n50") && $0.hasPrefix("sleep") } })
        let again = try daemon.post("/sessions/\(id)/cancel", [:])
        #expect(again.status == 409)
    }
}
