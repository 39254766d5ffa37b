@testable import Daemon
import DiagnosisModel
import Foundation
import SessionStore
import Synchronization
import TestSupport
import Testing

/// The session log writes behind the run: events emitted while a write is in flight are stored
/// together, and nothing is published (to subscribers or readers) before it is stored.
@Suite struct SessionLogTests {
    /// The real SQLite store, with a gate in front of its log writes: a test holds a write in
    /// flight, or makes the next one fail, and sees how many events each write carried.
    final class GatedStore: SessionStore {
        struct State {
            var held: [CheckedContinuation<Void, Never>] = []
            var closed = false
            var failNext = false
            var batches: [[Int]] = []
        }

        let inner: SQLiteSessionStore
        private let state = Mutex(State())

        init(directory: String) throws { inner = try SQLiteSessionStore(directory: directory) }

        func hold() { state.withLock { $0.closed = true } }
        func failNextWrite() { state.withLock { $0.failNext = true } }
        func release() {
            let waiting = state.withLock { state in
                state.closed = false
                defer { state.held.removeAll() }
                return state.held
            }
            for continuation in waiting { continuation.resume() }
        }
        var writesInFlight: Int { state.withLock { $0.held.count } }
        var writes: [[Int]] { state.withLock { $0.batches } }

        struct InjectedFailure: Error {}

        func append(_ write: LogWrite) async throws {
            await withCheckedContinuation { continuation in
                let wait = state.withLock { state in
                    if state.closed { state.held.append(continuation) }
                    return state.closed
                }
                if !wait { continuation.resume() }
            }
            let fail = state.withLock { state in
                defer { state.failNext = false }
                return state.failNext
            }
            if fail { throw InjectedFailure() }
            try await inner.append(write)
            state.withLock { $0.batches.append(write.events.map(\.sequence)) }
        }

        func create(_ record: SessionRecord, firstEvent: SessionEvent) async throws { try await inner.create(record, firstEvent: firstEvent) }
        func session(id: String) async throws -> SessionRecord? { try await inner.session(id: id) }
        func sessions(status: SessionStatus?, limit: Int, before cursor: String?) async throws -> (records: [SessionRecord], nextCursor: String?) {
            try await inner.sessions(status: status, limit: limit, before: cursor)
        }
        func events(sessionID: String, after: Int) async throws -> [SessionEvent] { try await inner.events(sessionID: sessionID, after: after) }
        func findings(sessionID: String) async throws -> [Finding] { try await inner.findings(sessionID: sessionID) }
        func latestEvent(sessionID: String, type: String) async throws -> SessionEvent? { try await inner.latestEvent(sessionID: sessionID, type: type) }
        func appendAudit(_ entry: AuditEntry) async throws { try await inner.appendAudit(entry) }
        func audit(sessionID: String) async throws -> [AuditEntry] { try await inner.audit(sessionID: sessionID) }
        func unfinishedSessions() async throws -> [SessionRecord] { try await inner.unfinishedSessions() }
        func prune(updatedBefore cutoff: Date) async throws -> Int { try await inner.prune(updatedBefore: cutoff) }
        var memoryInUse: Int? { inner.memoryInUse }
        func countsByStatus() async throws -> [SessionStatus: Int] { try await inner.countsByStatus() }
    }

    struct Fixture {
        let directory: TemporaryDirectory
        let store: GatedStore
        let log: SessionLog

        init(_ name: String) async throws {
            directory = try TestEnvironment.makeTemporaryDirectory(name)
            store = try GatedStore(directory: directory.path)
            let now = Date()
            let record = SessionRecord(id: "s-\(name)", problem: "p", environment: "prod", context: [:], requester: "alice", createdAt: now, updatedAt: now, lastSequence: 1)
            let created = SessionEvent(sessionID: record.id, sequence: 1, at: now, body: .created(.init(problem: "p", environment: "prod", context: [:], requester: "alice")))
            try await store.create(record, firstEvent: created)
            log = SessionLog(record: record, store: store)
        }

        func notice(_ text: String) -> SessionEvent.Body { .notice(.init(message: text)) }

        func audit(_ action: AuditEntry.Action) -> AuditEntry {
            AuditEntry(sessionID: "s", requestID: nil, action: action, actor: "system", references: ["env://DB"], provider: "env", at: Date())
        }

        func storedSequences() async throws -> [Int] {
            try await store.events(sessionID: log.latest.id, after: 0).map(\.sequence)
        }

