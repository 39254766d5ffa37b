import Crypto
@testable import Daemon
import DiagnosisModel
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Orchestrator
import RunnerProtocol
import Secrets
import SessionStore
import TestSupport
import Synchronization
import Testing

/// The session and approval rules through the real router, in process (HummingbirdTesting):
/// a scripted planner, and runners that are threads speaking the real wire protocol over the
/// supervisor's real socket (the `RunnerLauncher` seam), so each test takes milliseconds.
@Suite struct APITests {
    static let aliceToken = "alice-approver-token-0123456789"
    static let bobToken = "bob-requester-token-0123456789"
    static let carolToken = "carol-requester-token-0123456789"

    /// Plans what it is given: a credential-needing database check and, optionally, a
    /// credential-free network check.
    struct ScriptedPlanner: Planner {
        let withNetwork: Bool
        func plan(_ input: PlanningInput) async throws -> DiagnosisPlan {
            var domains = [DomainPlan(domain: .database, probes: [ProbeRequest(id: "command#login", probe: "command", target: "login", credential: "env://CRED_A")], rationale: "the database login")]
            if withNetwork { domains.append(DomainPlan(domain: .network, probes: [ProbeRequest(id: "net.tcp_connect#db:5432", probe: "net.tcp_connect", target: "db:5432")], rationale: "the port")) }
            return DiagnosisPlan(domains: domains, rationale: "scripted", planner: "scripted", playbooks: [])
        }
    }

    /// A runner on a thread: hello with its token, reads the job, reports one finding per probe
    /// (`high` for a credentialled probe whose credential arrived, `ok` otherwise), then done —
    /// or, with `crash`, hangs up without a result.
    struct ThreadRunnerLauncher: RunnerLauncher {
        let crash: Bool

        struct Launched: LaunchedRunner {
            var expectedPeerPID: Int32? { nil }
            func signal(_ signal: Int32) {}
        }

        func launch(_ request: RunnerLaunchRequest, onExit: @escaping @Sendable (RunnerExit) -> Void) throws -> any LaunchedRunner {
            let crash = self.crash
            Thread.detachNewThread {
                Self.serve(request, crash: crash)
                onExit(.exited(crash ? 3 : 0))
            }
            return Launched()
        }

        static func serve(_ request: RunnerLaunchRequest, crash: Bool) {
            guard let socket = try? RawSocket.connect(.unix(path: request.socketPath), timeout: 5) else { return }
            defer { socket.close() }
            let hello = Hello(runnerID: request.runnerID, token: request.token, domain: request.domain, pid: getpid(), version: "test")
            guard (try? socket.write(Data(MessageCodec.frame(.hello(hello))))) != nil else { return }
            var decoder = FrameDecoder()
            var job: RunnerJob?
            while job == nil, let bytes = try? socket.readSome() {
                decoder.append(bytes)
                if let frame = try? decoder.nextFrame(), case .job(let received)? = try? MessageCodec.decode(frame) { job = received }
            }
            guard let job, !crash else { return }
            var outcomes: [ProbeOutcome] = []
            for (index, probe) in job.probes.enumerated() {
                let credentialled = probe.credential.map { job.credentials[$0] != nil } ?? false
                let draft = credentialled
                    ? FindingDraft(code: .dbAuthFailed, severity: .high, target: probe.target, title: "login refused for \(probe.target)")
                    : FindingDraft(code: .netOK, severity: .ok, target: probe.target, title: "\(probe.target) is fine")
                let finding = Finding(id: "\(job.domain.rawValue)-\(index + 1)", domain: job.domain, probe: probe.probe, draft: draft, observedAt: Date())
                _ = try? socket.write(Data(MessageCodec.frame(.finding(finding))))
                outcomes.append(ProbeOutcome(id: probe.id, probe: probe.probe, status: .ok, durationMs: 1))
            }
            _ = try? socket.write(Data(MessageCodec.frame(.done(Done(outcomes: outcomes, durationMs: 1)))))
        }
    }

