import Foundation
import Synchronization
import TestSupport
import Testing

/// Several real daemons on one real PostgreSQL (`storage.backend: postgres`): any daemon answers
/// for any session, a session follows its lease to another daemon when its owner is killed.
@Suite(.serialized) struct ClusterTests {
    static let bearer = ApprovalTests.bearer

    /// A PostgreSQL with an empty `sre` database and the daemons' shared configuration.
    final class Cluster: @unchecked Sendable {
        let postgres: PostgresServer
        let directory: TemporaryDirectory
        let config: String
        private(set) var daemons: [DaemonProcess] = []
        static let intakeToken = "am-token-\(UUID().uuidString)"

        init(lease: String = "2s", slowCheckSeconds: Int = 0, server: String = "{}") throws {
            postgres = try PostgresServer()
            try postgres.psql("CREATE DATABASE sre OWNER app")
            directory = try TestEnvironment.makeTemporaryDirectory("cluster")
            let password = try directory.write("store.password", postgres.appPassword + "\n", mode: 0o600)
            let approver = try directory.write("alice.token", SessionAPITests.approverToken, mode: 0o600)
            let intakeToken = try directory.write("intake.token", Self.intakeToken, mode: 0o600)
            config = """
                server: \(server)
                approval: {timeout: 10m}
                secrets: {allow_env_refs: true}
                storage:
                  backend: postgres
                  postgres: {host: 127.0.0.1, port: \(postgres.port), database: sre, user: app, credential: "file://\(password)", lease: \(lease)}
                auth:
                  approvers: [{name: alice, token: "file://\(approver)"}]
                  unix_socket_approver_group: sre-test-approvers-none
                intake:
                  alertmanager:
                    tokens: ["file://\(intakeToken)"]
                    routes:
                      - {name: checkout, match: {team: checkout}, environment: prod, context_labels: [service, alertname]}
                environments:
                  prod:
                    checks:
                      - {name: a, domain: database, command: sh, args: ["-c", "sleep \(slowCheckSeconds); test -n \\"$X\\""], credential: "env://CRED_A", env: {value: X}}
                      - {name: b, domain: cloud, command: sh, args: ["-c", "test -n \\"$X\\""], credential: "env://CRED_B", env: {value: X}}
                """
        }

        /// Starts `count` daemons at once (they migrate the schema together).
        @discardableResult
        func start(_ count: Int) throws -> [DaemonProcess] {
            let config = self.config
            let started = Mutex<[Result<DaemonProcess, any Error>]>([])
            DispatchQueue.concurrentPerform(iterations: count) { _ in
                let result = Result {
                    try DaemonProcess(config: config, environment: ["CRED_A": "first-credential-value", "CRED_B": "second-credential-value"])
                }
                started.withLock { $0.append(result) }
            }
            let new = try started.withLock { try $0.map { try $0.get() } }
            daemons += new
            return new
        }

        func cleanUp() {
            for daemon in daemons { daemon.cleanUp() }
            postgres.cleanUp()
            directory.remove()
        }
    }

