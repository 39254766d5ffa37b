import Foundation
import TestSupport
import Testing

/// `sre-diagnose mcp` driven by a client no one here wrote: the official Python MCP SDK (PyPI
/// `mcp`) launches it over stdio, lists tools, diagnoses, and reads the report once a human has
/// approved over HTTP.
@Suite struct MCPTests {
    @Test func pythonSDKClientDiagnosesAndReadsTheReportButCannotApprove() throws {
        let daemon = try CLITests.start()
        defer { daemon.cleanUp() }
        // The IDE runs the MCP server as the developer; the human approver is someone else.
        let launcher = TestEnvironment.asDeveloper("", []).arguments.dropLast()
        let client = try ChildProcess(
            "/usr/bin/env",
            ["python3", TestEnvironment.fixture("mcp_client.py"), TestEnvironment.binary("sre-diagnose"), "http://127.0.0.1:\(daemon.port)", CLITests.token, "/usr/bin/setpriv"] + launcher,
            directory: daemon.directory, name: "mcp-client"
        )
        #expect(client.wait(timeout: 120) == 0, "\(client.stderr.suffix(4000))")
        let out = try #require(try JSONSerialization.jsonObject(with: Data(client.stdout.utf8)) as? [String: Any], "\(client.stdout) \(client.stderr.suffix(3000))")

        #expect(out["server"] as? String == "sre-diagnose")
        #expect(out["tools"] as? [String] == ["diagnose", "get_report", "get_status", "list_environments", "list_sessions"])
        #expect((out["read_only"] as? [String: Bool])?["get_report"] == true)
        #expect((out["read_only"] as? [String: Bool])?["diagnose"] == false)
        #expect(out["environments"] as? [String] == ["slow", "two"])
        #expect((out["diagnose_without_problem"] as? [String: Any])?["is_error"] as? Bool == true)

        // diagnose: the plan and exactly what to tell the human.
        let text = try #require(out["diagnose_text"] as? String)
        let diagnose = try #require(out["diagnose"] as? [String: Any])
        let id = try #require(diagnose["session_id"] as? String)
        #expect(text.contains("APPROVAL NEEDED"))
        #expect(text.contains("env://CRED_A") && text.contains("env://CRED_B"))
        #expect(text.contains("sre-diagnose approve \(id)"))
        #expect(text.contains("http://127.0.0.1:\(daemon.port)/#session=\(id)"))
        #expect(text.contains("Plan (rules)"))
        #expect(diagnose["approve_command"] as? String == "sre-diagnose approve \(id)")
        #expect((diagnose["plan"] as? [String: Any])?["domains"] is [[String: Any]])
        #expect((out["report_before_approval"] as? String)?.contains("not ready yet") == true)

        // No approve tool, and the server ignored the approver token in its environment: the
        // request was made as the developer's account, so alice (another person) could approve it.
        #expect((out["approve_tool"] as? [String: Any])?["is_error"] as? Bool == true)
        #expect(out["status_before"] as? String == "awaiting_approval")
        #expect((out["status_text_before"] as? String)?.contains("Ask the user to run: sre-diagnose approve \(id)") == true)
        #expect(out["human_decision"] as? String == "approved")
        let audit = try #require(try daemon.get("/sessions/\(id)/audit").json["entries"] as? [[String: Any]])
        #expect(audit.first?["actor"] as? String != "alice", "the MCP server never acts as an approver: \(audit)")

        #expect(out["status_after"] as? String == "completed")
        let report = try #require(out["report"] as? String)
        #expect(report.hasPrefix("# "))
        #expect(report.contains("Connection refused"))
        #expect(!report.contains("first-credential-value"))
        #expect((out["sessions"] as? [String])?.contains(id) == true)
        #expect((out["bad_id"] as? [String: Any])?["is_error"] as? Bool == true)
    }
}