    /// A daemon's router and services in this process.
    final class Daemon: Sendable {
        let directory: TemporaryDirectory
        let sessions: SessionService
        let supervisor: RunnerSupervisor
        /// The real SQLite store, behind a gate a test can close to hold the session's writes.
        let store: SessionLogTests.GatedStore
        let app: Application<RouterResponder<APIRequestContext>>

        init(withNetwork: Bool = true, crash: Bool = false, approvalTimeout: Duration = .seconds(60), maxOpenPerIdentity: Int = 10, standing: [StandingApproval] = []) async throws {
            directory = try TestEnvironment.makeTemporaryDirectory("api")
            var logger = Logger(label: "api-test")
            logger.logLevel = .critical
            let store = try SessionLogTests.GatedStore(directory: directory.file("state"))
            self.store = store
            supervisor = RunnerSupervisor(
                settings: .init(socketPath: directory.file("run/supervisor.sock"), maxConcurrent: 4, killGrace: .milliseconds(200), maxFrameBytes: 1 << 20),
                launcher: ThreadRunnerLauncher(crash: crash), logger: logger
            )
            try await supervisor.start()
            var settings = SessionService.Settings(
                environments: ["prod": EnvironmentInventory(name: "prod")], approvalTimeout: approvalTimeout, runnerDeadline: .seconds(10)
            )
            settings.maxOpenSessionsPerIdentity = maxOpenPerIdentity
            settings.standingApprovals = standing
            let metrics = DaemonMetrics()
            sessions = SessionService(
                settings: settings, store: store, planner: ScriptedPlanner(withNetwork: withNetwork), synthesizer: RuleSynthesizer(), supervisor: supervisor,
                broker: SecretBroker(providers: [EnvironmentSecretProvider(environment: ["CRED_A": "credential-a-value"])], policy: .init(allowEnvRefs: true)),
                metrics: metrics, secretScrubber: SecretScrubber(), logger: logger
            )
            let sessions = self.sessions
            func token(_ name: String, _ role: Identity.Role, _ value: String) -> AuthService.Token {
                AuthService.Token(name: name, role: role, hash: Array(SHA256.hash(data: Data(value.utf8))))
            }
            let auth = AuthService(
                tokens: [token("alice", .approver, APITests.aliceToken), token("bob", .requester, APITests.bobToken), token("carol", .requester, APITests.carolToken)],
                requesterTokensRequired: true, approverGroup: nil
            )
            let router = DaemonApplication.makeRouter(
                .init(
                    health: HealthService(activeSessions: { await sessions.activeCount }), sessions: sessions, store: store, supervisor: supervisor,
                    metrics: metrics, environments: settings.environments, resources: StaticResources(dashboard: "", openAPI: ""),
                    diagnoseRatePerMinute: 1000, heartbeat: .seconds(1)
                ),
                auth: auth, hostPolicy: HostPolicy(allowedHosts: [])
            )
            app = Application(router: router, logger: logger)
        }

        func finish() async {
            await sessions.shutdown()
            await supervisor.stop(reason: "test over")
            directory.remove()
        }
    }

    // MARK: Helpers

    static func headers(_ token: String) -> HTTPFields { [.authorization: "Bearer \(token)", .contentType: "application/json"] }

