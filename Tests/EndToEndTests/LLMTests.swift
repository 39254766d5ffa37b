import Foundation
import TestSupport
import Testing

/// The optional LLM path against a scripted OpenAI-compatible stand-in that records every
/// request (no model runs here): tool-calling planner, one follow-up round, JSON synthesis, and
/// every failure falling back to the rules — with no secret in any request.
@Suite struct LLMTests {
    final class Setup: @unchecked Sendable {
        let directory: TemporaryDirectory
        let standin: ChildProcess
        let daemon: DaemonProcess
        let canary = "llm-canary-\(UUID().uuidString.prefix(8))/+ \"x\""

        init(timeout: String = "3s") throws {
            let directory = try TestEnvironment.makeTemporaryDirectory("llm")
            self.directory = directory
            try directory.write("script.json", "{}")
            standin = try ChildProcess("/usr/bin/python3", [TestEnvironment.fixture("llm_standin.py"), directory.file("script.json"), directory.file("llm.port"), directory.file("requests.jsonl")], directory: directory, name: "llm")
            let started = TestEnvironment.waitUntil { FileManager.default.fileExists(atPath: directory.file("llm.port")) }
            guard started else { throw TestHTTPError.connect("LLM stand-in did not start") }
            let llmPort = try String(contentsOfFile: directory.file("llm.port"), encoding: .utf8)
            let token = try directory.write("alice.token", SessionAPITests.approverToken, mode: 0o600)
            try directory.write("llm.key", "sk-test-key-0123456789", mode: 0o600)
            let closed = try TestEnvironment.freePort()
            let closed2 = try TestEnvironment.freePort()
            let config = """
                llm: {provider: openai, base_url: "http://127.0.0.1:\(llmPort)/v1", model: test-model, api_key: "file://\(directory.file("llm.key"))", timeout: \(timeout)}
                secrets: {allow_env_refs: true}
                auth: {approvers: [{name: alice, token: "file://\(token)"}]}
                environments:
                  prod:
                    network: {endpoints: ["tcp://127.0.0.1:\(closed)", "tcp://127.0.0.1:\(closed2)"]}
                    checks:
                      - {name: echo, domain: database, command: sh, args: ["-c", "echo \\"login failed for $S\\"; exit 1"], credential: "env://LLM_CANARY", env: {value: S}}
                """
            daemon = try DaemonProcess(config: config, environment: ["LLM_CANARY": canary], directory: directory)
        }

        func script(_ object: [String: Any]) throws {
            try directory.write("script.json", String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self))
        }

        var requests: [[String: Any]] {
            ((try? String(contentsOfFile: directory.file("requests.jsonl"), encoding: .utf8)) ?? "").split(separator: "\n")
                .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }

        func port(_ index: Int) -> String {
            // The two endpoints, as the tool enum lists them.
            let config = (try? String(contentsOfFile: directory.file("config.yaml"), encoding: .utf8)) ?? ""
            let ports = config.matches(of: /tcp:\/\/127\.0\.0\.1:(\d+)/).map { String($0.output.1) }
            return "127.0.0.1:\(ports[index])"
        }

        /// Runs a diagnosis, approving when asked; returns status and report.
        func diagnose() throws -> (String, [String: Any], [String: Any]) {
            let id = try SessionAPITests.diagnose(daemon, "prod", problem: "Database connection failures in production")
            let status = try SessionAPITests.waitForStatus(daemon, id) { ["awaiting_approval", "completed", "failed"].contains($0) }
            if status["status"] as? String == "awaiting_approval" {
                let approved = try daemon.post("/approve/\(id)", ["approved": true], headers: ["Authorization": "Bearer \(SessionAPITests.approverToken)"])
                #expect(approved.status == 200)
            }
            let final = try SessionAPITests.waitForStatus(daemon, id) { ["completed", "failed"].contains($0) }
            return (id, final, try daemon.get("/sessions/\(id)/report").json)
        }

        func notices(_ id: String) throws -> [String] {
            try SSEClient(daemon.target, path: "/sessions/\(id)/events").rest()
                .filter { $0.event == "notice" }.compactMap { ($0.json["data"] as? [String: Any])?["message"] as? String }
        }