    /// The session's log as stored (the API streams it; this reads it without waiting).
    static func events(_ cluster: Cluster, _ id: String) throws -> [[String: Any]] {
        try cluster.postgres.psql("SELECT event FROM events WHERE session_id = '\(id)' ORDER BY seq", database: "sre")
            .split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    static func pendingRequest(_ daemon: DaemonProcess, _ id: String, headers: [String: String] = [:]) throws -> String {
        let status = try SessionAPITests.waitForStatus(daemon, id, headers: headers) { $0 == "awaiting_approval" }
        let approval = try #require(status["pending_approval"] as? [String: Any], "\(status)")
        return try #require(approval["request_id"] as? String)
    }

    @Test func startedOnAWatchedOnBApprovedOnC() throws {
        let cluster = try Cluster()
        defer { cluster.cleanUp() }
        let daemons = try cluster.start(3)
        let (a, b, c) = (daemons[0], daemons[1], daemons[2])
        #expect(try cluster.postgres.psql("SELECT string_agg(version::text, ',' ORDER BY version) FROM sre_schema", database: "sre") == "1,2", "three daemons starting together migrate once")

        let accepted = try a.post("/diagnose", ["problem": "checkout errors", "environment": "prod"])
        #expect(accepted.status == 202, "\(accepted.text)\n\(a.child.stderr)")
        let id = try #require(accepted.json["session_id"] as? String)
        let stream = try SSEClient(b.target, path: "/sessions/\(id)/events", timeout: 30)
        let requestID = try Self.pendingRequest(b, id)

        // The requester cannot approve on another daemon either (the owner checks); alice can.
        let refused = try c.post("/approve/\(id)", ["approved": true])
        #expect(refused.status == 403, "\(refused.text)")
        let decision = try c.post("/approve/\(id)", ["approved": true, "request_id": requestID], headers: Self.bearer)
        #expect(decision.status == 200, "\(decision.text)")
        #expect(decision.json["outcome"] as? String == "approved")
        #expect(decision.json["approver"] as? String == "alice")

        var seen: [SSEEvent] = []
        while let event = try stream.next() { seen.append(event) }
        #expect(seen.map(\.id) == Array(1...seen.count).map(Optional.some), "every event once, in order, on a daemon that does not run the session")
        #expect(seen.contains { $0.event == "report" })
        #expect(seen.last?.event == "status" && seen.last?.json["data"].flatMap { ($0 as? [String: Any])?["status"] as? String } == "completed")

        let report = try c.get("/sessions/\(id)/report")
        #expect(report.status == 200)
        let domains = try ApprovalTests.domains(c, id)
        #expect(domains["database"]?["outcome"] as? String == "ok")
        #expect(domains["cloud"]?["outcome"] as? String == "ok")
        let audit = try #require(try b.get("/sessions/\(id)/audit").json["entries"] as? [[String: Any]])
        #expect(audit.compactMap { $0["action"] as? String }.prefix(2) == ["requested", "approved"])

        // Resuming the stream on yet another daemon from the middle repeats nothing.
        let resumed = try SSEClient(a.target, path: "/sessions/\(id)/events", lastEventID: 5, timeout: 10)
        var rest: [Int?] = []
        while let event = try resumed.next() { rest.append(event.id) }
        #expect(rest == Array(6...seen.count).map(Optional.some))

        // A token holder asking on A may not approve their own request on C.
        let own = try a.post("/diagnose", ["problem": "checkout errors", "environment": "prod"], headers: Self.bearer)
        let ownID = try #require(own.json["session_id"] as? String)
        _ = try Self.pendingRequest(c, ownID, headers: Self.bearer)
        let selfApproval = try c.post("/approve/\(ownID)", ["approved": true], headers: Self.bearer)
        #expect(selfApproval.status == 403, "\(selfApproval.text)")
        #expect(selfApproval.text.contains("cannot approve their own"))
        // Cancelled from B: the owner (A) ends it.
        let cancelled = try b.post("/sessions/\(ownID)/cancel", [:], headers: Self.bearer)
        #expect(cancelled.status == 200, "\(cancelled.text)")
        _ = try SessionAPITests.waitForStatus(c, ownID) { $0 == "cancelled" }
    }

    @Test func killedOwnersSessionsContinueOnAnotherDaemon() throws {
        let cluster = try Cluster(lease: "2s", slowCheckSeconds: 4)
        defer { cluster.cleanUp() }
        let daemons = try cluster.start(2)
        let (a, b) = (daemons[0], daemons[1])

        // 1. Killed while waiting for approval: the request keeps waiting, now on B.
        let first = try #require(try a.post("/diagnose", ["problem": "checkout errors", "environment": "prod"]).json["session_id"] as? String)
        let requestID = try Self.pendingRequest(a, first)
        a.child.signal(SIGKILL)
        _ = a.child.wait(timeout: 10)
        let tookOver = try TestEnvironment.waitUntil(timeout: 10, interval: 0.1) {
            try Self.events(cluster, first).contains { (($0["data"] as? [String: Any])?["message"] as? String)?.hasPrefix("continued by another daemon") == true }
        }
        #expect(tookOver, "B continues the session once A's lease lapsed")
        #expect(try Self.pendingRequest(b, first) == requestID, "the same request is still pending")
        let decision = try b.post("/approve/\(first)", ["approved": true, "request_id": requestID], headers: Self.bearer)
        #expect(decision.status == 200, "\(decision.text)")
        _ = try SessionAPITests.waitForStatus(b, first, timeout: 30) { $0 == "completed" }

        // 2. Killed mid-diagnosis: the finished domain is kept, the unfinished one runs again.
        let c = try cluster.start(1)[0]
        let second = try #require(try b.post("/diagnose", ["problem": "checkout errors", "environment": "prod"]).json["session_id"] as? String)
        let secondRequest = try Self.pendingRequest(b, second)
        #expect(try c.post("/approve/\(second)", ["approved": true, "request_id": secondRequest], headers: Self.bearer).status == 200)
        let cloudDone = try TestEnvironment.waitUntil(timeout: 20, interval: 0.05) {
            try Self.events(cluster, second).contains { event in
                let data = event["data"] as? [String: Any]
                return event["type"] as? String == "domain" && data?["domain"] as? String == "cloud" && data?["state"] as? String == "completed"
            }
        }
        #expect(cloudDone)
        b.child.signal(SIGKILL)
        _ = b.child.wait(timeout: 10)
        _ = try SessionAPITests.waitForStatus(c, second, timeout: 40) { $0 == "completed" }
        let log = try Self.events(cluster, second)
        func runs(_ domain: String) -> Int {
            log.filter { event in
                let data = event["data"] as? [String: Any]
                return event["type"] as? String == "domain" && data?["domain"] as? String == domain && data?["state"] as? String == "running"
            }.count
        }
        #expect(runs("cloud") == 1, "the domain that finished on B is kept")
        #expect(runs("database") == 2, "the domain B did not finish runs again on C")
        let sequences = log.compactMap { $0["seq"] as? Int }
        #expect(sequences == Array(1...sequences.count), "one gapless log across both owners")
        let domains = try ApprovalTests.domains(c, second)
        #expect(domains["database"]?["outcome"] as? String == "ok")
        #expect(domains["cloud"]?["outcome"] as? String == "ok")
    }

    @Test func rateLimitsHoldAcrossDaemons() throws {
        let cluster = try Cluster(server: "{diagnose_rate_per_minute: 2}")
        defer { cluster.cleanUp() }
        let daemons = try cluster.start(2)
        let (a, b) = (daemons[0], daemons[1])
        for _ in 0..<2 {
            #expect(try a.post("/diagnose", ["problem": "checkout errors", "environment": "prod"]).status == 202)
        }
        let third = try b.post("/diagnose", ["problem": "checkout errors", "environment": "prod"])
        #expect(third.status == 429, "B counts A's sessions: \(third.text)")
        #expect(third.headers["retry-after"] != nil || third.headers["Retry-After"] != nil)
    }

    /// Alertmanager may post to any daemon: one daemon drains at a time (one session per group,
    /// however the notifications are spread), and a repeat that reaches another daemon joins the
    /// running session through its owner.
    @Test func alertsJoinTheirSessionWhicheverDaemonTheyReach() throws {
        let cluster = try Cluster()
        defer { cluster.cleanUp() }
        let daemons = try cluster.start(2)
        let (a, b) = (daemons[0], daemons[1])
        let headers = ["Authorization": "Bearer \(Cluster.intakeToken)", "Content-Type": "application/json"]
        @Sendable func post(_ daemon: DaemonProcess, _ groupKey: String) throws -> Int {
            let body = try JSONSerialization.data(withJSONObject: AlertIntakeTests.payload(groupKey))
            return try TestHTTPClient.request(daemon.target, "POST", "/webhooks/alertmanager", headers: headers, body: body).status
        }
        func outcomes(_ groupKey: String) throws -> [(kind: String, session: String?)] {
            try AlertIntakeTests.intake(a).filter { ($0["group_key"] as? String) == groupKey }.map(AlertIntakeTests.outcome)
        }

        // Started on A (which runs the session, waiting for approval), repeated at B.
        #expect(try post(a, "{}:{alertname=\"Burst\",g=\"1\"}") == 200)
        var first: [(kind: String, session: String?)] = []
        #expect(try TestEnvironment.waitUntil(timeout: 15) { first = try outcomes("{}:{alertname=\"Burst\",g=\"1\"}"); return first.first?.kind == "started" })
        let session = try #require(first.first?.session)
        #expect(try post(b, "{}:{alertname=\"Burst\",g=\"1\"}") == 200)
        #expect(try TestEnvironment.waitUntil(timeout: 15) { try outcomes("{}:{alertname=\"Burst\",g=\"1\"}").contains { $0.kind == "added" && $0.session == session } })
        #expect(try TestEnvironment.waitUntil(timeout: 10) { try Self.events(cluster, session).contains { $0["type"] as? String == "alerts" } }, "the owner appended B's alerts")

        // A new group posted to both at once: one session.
        let group = "{}:{alertname=\"Burst\",g=\"2\"}"
        let statuses = Mutex<[Int]>([])
        DispatchQueue.concurrentPerform(iterations: 2) { index in
            let status = (try? post(index == 0 ? a : b, group)) ?? 0
            statuses.withLock { $0.append(status) }
        }
        #expect(statuses.withLock { $0 } == [200, 200])
        var both: [(kind: String, session: String?)] = []
        #expect(try TestEnvironment.waitUntil(timeout: 15) { both = try outcomes(group); return both.count == 2 && both.allSatisfy { !$0.kind.isEmpty } })
        #expect(both.filter { $0.kind == "started" }.count == 1, "\(both)")
        #expect(Set(both.compactMap(\.session)).count == 1, "\(both)")
    }
}