    static func json(_ response: TestResponse) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any] ?? [:]
    }

    static func post(_ client: some TestClientProtocol, _ path: String, _ body: [String: Any], as token: String) async throws -> TestResponse {
        try await client.execute(uri: path, method: .post, headers: headers(token), body: ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
    }

    static func start(_ client: some TestClientProtocol, as token: String = bobToken) async throws -> String {
        let response = try await post(client, "/diagnose", ["problem": "checkout fails: database errors", "environment": "prod"], as: token)
        #expect(response.status == .accepted, "\(String(buffer: response.body))")
        return try #require(json(response)["session_id"] as? String)
    }

    @discardableResult
    static func waitFor(_ client: some TestClientProtocol, _ id: String, _ accept: Set<String>) async throws -> [String: Any] {
        var last: [String: Any] = [:]
        for _ in 0..<400 {
            last = json(try await client.execute(uri: "/status/\(id)", method: .get, headers: headers(aliceToken)))
            if accept.contains(last["status"] as? String ?? "") { return last }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("status stayed \(last["status"] ?? "?"), expected \(accept)")
        return last
    }

    static func report(_ client: some TestClientProtocol, _ id: String) async throws -> [String: Any] {
        json(try await client.execute(uri: "/sessions/\(id)/report", method: .get, headers: headers(aliceToken)))
    }

    static func outcomes(_ report: [String: Any]) -> [String: String] {
        var result: [String: String] = [:]
        for domain in report["domains"] as? [[String: Any]] ?? [] { result[domain["domain"] as? String ?? ""] = domain["outcome"] as? String }
        return result
    }

    // MARK: Tests

    /// An alert's session that another daemon takes over before its approval (its owner died
    /// between creating it and planning) keeps the standing approval its route gave it — read
    /// from its log — and runs unattended; one started without any still waits for a person.
    @Test func aTakenOverSessionKeepsItsStandingApprovalAndNoMore() async throws {
        let night = StandingApproval(name: "night", environment: "prod", references: ["env://CRED_A"], owner: "alice", reason: "INC-1 runbook", expiresAt: Date().addingTimeInterval(3600))
        let daemon = try await Daemon(withNetwork: false, standing: [night])
        @Sendable func orphan(standing: [String]?) async throws -> String {
            let now = Date()
            let record = SessionRecord(
                id: UUID().uuidString.lowercased(), problem: "checkout fails: database errors", environment: "prod", context: [:],
                requester: "alertmanager:checkout", createdAt: now, updatedAt: now, lastSequence: 1
            )
            let created = SessionEvent(sessionID: record.id, sequence: 1, at: now, body: .created(.init(
                problem: record.problem, environment: "prod", context: [:], requester: record.requester, standingApprovals: standing
            )))
            try await daemon.store.create(record, firstEvent: created)
            await daemon.sessions.resume(record)
            return record.id
        }
        try await daemon.app.test(.router) { client in
            let unattended = try await orphan(standing: ["night"])
            try await Self.waitFor(client, unattended, ["completed"])
            let audit = Self.json(try await client.execute(uri: "/sessions/\(unattended)/audit", method: .get, headers: Self.headers(Self.aliceToken)))
            let entries = audit["entries"] as? [[String: Any]] ?? []
            #expect(entries.compactMap { $0["action"] as? String } == ["requested", "approved", "resolved"])
            #expect(entries.contains { $0["actor"] as? String == "standing:night" }, "\(entries)")

            let attended = try await orphan(standing: nil)
            try await Self.waitFor(client, attended, ["awaiting_approval"])
        }
        await daemon.finish()
    }

    @Test func approvedCredentialReachesOnlyItsRunnerAndIsAudited() async throws {
        let daemon = try await Daemon()
        try await daemon.app.test(.router) { client in
            let id = try await Self.start(client)
            let pending = try await Self.waitFor(client, id, ["awaiting_approval"])
            let approval = try #require(pending["pending_approval"] as? [String: Any])
            #expect(approval["requester"] as? String == "bob")
            let decided = try await Self.post(client, "/approve/\(id)", ["approved": true, "request_id": approval["request_id"] as? String ?? "", "comment": "INC-7"], as: Self.aliceToken)
            #expect(decided.status == .ok, "\(String(buffer: decided.body))")
            try await Self.waitFor(client, id, ["completed"])
            let report = try await Self.report(client, id)
            #expect(Self.outcomes(report) == ["database": "issues", "network": "ok"])
            let causes = try #require(report["probable_causes"] as? [[String: Any]])
            #expect((causes.first?["codes"] as? [String])?.first == "db.auth_failed")
            let audit = Self.json(try await client.execute(uri: "/sessions/\(id)/audit", method: .get, headers: Self.headers(Self.aliceToken)))
            let actions = (audit["entries"] as? [[String: Any]] ?? []).compactMap { $0["action"] as? String }
            #expect(actions == ["requested", "approved", "resolved"])
        }
        await daemon.finish()
    }

    /// `/metrics` shows the bounded in-memory caches — finished answers and SQLite's own memory —
    /// so a memory soak can tell a cache filling up to its bound from growth without one.
    @Test func metricsShowTheBoundedCaches() async throws {
        let daemon = try await Daemon()
        try await daemon.app.test(.router) { client in
            func gauge(_ name: String) async throws -> Double? {
                let text = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
                return text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
            }
            #expect(try await gauge("sre_answer_cache_entries") == 0)
            let id = try await Self.start(client)
            let pending = try await Self.waitFor(client, id, ["awaiting_approval"])
            let approval = try #require(pending["pending_approval"] as? [String: Any])
            _ = try await Self.post(client, "/approve/\(id)", ["approved": false, "request_id": approval["request_id"] as? String ?? ""], as: Self.aliceToken)
            let finished = try await Self.waitFor(client, id, ["completed", "expired", "failed"])
            _ = try await client.execute(uri: "/status/\(id)", method: .get, headers: Self.headers(Self.aliceToken))
            #expect(try await gauge("sre_answer_cache_entries") == 1, "the finished session's answer is kept: \(finished["status"] ?? "?")")
            #expect(try await gauge("sre_answer_cache_bytes") ?? 0 > 100)
            #expect(try await gauge("sre_store_memory_bytes") ?? 0 > 0, "SQLite's memory in this process")
        }
        await daemon.finish()
    }

    /// The approver's answer waits until the decision and its audit row are stored: one told
    /// "approved" is never lost to a crash right after.
    @Test func approvalIsAnsweredOnlyOnceStored() async throws {
        let daemon = try await Daemon()
        try await daemon.app.test(.router) { client in
            let id = try await Self.start(client)
            try await Self.waitFor(client, id, ["awaiting_approval"])
            daemon.store.hold()
            let answered = Mutex(false)
            let answer = Task {
                let response = try await Self.post(client, "/approve/\(id)", ["approved": true], as: Self.aliceToken)
                answered.withLock { $0 = true }
                return response
            }
            #expect(await TestEnvironment.waitUntilAsync { daemon.store.writesInFlight == 1 }, "the run is storing the decision")
            try await Task.sleep(for: .milliseconds(200))
            #expect(try await daemon.store.audit(sessionID: id).map(\.action) == [.requested])
            #expect(!answered.withLock { $0 }, "no answer while the decision is not stored")
            daemon.store.release()
            let decided = try await answer.value
            #expect(decided.status == .ok, "\(String(buffer: decided.body))")
            // The run goes on at once (the credential's `resolved` row may already follow).
            let stored = try await daemon.store.audit(sessionID: id).map(\.action)
            #expect(Array(stored.prefix(2)) == [.requested, .approved], "stored before the answer: \(stored)")
            try await Self.waitFor(client, id, ["completed"])
        }
        await daemon.finish()
    }

    @Test func whoMayDecide() async throws {
        let daemon = try await Daemon()
        try await daemon.app.test(.router) { client in
            let id = try await Self.start(client)
            try await Self.waitFor(client, id, ["awaiting_approval"])
            // A requester cannot approve; nobody approves an unknown reference or a stale request.
            #expect(try await Self.post(client, "/approve/\(id)", ["approved": true], as: Self.carolToken).status == .forbidden)
            #expect(try await Self.post(client, "/approve/\(id)", ["approved": true, "references": ["env://OTHER"]], as: Self.aliceToken).status == .unprocessableContent)
            #expect(try await Self.post(client, "/approve/\(id)", ["approved": true, "request_id": "00000000-0000-0000-0000-000000000000"], as: Self.aliceToken).status == .conflict)
            // An approver's own request is someone else's to approve.
            let own = try await Self.start(client, as: Self.aliceToken)
            try await Self.waitFor(client, own, ["awaiting_approval"])
            let selfApproval = try await Self.post(client, "/approve/\(own)", ["approved": true], as: Self.aliceToken)
            #expect(selfApproval.status == .forbidden)
            #expect(String(buffer: selfApproval.body).contains("cannot approve their own"))
            // Only the requester or an approver cancels.
            #expect(try await Self.post(client, "/sessions/\(id)/cancel", [:], as: Self.carolToken).status == .forbidden)
            #expect(try await Self.post(client, "/sessions/\(id)/cancel", [:], as: Self.bobToken).status == .ok)
            try await Self.waitFor(client, id, ["cancelled"])
            #expect(try await Self.post(client, "/sessions/\(own)/cancel", [:], as: Self.aliceToken).status == .ok)
        }
        await daemon.finish()
    }

    @Test func denialSkipsTheDomainAndSaysWhy() async throws {
        let daemon = try await Daemon()
        try await daemon.app.test(.router) { client in
            let id = try await Self.start(client)
            try await Self.waitFor(client, id, ["awaiting_approval"])
            #expect(try await Self.post(client, "/approve/\(id)", ["approved": false, "comment": "not in prod"], as: Self.aliceToken).status == .ok)
            try await Self.waitFor(client, id, ["completed"])
            let report = try await Self.report(client, id)
            #expect(Self.outcomes(report) == ["database": "skipped", "network": "ok"])
            let limitations = report["limitations"] as? [String] ?? []
            #expect(limitations.contains { $0.contains("approval denied by alice: not in prod") }, "\(limitations)")
            let findings = report["findings"] as? [[String: Any]] ?? []
            #expect(findings.contains { $0["code"] as? String == "cred.denied" })
        }
        await daemon.finish()
    }

    @Test func aSubsetRunsWhatWasApprovedAndRefusesTheRest() async throws {
        let daemon = try await Daemon()
        try await daemon.app.test(.router) { client in
            let id = try await Self.start(client)
            try await Self.waitFor(client, id, ["awaiting_approval"])
            let empty = try await Self.post(client, "/approve/\(id)", ["approved": true, "references": [String]()], as: Self.aliceToken)
            #expect(empty.status == .unprocessableContent, "an empty subset is not a decision")
            let decision = try await Self.post(client, "/approve/\(id)", ["approved": true, "references": ["env://CRED_A"]], as: Self.aliceToken)
            #expect(Self.json(decision)["outcome"] as? String == "approved")
            try await Self.waitFor(client, id, ["completed"])
            #expect(try await Self.post(client, "/approve/\(id)", ["approved": true], as: Self.aliceToken).status == .conflict, "nothing pending any more")
        }
        await daemon.finish()
    }

    @Test func expiryEndsASessionThatCouldExamineNothingAsExpired() async throws {
        let daemon = try await Daemon(withNetwork: false, approvalTimeout: .milliseconds(300))
        try await daemon.app.test(.router) { client in
            let id = try await Self.start(client)
            try await Self.waitFor(client, id, ["expired"])
            let report = try await Self.report(client, id)
            #expect(Self.outcomes(report) == ["database": "skipped"])
            #expect((report["findings"] as? [[String: Any]] ?? []).contains { $0["code"] as? String == "cred.expired" })
        }
        await daemon.finish()
    }

    @Test func aCrashedRunnerFailsOnlyItsDomain() async throws {
        let daemon = try await Daemon(crash: true)
        try await daemon.app.test(.router) { client in
            let id = try await Self.start(client)
            try await Self.waitFor(client, id, ["awaiting_approval"])
            _ = try await Self.post(client, "/approve/\(id)", ["approved": true], as: Self.aliceToken)
            try await Self.waitFor(client, id, ["completed"])
            let report = try await Self.report(client, id)
            #expect(Self.outcomes(report) == ["database": "failed", "network": "failed"])
            #expect((report["limitations"] as? [String] ?? []).contains { $0.contains("could not be examined") })
        }
        await daemon.finish()
    }

    @Test func openSessionsPerPersonAreCapped() async throws {
        let daemon = try await Daemon(maxOpenPerIdentity: 1)
        try await daemon.app.test(.router) { client in
            _ = try await Self.start(client)
            let second = try await Self.post(client, "/diagnose", ["problem": "again", "environment": "prod"], as: Self.bobToken)
            #expect(second.status == .tooManyRequests)
            #expect(String(buffer: second.body).contains("too_many_sessions"))
            _ = try await Self.start(client, as: Self.carolToken)
            // Without a token (requester tokens configured): 401, JSON.
            let anonymous = try await client.execute(uri: "/sessions", method: .get)
            #expect(anonymous.status == .unauthorized)
        }
        await daemon.finish()
    }
}