        func cleanUp() {
            daemon.cleanUp(keepDirectory: true)
            standin.stop()
            directory.remove()
        }
    }

    @Test func modelPlansFollowsUpAndSynthesizesWithoutSeeingSecrets() throws {
        let setup = try Setup()
        defer { setup.cleanUp() }
        try setup.script([
            "plan": ["content": "Check the database path first.", "tool_calls": [["name": "net_tcp_connect", "arguments": "{\"target\": \"\(setup.port(0))\"}"]]],
            "followup": ["tool_calls": [["name": "net_tcp_connect", "arguments": "{\"target\": \"\(setup.port(1))\"}"]]],
            "synthesis": ["auto": true],
        ])
        let (id, status, report) = try setup.diagnose()
        #expect(status["status"] as? String == "completed")
        let plan = try #require(status["plan"] as? [String: Any])
        #expect(plan["planner"] as? String == "llm")
        #expect(plan["rationale"] as? String == "Check the database path first.")
        #expect(try setup.notices(id).contains { $0.hasPrefix("follow-up round") })
        // Both endpoints were examined: one chosen first, one in the follow-up.
        let codes = (status["findings"] as? [[String: Any]] ?? []).compactMap { $0["code"] as? String }
        #expect(codes.filter { $0 == "net.tcp_refused" }.count == 2, "\(codes)")
        #expect(report["synthesizer"] as? String == "llm")
        let causes = try #require(report["probable_causes"] as? [[String: Any]])
        #expect((causes.first?["title"] as? String)?.hasPrefix("LLM: ") == true)

        // What the model received: the tools, the inventory — and never the secret.
        let requests = setup.requests
        #expect(requests.count == 3)
        #expect(requests.allSatisfy { $0["authorization"] as? String == "Bearer sk-test-key-0123456789" })
        let plannerBody = requests.first?["body"] as? String ?? ""
        #expect(plannerBody.contains("\"name\":\"net_tcp_connect\""))
        #expect(plannerBody.contains("Database connection failures in production"))
        for request in requests {
            let body = request["body"] as? String ?? ""
            for form in SecretCanaryTests.encodedForms(setup.canary) { #expect(!body.contains(form), "an LLM request held the secret") }
            #expect(!body.contains("env://LLM_CANARY"), "credential references stay out of LLM requests too")
        }
        let synthesisBody = requests.last?["body"] as? String ?? ""
        #expect(synthesisBody.contains("[REDACTED:env:"), "the synthesizer saw the redacted finding")
    }

    @Test func everyModelFailureFallsBackToTheRules() throws {
        let setup = try Setup(timeout: "1s")
        defer { setup.cleanUp() }
        let cases: [(String, [String: Any])] = [
            ("malformed tool call", ["plan": ["tool_calls": [["name": "net_tcp_connect", "arguments": "{not json"]]], "synthesis": ["content": "not json either"]]),
            ("unknown probe and target", ["plan": ["tool_calls": [["name": "db_mysql", "arguments": "{\"target\": \"x\"}"], ["name": "net_tcp_connect", "arguments": "{\"target\": \"10.9.9.9:1\"}"]]], "synthesis": ["content": "{\"summary\": \"s\", \"probable_causes\": [{\"title\": \"t\", \"confidence\": 0.9, \"finding_ids\": [\"made-up\"], \"explanation\": \"e\"}]}"]]),
            ("provider error", ["plan": ["status": 500], "synthesis": ["status": 503]]),
            ("timeout", ["plan": ["delay_s": 2], "synthesis": ["delay_s": 2]]),
        ]
        for (label, script) in cases {
            try setup.script(script)
            let (id, status, report) = try setup.diagnose()
            #expect(status["status"] as? String == "completed", "\(label)")
            #expect((status["plan"] as? [String: Any])?["planner"] as? String == "rules", "\(label)")
            #expect(report["synthesizer"] as? String == "rules", "\(label)")
            let notices = try setup.notices(id)
            #expect(notices.contains { $0.contains("the planner failed") }, "\(label): \(notices)")
            #expect(notices.contains { $0.contains("the synthesizer failed") }, "\(label): \(notices)")
            #expect(!(report["probable_causes"] as? [[String: Any]] ?? []).isEmpty, "\(label)")
        }
    }
}
