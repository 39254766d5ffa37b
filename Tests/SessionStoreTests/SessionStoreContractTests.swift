import DiagnosisModel
import Foundation
import SessionStore
import TestSupport
import Synchronization
import Testing

/// One contract, two stores: what the daemon relies on holds on SQLite and on a real PostgreSQL
/// (a server per test run, `initdb` in a temp directory).
@Suite(.serialized) struct SessionStoreContractTests {
    enum Backend: String, CaseIterable, CustomTestStringConvertible {
        case sqlite, postgres
        var testDescription: String { rawValue }
    }

    final class Opened: @unchecked Sendable {
        let store: any SessionStore & NotificationOutbox & AlertIntakeStore
        let cleanUp: () -> Void
        init(store: any SessionStore & NotificationOutbox & AlertIntakeStore, cleanUp: @escaping () -> Void) {
            self.store = store
            self.cleanUp = cleanUp
        }
    }

    static func open(_ backend: Backend) async throws -> Opened {
        switch backend {
        case .sqlite:
            let directory = try TestEnvironment.makeTemporaryDirectory("store")
            return Opened(store: try SQLiteSessionStore(directory: directory.path), cleanUp: { directory.remove() })
        case .postgres:
            let server = try PostgresServer()
            try server.psql("CREATE DATABASE sre OWNER app")
            let store = try await PostgresSessionStore(settings: .init(host: "127.0.0.1", port: server.port, database: "sre", user: "app", password: server.appPassword))
            return Opened(store: store, cleanUp: {
                store.close()
                server.cleanUp()
            })
        }
    }

    static func record(_ id: String, created: Date, status: SessionStatus = .analyzing, sequence: Int = 1) -> SessionRecord {
        var record = SessionRecord(id: id, problem: "p \(id)", environment: "prod", context: [:], requester: "alice", createdAt: created, updatedAt: created, lastSequence: sequence)
        record.status = status
        return record
    }

    static func created(_ record: SessionRecord) -> SessionEvent {
        SessionEvent(sessionID: record.id, sequence: 1, at: record.createdAt, body: .created(.init(problem: record.problem, environment: "prod", context: [:], requester: "alice")))
    }

    @Test(arguments: Backend.allCases) func sessionsEventsAndFindings(_ backend: Backend) async throws {
        let opened = try await Self.open(backend)
        defer { opened.cleanUp() }
        let store = opened.store
        let base = Date(timeIntervalSince1970: 1_800_000_000)
        var first = Self.record("a", created: base)
        try await store.create(first, firstEvent: Self.created(first))
        let finding = Finding(id: "network-1", domain: .network, probe: "net.tcp_connect", draft: FindingDraft(code: .netTCPRefused, severity: .high, target: "db:5432", title: "refused"), observedAt: base)
        first.lastSequence = 2
        first.status = .diagnosing
        let entry = OutboxEntry(deliveryID: "a-2-team", sink: "team", kind: "completed", sessionID: "a", body: "{}", createdAt: base)
        try await store.append(SessionEvent(sessionID: "a", sequence: 2, at: base, body: .finding(finding)), record: first, outbox: [entry])
        first.lastSequence = 3
        first.status = .completed
        try await store.append(SessionEvent(sessionID: "a", sequence: 3, at: base, body: .status(.init(status: .completed, phase: .done, progress: 1))), record: first)

        #expect(try await store.session(id: "a")?.status == .completed)
        #expect(try await store.session(id: "nope") == nil)
        #expect(try await store.events(sessionID: "a", after: 0).map(\.sequence) == [1, 2, 3])
        #expect(try await store.events(sessionID: "a", after: 2).map(\.type) == ["status"])
        #expect(try await store.findings(sessionID: "a").map(\.code) == ["net.tcp_refused"])
        #expect(try await store.latestEvent(sessionID: "a", type: "finding")?.sequence == 2)
        #expect(try await store.outbox(sessionID: "a").map(\.deliveryID) == ["a-2-team"])
        // A duplicate sequence is refused, and leaves the log as it was.
        await #expect(throws: (any Error).self) {
            try await store.append(SessionEvent(sessionID: "a", sequence: 3, at: base, body: .notice(.init(message: "dup"))), record: first)
        }
        #expect(try await store.events(sessionID: "a", after: 0).count == 3)

        // Listing: newest first, pages by cursor, filter by status.
        for index in 0..<5 {
            let record = Self.record("s\(index)", created: base.addingTimeInterval(Double(index + 1)))
            try await store.create(record, firstEvent: Self.created(record))
        }
        let page1 = try await store.sessions(status: nil, limit: 4, before: nil)
        #expect(page1.records.map(\.id) == ["s4", "s3", "s2", "s1"])
        let page2 = try await store.sessions(status: nil, limit: 4, before: page1.nextCursor)
        #expect(page2.records.map(\.id) == ["s0", "a"] && page2.nextCursor == nil)
        #expect(try await store.sessions(status: .completed, limit: 10, before: nil).records.map(\.id) == ["a"])
        #expect(try await store.unfinishedSessions().map(\.id) == ["s0", "s1", "s2", "s3", "s4"])
        #expect(try await store.countsByStatus()[.analyzing] == 5)

