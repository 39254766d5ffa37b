import Foundation
import TestSupport
import Testing

/// Human approval of credential references: identity, decisions, audit.
@Suite struct ApprovalTests {
    static let bearer = ["Authorization": "Bearer \(SessionAPITests.approverToken)"]

    /// Two credential checks (`env://CRED_A`, `env://CRED_B`) and a credential-free network check.
    static func start(approvalTimeout: String = "10m", requesterToken: Bool = false, unixSocket: String? = nil) throws -> DaemonProcess {
        let directory = try TestEnvironment.makeTemporaryDirectory("appr")
        let approver = try directory.write("alice.token", SessionAPITests.approverToken, mode: 0o600)
        let requester = try directory.write("bob.token", "bob-requester-token-0123456789", mode: 0o600)
        let closed = try TestEnvironment.freePort()
        let config = """
            approval: {timeout: \(approvalTimeout)}
            secrets: {allow_env_refs: true}
            auth:
              approvers: [{name: alice, token: "file://\(approver)"}]
              requesters: \(requesterToken ? "[{name: bob, token: \"file://\(requester)\"}]" : "[]")
              unix_socket_approver_group: sre-test-approvers-none
            environments:
              two:
                network: {endpoints: ["tcp://127.0.0.1:\(closed)"]}
                checks:
                  - {name: a, domain: database, command: sh, args: ["-c", "test -n \\"$X\\""], credential: "env://CRED_A", env: {value: X}}
                  - {name: b, domain: cloud, command: sh, args: ["-c", "test -n \\"$X\\""], credential: "env://CRED_B", env: {value: X}}
              only-credentials:
                checks:
                  - {name: a, domain: database, command: sh, args: ["-c", "test -n \\"$X\\""], credential: "env://CRED_A", env: {value: X}}
            """
        return try DaemonProcess(
            config: config, arguments: unixSocket.map { ["--listen", "unix:\($0)"] } ?? [],
            environment: ["CRED_A": "first-credential-value", "CRED_B": "second-credential-value"], directory: directory
        )
    }