        func waitForWriteInFlight() async -> Bool {
            await TestEnvironment.waitUntilAsync { store.writesInFlight == 1 }
        }
    }

    @Test func eventsEmittedDuringAWriteAreStoredTogetherAndPublishedOnlyOnceStored() async throws {
        let fixture = try await Fixture("batch")
        defer { fixture.directory.remove() }
        let log = fixture.log
        let (_, stream) = await log.subscribe()
        fixture.store.hold()
        try await log.emit(fixture.notice("one"))
        #expect(await fixture.waitForWriteInFlight())
        for text in ["two", "three", "four"] { try await log.emit(fixture.notice(text)) }
        try await log.emit(.credentialResolved(.init(reference: "env://DB", provider: "env")), audit: [fixture.audit(.resolved)])

        // Sequenced at once, but neither stored nor visible to readers yet.
        #expect(await log.latest.lastSequence == 6)
        #expect(await log.record.lastSequence == 1)
        #expect(try await fixture.storedSequences() == [1])

        fixture.store.release()
        try await log.flush()
        #expect(fixture.store.writes == [[2], [3, 4, 5, 6]], "what piled up during the first write went in one transaction")
        #expect(try await fixture.storedSequences() == [1, 2, 3, 4, 5, 6])
        #expect(try await fixture.store.audit(sessionID: "s").map(\.action) == [.resolved], "the audit row is stored with its event")
        #expect(await log.record.lastSequence == 6)
        var published: [Int] = []
        for await event in stream {
            published.append(event.sequence)
            if published.count == 5 { break }
        }
        #expect(published == [2, 3, 4, 5, 6])
    }

    @Test func appendReturnsOnlyOnceItsEventIsStored() async throws {
        let fixture = try await Fixture("durable")
        defer { fixture.directory.remove() }
        fixture.store.hold()
        let append = Task { try await fixture.log.append(fixture.notice("must be durable")) }
        #expect(await fixture.waitForWriteInFlight())
        try await Task.sleep(for: .milliseconds(50))
        #expect(try await fixture.storedSequences() == [1])
        fixture.store.release()
        let event = try await append.value
        #expect(event.sequence == 2)
        #expect(try await fixture.storedSequences() == [1, 2])
    }

    @Test func aFailedWriteClosesTheLogAndPublishesNothingUnstored() async throws {
        let fixture = try await Fixture("fail")
        defer { fixture.directory.remove() }
        let log = fixture.log
        let (_, stream) = await log.subscribe()
        fixture.store.failNextWrite()
        await #expect(throws: GatedStore.InjectedFailure.self) { try await log.append(fixture.notice("lost")) }
        await #expect(throws: GatedStore.InjectedFailure.self) { try await log.emit(fixture.notice("after")) }
        #expect(await log.record.lastSequence == 1)
        #expect(try await fixture.storedSequences() == [1])
        await log.closeForShutdown()
        var published: [SessionEvent] = []
        for await event in stream { published.append(event) }
        #expect(published.isEmpty)
    }

    @Test func aLostLeaseWritesNothingMoreAndAShutdownFlushesFirst() async throws {
        let lost = try await Fixture("lost")
        defer { lost.directory.remove() }
        lost.store.hold()
        try await lost.log.emit(lost.notice("in flight"))
        #expect(await lost.waitForWriteInFlight())
        try await lost.log.emit(lost.notice("queued"))
        let waiting = Task { try await lost.log.flush() }
        let handOver = Task { await lost.log.handOver() }
        await handOver.value
        lost.store.release()
        await #expect(throws: SessionHandedOver.self) { try await waiting.value }
        #expect(await TestEnvironment.waitUntilAsync { lost.store.writes.count == 1 })
        try await Task.sleep(for: .milliseconds(50))
        #expect(try await lost.storedSequences() == [1, 2], "the write already in flight lands; the queued event is dropped")

        let stopping = try await Fixture("stopping")
        defer { stopping.directory.remove() }
        stopping.store.hold()
        try await stopping.log.emit(stopping.notice("in flight"))
        #expect(await stopping.waitForWriteInFlight())
        try await stopping.log.emit(stopping.notice("queued"))
        let flushing = Task { await stopping.log.handOver(flushing: true) }
        stopping.store.release()
        await flushing.value
        #expect(try await stopping.storedSequences() == [1, 2, 3])
    }
}