        // Audit in order; retention deletes finished sessions only.
        let audit = AuditEntry(sessionID: "a", requestID: "r", action: .requested, actor: "alice", references: ["env://X"], at: base)
        try await store.appendAudit(audit)
        try await store.appendAudit(AuditEntry(sessionID: "a", requestID: "r", action: .approved, actor: "bob", references: ["env://X"], at: base))
        #expect(try await store.audit(sessionID: "a").map(\.action) == [.requested, .approved])
        #expect(try await store.prune(updatedBefore: base.addingTimeInterval(3600)) == 1)
        #expect(try await store.session(id: "a") == nil)
        #expect(try await store.events(sessionID: "a", after: 0).isEmpty)
        #expect(try await store.session(id: "s0") != nil)
    }

    @Test(arguments: Backend.allCases) func outboxAndIntake(_ backend: Backend) async throws {
        let opened = try await Self.open(backend)
        defer { opened.cleanUp() }
        let store = opened.store
        let base = Date(timeIntervalSince1970: 1_800_000_000)
        var record = Self.record("a", created: base)
        try await store.create(record, firstEvent: Self.created(record))
        record.lastSequence = 2
        let entries = ["one", "two"].map { OutboxEntry(deliveryID: "a-\($0)", sink: "team", kind: "completed", sessionID: "a", body: "{\"n\":\"\($0)\"}", createdAt: base) }
        try await store.append(SessionEvent(sessionID: "a", sequence: 2, at: base, body: .notice(.init(message: "x"))), record: record, outbox: entries)
        let first = try #require(try await store.nextPending(sink: "team"))
        #expect(first.deliveryID == "a-one" && first.state == .pending && first.attempts == 0)
        try await store.reschedule(first.id, attempts: 1, next: base.addingTimeInterval(5), error: "HTTP 503")
        let again = try #require(try await store.nextPending(sink: "team"))
        #expect(again.deliveryID == "a-one" && again.attempts == 1 && again.lastError == "HTTP 503", "order holds while the first one fails")
        try await store.markDelivered(again.id)
        let second = try #require(try await store.nextPending(sink: "team"))
        #expect(second.deliveryID == "a-two")
        try await store.giveUp(second.id, attempts: 7, error: "cannot connect")
        #expect(try await store.nextPending(sink: "team") == nil)
        #expect(try await store.nextPending(sink: "other") == nil)
        #expect(try await store.outbox(sessionID: "a").map(\.state) == [.delivered, .gaveUp])

        let alert = AlertSummary(alertname: "X", status: "firing", labels: ["alertname": "X"])
        let intake = IntakeRecord(id: 0, receivedAt: base, source: "alertmanager", groupKey: "g1", receiver: "sre", status: "firing", alerts: [alert], state: .pending)
        let id1 = try await store.saveIntake(intake, payload: Data("{\"a\":1}".utf8))
        let id2 = try await store.saveIntake(intake, payload: Data("{\"a\":2}".utf8))
        #expect(id2 > id1)
        let pending = try await store.pendingIntake()
        #expect(pending.map(\.record.id) == [id1, id2] && pending.first?.payload == Data("{\"a\":1}".utf8))
        try await store.completeIntake(id1, outcome: IntakeOutcome(kind: .started, sessionID: "a", route: "r", detail: "started"))
        #expect(try await store.pendingIntake().map(\.record.id) == [id2])
        #expect(try await store.latestSession(groupKey: "g1", since: base.addingTimeInterval(-1)) == "a")
        #expect(try await store.latestSession(groupKey: "g1", since: base.addingTimeInterval(1)) == nil)
        let recent = try await store.recentIntake(limit: 10)
        #expect(recent.map(\.id) == [id2, id1] && recent.last?.outcome?.kind == .started && recent.last?.state == .processed)
        // Starts, newest first, with their route: what the per-minute cap counts across daemons.
        try await store.completeIntake(id2, outcome: IntakeOutcome(kind: .attached, sessionID: "a", route: "r", detail: "over the cap"))
        let id3 = try await store.saveIntake(intake, payload: Data())
        try await store.completeIntake(id3, outcome: IntakeOutcome(kind: .started, sessionID: "c", route: nil, detail: "started"))
        let started = try await store.sessionsStarted(since: base.addingTimeInterval(-1))
        #expect(started.map(\.sessionID) == ["c", "a"] && started.map(\.route) == [nil, "r"])
        #expect(try await store.sessionsStarted(since: base.addingTimeInterval(1)).isEmpty)
    }

    /// Three daemons starting together on one database migrate it once.
    @Test func concurrentStartsMigrateOnce() async throws {
        let server = try PostgresServer()
        defer { server.cleanUp() }
        try server.psql("CREATE DATABASE sre OWNER app")
        let settings = PostgresSessionStore.Settings(host: "127.0.0.1", port: server.port, database: "sre", user: "app", password: server.appPassword)
        let stores = try await withThrowingTaskGroup(of: PostgresSessionStore.self) { group in
            for _ in 0..<3 { group.addTask { try await PostgresSessionStore(settings: settings) } }
            var opened: [PostgresSessionStore] = []
            for try await store in group { opened.append(store) }
            return opened
        }
        defer { stores.forEach { $0.close() } }
        #expect(stores.count == 3)
        #expect(try await stores[0].schemaVersions() == [1, 2])
        // The audit stays append-only on PostgreSQL too.
        try await stores[0].appendAudit(AuditEntry(sessionID: "x", requestID: nil, action: .requested, actor: "alice", references: [], at: Date()))
        #expect(throws: (any Error).self) { try server.psql("UPDATE approvals SET actor = 'mallory'", database: "sre") }
        #expect(throws: (any Error).self) { try server.psql("DELETE FROM approvals", database: "sre") }
        #expect(try server.psql("SELECT actor FROM approvals", database: "sre") == "alice")
    }

    /// Leases, commands and wake-ups between daemons (PostgreSQL only: one SQLite daemon has no peers).
    @Test func leasesCommandsAndWakeUps() async throws {
        let server = try PostgresServer()
        defer { server.cleanUp() }
        try server.psql("CREATE DATABASE sre OWNER app")
        let settings = PostgresSessionStore.Settings(host: "127.0.0.1", port: server.port, database: "sre", user: "app", password: server.appPassword)
        let (a, b) = (try await PostgresSessionStore(settings: settings), try await PostgresSessionStore(settings: settings))
        defer { a.close(); b.close() }
        let woken = Mutex<[CoordinationWakeUp]>([])
        let listener = Task { try await b.listen { wakeUp in woken.withLock { $0.append(wakeUp) } } }
        defer { listener.cancel() }
        try await Task.sleep(for: .milliseconds(300))  // LISTEN issued

        // A lease is taken before the session exists; a held lease keeps the session from others.
        #expect(try await a.acquireLease(sessionID: "s1", owner: "A", duration: .seconds(30)))
        let record = Self.record("s1", created: Date())
        try await a.create(record, firstEvent: Self.created(record))
        #expect(try await b.acquireLease(sessionID: "s1", owner: "B", duration: .seconds(30)) == false)
        #expect(try await b.orphanedSessions().isEmpty)
        #expect(try await a.renewLeases(owner: "A", sessionIDs: ["s1"], duration: .milliseconds(200)).isEmpty)
        #expect(try await b.renewLeases(owner: "B", sessionIDs: ["s1"], duration: .seconds(30)) == ["s1"], "B holds nothing to renew")
        // Once it lapses, the session is an orphan and B takes it; A has lost it.
        try await Task.sleep(for: .milliseconds(400))
        #expect(try await b.orphanedSessions().map(\.id) == ["s1"])
        #expect(try await b.acquireLease(sessionID: "s1", owner: "B", duration: .seconds(30)))
        #expect(try await a.renewLeases(owner: "A", sessionIDs: ["s1"], duration: .seconds(30)) == ["s1"])
        try await a.releaseLease(sessionID: "s1", owner: "A")
        #expect(try await a.acquireLease(sessionID: "s1", owner: "A", duration: .seconds(30)) == false, "A's release does not free B's lease")
        #expect(try await a.unfinishedCount(requester: "alice") == 1)
        #expect(try await a.unfinishedCount(requester: "bob") == 0)
        #expect(try await a.unfinishedCount(requester: nil) == 1)

        // A command is answered once; the answer is read by the daemon that asked.
        let id = try await a.submit(SessionCommand(sessionID: "s1", kind: "decide", body: "{}"))
        #expect(try await b.openCommands(sessionIDs: ["s1"]).map(\.id) == [id])
        try await b.answer(id, with: "first")
        try await b.answer(id, with: "second")
        #expect(try await a.answer(of: id) == "first")
        #expect(try await b.openCommands(sessionIDs: ["s1"]).isEmpty)

        #expect(TestEnvironment.waitUntil(timeout: 5) {
            let seen = woken.withLock { $0 }
            return seen.contains(.events(sessionID: "s1")) && seen.contains(.command(sessionID: "s1")) && seen.contains(.answer(commandID: id))
        }, "\(woken.withLock { $0 })")
    }
}