    static func pending(
        _ daemon: DaemonProcess, _ environment: String = "two", headers: [String: String] = [:], as account: TestAccount = .automatic
    ) throws -> (id: String, requestID: String) {
        let accepted = try daemon.post("/diagnose", ["problem": "checkout errors", "environment": environment], headers: headers, as: account)
        #expect(accepted.status == 202, "\(accepted.text)")
        let id = try #require(accepted.json["session_id"] as? String)
        let status = try SessionAPITests.waitForStatus(daemon, id, headers: headers) { $0 == "awaiting_approval" }
        let approval = try #require(status["pending_approval"] as? [String: Any])
        let items = try #require(approval["items"] as? [[String: Any]])
        #expect(Set(items.compactMap { $0["reference"] as? String }).isSubset(of: ["env://CRED_A", "env://CRED_B"]))
        #expect(items.allSatisfy { ($0["purpose"] as? String)?.isEmpty == false && ($0["probes"] as? [String])?.isEmpty == false })
        #expect(approval["expires_at"] is String)
        return (id, try #require(approval["request_id"] as? String))
    }

    static func domains(_ daemon: DaemonProcess, _ id: String) throws -> [String: [String: Any]] {
        let report = try daemon.get("/sessions/\(id)/report").json
        var result: [String: [String: Any]] = [:]
        for domain in report["domains"] as? [[String: Any]] ?? [] { result[domain["domain"] as? String ?? ""] = domain }
        return result
    }

    @Test func approveAllRunsEverythingAndIsAudited() throws {
        let daemon = try Self.start()
        defer { daemon.cleanUp() }
        let (id, requestID) = try Self.pending(daemon)
        let decision = try daemon.post("/approve/\(id)", ["approved": true, "request_id": requestID, "comment": "incident 42"], headers: Self.bearer)
        #expect(decision.status == 200)
        #expect(decision.json["outcome"] as? String == "approved")
        #expect(decision.json["approver"] as? String == "alice")
        _ = try SessionAPITests.waitForStatus(daemon, id) { $0 == "completed" }
        let domains = try Self.domains(daemon, id)
        #expect(domains["database"]?["outcome"] as? String == "ok")
        #expect(domains["cloud"]?["outcome"] as? String == "ok")
        // Replaying the same decision: nothing is pending any more.
        let replay = try daemon.post("/approve/\(id)", ["approved": true, "request_id": requestID], headers: Self.bearer)
        #expect(replay.status == 409)
        let audit = try #require(try daemon.get("/sessions/\(id)/audit").json["entries"] as? [[String: Any]])
        let actions = audit.compactMap { $0["action"] as? String }
        #expect(actions.prefix(2) == ["requested", "approved"])
        #expect(actions.filter { $0 == "resolved" }.count == 2)
        #expect(audit.first { $0["action"] as? String == "approved" }?["comment"] as? String == "incident 42")
        #expect(audit.first { $0["action"] as? String == "resolved" }?["provider"] as? String == "environment")
        // And the journal/log has the same story, without values.
        let log = daemon.child.stderr
        #expect(log.contains("approval approved by alice"))
        #expect(!log.contains("first-credential-value") && !log.contains("second-credential-value"))
    }

    /// A client that approves the instant it sees `approval_requested` on the event stream (the
    /// CLI's --follow does) must find the request open, not "nothing pending".
    @Test func approvingTheMomentTheEventArrivesIsAccepted() throws {
        let daemon = try Self.start()
        defer { daemon.cleanUp() }
        // The window is short (one audit write): repeat to hit it.
        for _ in 0..<10 {
            let accepted = try daemon.post("/diagnose", ["problem": "checkout errors", "environment": "two"])
            let id = try #require(accepted.json["session_id"] as? String)
            let stream = try SSEClient(.tcp(port: daemon.port), path: "/sessions/\(id)/events")
            var decided = false
            while let event = try stream.next() {
                if event.event == "approval_requested" {
                    let decision = try daemon.post("/approve/\(id)", ["approved": true], headers: Self.bearer)
                    #expect(decision.status == 200, "\(decision.text)")
                    decided = true
                }
                if event.event == "report" { break }
            }
            #expect(decided)
            // The report event comes just before the final status.
            _ = try SessionAPITests.waitForStatus(daemon, id) { $0 == "completed" }
        }
    }

    @Test func subsetApprovalSkipsOnlyTheRest() throws {
        let daemon = try Self.start()
        defer { daemon.cleanUp() }
        let (id, requestID) = try Self.pending(daemon)
        let decision = try daemon.post("/approve/\(id)", ["approved": true, "request_id": requestID, "references": ["env://CRED_A"]], headers: Self.bearer)
        #expect(decision.json["outcome"] as? String == "partial")
        #expect(decision.json["denied_references"] as? [String] == ["env://CRED_B"])
        _ = try SessionAPITests.waitForStatus(daemon, id) { $0 == "completed" }
        let domains = try Self.domains(daemon, id)
        #expect(domains["database"]?["outcome"] as? String == "ok")
        #expect(domains["cloud"]?["outcome"] as? String == "skipped")
        #expect((domains["cloud"]?["reason"] as? String)?.contains("env://CRED_B") == true)
        let report = try daemon.get("/sessions/\(id)/report").json
        #expect((report["limitations"] as? [String])?.contains { $0.contains("cloud") } == true)
    }

    @Test func identityRules() throws {
        let daemon = try Self.start(requesterToken: true)
        defer { daemon.cleanUp() }
        // With requester tokens configured, loopback alone is not enough.
        let anonymous = try daemon.post("/diagnose", ["problem": "x", "environment": "two"])
        #expect(anonymous.status == 401)
        #expect(anonymous.errorCode == "unauthorized")
        let wrong = try daemon.post("/diagnose", ["problem": "x", "environment": "two"], headers: ["Authorization": "Bearer not-a-real-token-at-all"])
        #expect(wrong.status == 401)

        let bob = ["Authorization": "Bearer bob-requester-token-0123456789"]
        // Bob asks from his own account (not the test's, from which alice approves).
        let (id, requestID) = try Self.pending(daemon, headers: bob, as: .uid(TestAccount.developerUID))
        // A requester cannot approve.
        let byBob = try daemon.post("/approve/\(id)", ["approved": true, "request_id": requestID], headers: bob)
        #expect(byBob.status == 403)
        // A stale request id is refused.
        let stale = try daemon.post("/approve/\(id)", ["approved": true, "request_id": "00000000-0000-0000-0000-000000000000"], headers: Self.bearer)
        #expect(stale.status == 409)
        // An approver cannot approve a request they made themselves.
        let (own, ownRequest) = try Self.pending(daemon, headers: Self.bearer)
        let selfApproval = try daemon.post("/approve/\(own)", ["approved": true, "request_id": ownRequest], headers: Self.bearer)
        #expect(selfApproval.status == 403)
        #expect(selfApproval.text.contains("cannot approve their own"))
        let fine = try daemon.post("/approve/\(id)", ["approved": true, "request_id": requestID], headers: Self.bearer)
        #expect(fine.status == 200)
    }

    @Test func unixSocketPeerUidDecidesWhoMayApprove() throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("unx")
        _ = chmod(directory.path, 0o755)
        let socket = directory.file("api.sock")
        let daemon = try Self.start(unixSocket: socket)
        defer {
            daemon.cleanUp()
            directory.remove()
        }
        let (id, requestID) = try Self.pending(daemon)
        // nobody (not root, not in the approver group) may ask but not approve.
        func curlAsNobody(_ arguments: [String]) throws -> (Int32?, String) {
            let run = try ChildProcess(
                "/usr/bin/setpriv",
                ["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/curl", "-s", "-o", "/dev/stdout", "-w", "\n%{http_code}", "--unix-socket", socket] + arguments,
                directory: daemon.directory, name: "nobody"
            )
            return (run.wait(), run.stdout)
        }
        let (_, asked) = try curlAsNobody(["-X", "POST", "-H", "Content-Type: application/json", "-d", #"{"problem":"x","environment":"two"}"#, "http://localhost/diagnose"])
        #expect(asked.hasSuffix("202"), "\(asked)")
        let (_, refused) = try curlAsNobody(["-X", "POST", "-H", "Content-Type: application/json", "-d", #"{"approved":true}"#, "http://localhost/approve/\(id)"])
        #expect(refused.hasSuffix("403"), "\(refused)")
        // root over the socket is an approver, without any token.
        let approved = try TestHTTPClient.json(.unix(path: socket), "POST", "/approve/\(id)", ["approved": true, "request_id": requestID])
        #expect(approved.status == 200, "\(approved.text)")
        #expect(approved.json["approver"] as? String == "user:root")
    }
}
