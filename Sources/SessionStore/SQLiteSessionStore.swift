import DiagnosisModel
import Foundation
import GRDB
import GRDBSQLite

/// ``SessionStore`` on SQLite (GRDB, WAL mode) in the state directory.
public final class SQLiteSessionStore: SessionStore, NotificationOutbox, AlertIntakeStore {
    private let pool: DatabasePool
    public let path: String

    /// Opens (creating if needed) `sessions.sqlite` in `directory` and migrates it.
    public init(directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        path = "\(directory)/sessions.sqlite"
        // Private whatever the umask: SQLite creates -wal and -shm with the database's mode.
        for file in [path, "\(path)-wal", "\(path)-shm"] {
            let fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            if fd >= 0 {
                _ = fchmod(fd, 0o600)
                close(fd)
            }
        }
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(10)
        // Page caches are bounded (256 KiB per connection, three readers): the default 2 MiB per
        // connection × five readers grows the daemon's memory as the database grows. A miss is a
        // read from the kernel's page cache, and in WAL mode every commit by the writer makes the
        // readers re-read what changed anyway; the soak filled 1 MiB caches for no measurable gain.
        configuration.maximumReaderCount = 3
        configuration.prepareDatabase { db in
            // WAL + NORMAL: a commit survives a daemon crash (kill -9); only an OS crash can lose
            // the last transactions.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            try db.execute(sql: "PRAGMA cache_size = -256")
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        _ = chmod(path, 0o600)
        try Self.migrator.migrate(pool)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: sessions, events, findings, approvals") { db in
            try db.execute(sql: """
                CREATE TABLE sessions (
                    id TEXT PRIMARY KEY NOT NULL,
                    status TEXT NOT NULL,
                    created_us INTEGER NOT NULL,
                    updated_at REAL NOT NULL,
                    record TEXT NOT NULL
                );
                CREATE INDEX sessions_created ON sessions(created_us DESC, id DESC);
                CREATE INDEX sessions_status ON sessions(status);
                CREATE TABLE events (
                    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                    seq INTEGER NOT NULL,
                    type TEXT NOT NULL,
                    at REAL NOT NULL,
                    event TEXT NOT NULL,
                    PRIMARY KEY (session_id, seq)
                ) WITHOUT ROWID;
                CREATE TABLE findings (
                    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                    id TEXT NOT NULL,
                    seq INTEGER NOT NULL,
                    domain TEXT NOT NULL,
                    code TEXT NOT NULL,
                    severity TEXT NOT NULL,
                    finding TEXT NOT NULL,
                    PRIMARY KEY (session_id, id)
                ) WITHOUT ROWID;
                CREATE TABLE approvals (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    session_id TEXT NOT NULL,
                    request_id TEXT,
                    action TEXT NOT NULL,
                    actor TEXT NOT NULL,
                    at REAL NOT NULL,
                    entry TEXT NOT NULL
                );
                CREATE INDEX approvals_session ON approvals(session_id, id);
                CREATE INDEX events_type ON events(session_id, type, seq);
                -- The audit is append-only.
                CREATE TRIGGER approvals_no_update BEFORE UPDATE ON approvals
                    BEGIN SELECT RAISE(ABORT, 'approvals audit is append-only'); END;
                CREATE TRIGGER approvals_no_delete BEFORE DELETE ON approvals
                    BEGIN SELECT RAISE(ABORT, 'approvals audit is append-only'); END;
                """)
        }
        migrator.registerMigration("v2: alert intake and notification outbox") { db in
            try db.execute(sql: """
                CREATE TABLE intake (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    received_at REAL NOT NULL,
                    group_key TEXT NOT NULL,
                    state TEXT NOT NULL,
                    session_id TEXT,
                    record TEXT NOT NULL,
                    payload BLOB,
                    outcome TEXT
                );
                CREATE INDEX intake_pending ON intake(state, id);
                CREATE INDEX intake_group ON intake(group_key, id);
                CREATE TABLE outbox (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    delivery_id TEXT NOT NULL UNIQUE,
                    sink TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    session_id TEXT NOT NULL,
                    body TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    attempts INTEGER NOT NULL,
                    next_at REAL NOT NULL,
                    state TEXT NOT NULL,
                    last_error TEXT
                );
                CREATE INDEX outbox_pending ON outbox(sink, state, id);
                """)
        }
        return migrator
    }

    private static func json(_ value: some Encodable) throws -> String { try StoredJSON.text(value) }

    private static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T { try StoredJSON.decode(type, text) }

    /// A session's state and events, encoded before the write transaction starts: the writer
    /// holds SQLite's lock only for the statements (prepared once per connection).
    private struct Encoded: Sendable {
        struct Event: Sendable {
            let event: SessionEvent
            let json: String
            let findingJSON: String?
        }

        let record: SessionRecord
        let recordJSON: String
        let events: [Event]

        init(_ record: SessionRecord, _ events: [SessionEvent]) throws {
            self.record = record
            recordJSON = try SQLiteSessionStore.json(record)
            self.events = try events.map { event in
                let findingJSON: String? = if case .finding(let finding) = event.body { try SQLiteSessionStore.json(finding) } else { nil }
                return Event(event: event, json: try SQLiteSessionStore.json(event), findingJSON: findingJSON)
            }
        }
    }

    private static func save(_ encoded: Encoded, in db: Database) throws {
        let record = encoded.record
        try db.cachedStatement(sql: """
            INSERT INTO sessions (id, status, created_us, updated_at, record) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT(id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at, record = excluded.record
            """).execute(arguments: [
                record.id, record.status.rawValue, Int64((record.createdAt.timeIntervalSince1970 * 1_000_000).rounded()), record.updatedAt.timeIntervalSince1970, encoded.recordJSON,
            ])
    }

    private static func insert(_ encoded: Encoded.Event, in db: Database) throws {
        let event = encoded.event
        try db.cachedStatement(sql: "INSERT INTO events (session_id, seq, type, at, event) VALUES (?, ?, ?, ?, ?)")
            .execute(arguments: [event.sessionID, event.sequence, event.type, event.at.timeIntervalSince1970, encoded.json])
        if case .finding(let finding) = event.body, let findingJSON = encoded.findingJSON {
            try db.cachedStatement(sql: "INSERT OR REPLACE INTO findings (session_id, id, seq, domain, code, severity, finding) VALUES (?, ?, ?, ?, ?, ?, ?)")
                .execute(arguments: [event.sessionID, finding.id, event.sequence, finding.domain.rawValue, finding.code, finding.severity.rawValue, findingJSON])
        }
    }

    public func create(_ record: SessionRecord, firstEvent: SessionEvent) async throws {
        let encoded = try Encoded(record, [firstEvent])
        try await pool.write { db in
            try Self.save(encoded, in: db)
            for event in encoded.events { try Self.insert(event, in: db) }
        }
    }

    public func append(_ write: LogWrite) async throws {
        let encoded = try Encoded(write.record, write.events)
        let audit = try write.audit.map { ($0, try Self.json($0)) }
        try await pool.write { db in
            for event in encoded.events { try Self.insert(event, in: db) }
            try Self.save(encoded, in: db)
            for entry in write.outbox { try Self.insert(entry, in: db) }
            for (entry, json) in audit { try Self.insert(entry, json: json, in: db) }
        }
    }

    // MARK: Outbox

    private static func insert(_ entry: OutboxEntry, in db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO outbox (delivery_id, sink, kind, session_id, body, created_at, attempts, next_at, state, last_error)
                VALUES (?, ?, ?, ?, ?, ?, 0, ?, 'pending', NULL)
                """,
            arguments: [entry.deliveryID, entry.sink, entry.kind, entry.sessionID, entry.body, entry.createdAt.timeIntervalSince1970, entry.nextAttemptAt.timeIntervalSince1970]
        )
    }

    private static func outboxEntry(_ row: Row) -> OutboxEntry {
        var entry = OutboxEntry(
            deliveryID: row["delivery_id"], sink: row["sink"], kind: row["kind"], sessionID: row["session_id"], body: row["body"],
            createdAt: Date(timeIntervalSince1970: row["created_at"])
        )
        entry.id = row["id"]
        entry.attempts = row["attempts"]
        entry.nextAttemptAt = Date(timeIntervalSince1970: row["next_at"])
        entry.state = OutboxEntry.State(rawValue: row["state"]) ?? .pending
        entry.lastError = row["last_error"]
        return entry
    }

    public func nextPending(sink: String) async throws -> OutboxEntry? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM outbox WHERE sink = ? AND state = 'pending' ORDER BY id LIMIT 1", arguments: [sink]).map(Self.outboxEntry)
        }
    }

    public func markDelivered(_ id: Int64) async throws {
        try await pool.write { db in try db.execute(sql: "UPDATE outbox SET state = 'delivered', attempts = attempts + 1, last_error = NULL WHERE id = ?", arguments: [id]) }
    }

    public func reschedule(_ id: Int64, attempts: Int, next: Date, error: String) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE outbox SET attempts = ?, next_at = ?, last_error = ? WHERE id = ?", arguments: [attempts, next.timeIntervalSince1970, error, id])
        }
    }

    public func giveUp(_ id: Int64, attempts: Int, error: String) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE outbox SET state = 'gave_up', attempts = ?, last_error = ? WHERE id = ?", arguments: [attempts, error, id])
        }
    }

    public func outbox(sessionID: String) async throws -> [OutboxEntry] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM outbox WHERE session_id = ? ORDER BY id", arguments: [sessionID]).map(Self.outboxEntry)
        }
    }

    // MARK: Alert intake

    public func saveIntake(_ record: IntakeRecord, payload: Data) async throws -> Int64 {
        try await pool.write { db in
            try db.execute(
                sql: "INSERT INTO intake (received_at, group_key, state, record, payload) VALUES (?, ?, 'pending', ?, ?)",
                arguments: [record.receivedAt.timeIntervalSince1970, record.groupKey, try Self.json(record), payload]
            )
            return db.lastInsertedRowID
        }
    }

    private static func intakeRecord(_ row: Row) throws -> IntakeRecord {
        var record = try decode(IntakeRecord.self, row["record"])
        record.id = row["id"]
        record.state = IntakeRecord.State(rawValue: row["state"]) ?? .pending
        if let outcome: String = row["outcome"] { record.outcome = try decode(IntakeOutcome.self, outcome) }
        return record
    }

    public func pendingIntake() async throws -> [(record: IntakeRecord, payload: Data)] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM intake WHERE state = 'pending' ORDER BY id").map { row in
                (try Self.intakeRecord(row), row["payload"] as Data? ?? Data())
            }
        }
    }

    public func completeIntake(_ id: Int64, outcome: IntakeOutcome) async throws {
        try await pool.write { db in
            // The body is not needed once processed (the record keeps the alerts).
            try db.execute(
                sql: "UPDATE intake SET state = 'processed', payload = NULL, outcome = ?, session_id = ? WHERE id = ?",
                arguments: [try Self.json(outcome), outcome.sessionID, id]
            )
        }
    }

    public func recentIntake(limit: Int) async throws -> [IntakeRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM intake ORDER BY id DESC LIMIT ?", arguments: [limit]).map(Self.intakeRecord)
        }
    }

    public func sessionsStarted(since: Date) async throws -> [(sessionID: String, route: String?)] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: """
                    SELECT session_id, json_extract(outcome, '$.route') AS route FROM intake
                    WHERE state = 'processed' AND received_at >= ? AND session_id IS NOT NULL AND json_extract(outcome, '$.kind') = 'started'
                    ORDER BY id DESC
                    """,
                arguments: [since.timeIntervalSince1970]
            ).map { (sessionID: $0["session_id"], route: $0["route"]) }
        }
    }

    public func latestSession(groupKey: String, since: Date) async throws -> String? {
        try await pool.read { db in
            try String.fetchOne(
                db, sql: "SELECT session_id FROM intake WHERE group_key = ? AND state = 'processed' AND session_id IS NOT NULL AND received_at >= ? ORDER BY id DESC LIMIT 1",
                arguments: [groupKey, since.timeIntervalSince1970]
            )
        }
    }

    public func session(id: String) async throws -> SessionRecord? {
        try await pool.read { db in
            try String.fetchOne(db, sql: "SELECT record FROM sessions WHERE id = ?", arguments: [id]).map { try Self.decode(SessionRecord.self, $0) }
        }
    }

    public func sessions(status: SessionStatus?, limit: Int, before cursor: String?) async throws -> (records: [SessionRecord], nextCursor: String?) {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let status {
            conditions.append("status = ?")
            _ = arguments.append(contentsOf: [status.rawValue])
        }
        if let cursor, let (created, id) = Self.parseCursor(cursor) {
            conditions.append("(created_us < ? OR (created_us = ? AND id < ?))")
            _ = arguments.append(contentsOf: [created, created, id])
        }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let sql = "SELECT created_us, id, record FROM sessions \(whereClause) ORDER BY created_us DESC, id DESC LIMIT \(limit + 1)"
        let frozenArguments = arguments
        let rows: [(created: Int64, id: String, record: String)] = try await pool.read { db in
            try Row.fetchAll(db, sql: sql, arguments: frozenArguments).map { ($0["created_us"], $0["id"], $0["record"]) }
        }
        var records: [SessionRecord] = []
        var next: String?
        for (index, row) in rows.enumerated() {
            if index == limit {
                if let last = rows.dropLast().last { next = Self.makeCursor(created: last.created, id: last.id) }
                break
            }
            records.append(try Self.decode(SessionRecord.self, row.record))
        }
        return (records, next)
    }

    /// `<created microseconds>-<session id>`: any such value is a valid position in the listing.
    static func makeCursor(created: Int64, id: String) -> String { "\(created)-\(id)" }

    static func parseCursor(_ cursor: String) -> (Int64, String)? {
        let parts = cursor.split(separator: "-", maxSplits: 1)
        guard parts.count == 2, parts[0].count <= 18, let created = Int64(parts[0]), !parts[1].isEmpty, parts[1].count <= 64,
              parts[1].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else { return nil }
        return (created, String(parts[1]))
    }

    /// Whether a cursor is well-formed (the API answers 400 otherwise).
    public static func isValidCursor(_ cursor: String) -> Bool { parseCursor(cursor) != nil }

    public func events(sessionID: String, after: Int) async throws -> [SessionEvent] {
        try await pool.read { db in
            try String.fetchAll(db, sql: "SELECT event FROM events WHERE session_id = ? AND seq > ? ORDER BY seq", arguments: [sessionID, after])
                .map { try Self.decode(SessionEvent.self, $0) }
        }
    }

    public func latestEvent(sessionID: String, type: String) async throws -> SessionEvent? {
        try await pool.read { db in
            try String.fetchOne(db, sql: "SELECT event FROM events WHERE session_id = ? AND type = ? ORDER BY seq DESC LIMIT 1", arguments: [sessionID, type])
                .map { try Self.decode(SessionEvent.self, $0) }
        }
    }

    public func findings(sessionID: String) async throws -> [Finding] {
        try await pool.read { db in
            try String.fetchAll(db, sql: "SELECT finding FROM findings WHERE session_id = ? ORDER BY seq", arguments: [sessionID])
                .map { try Self.decode(Finding.self, $0) }
        }
    }

    public func appendAudit(_ entry: AuditEntry) async throws {
        let json = try Self.json(entry)
        try await pool.write { db in try Self.insert(entry, json: json, in: db) }
    }

    private static func insert(_ entry: AuditEntry, json: String, in db: Database) throws {
        try db.cachedStatement(sql: "INSERT INTO approvals (session_id, request_id, action, actor, at, entry) VALUES (?, ?, ?, ?, ?, ?)")
            .execute(arguments: [entry.sessionID, entry.requestID, entry.action.rawValue, entry.actor, entry.at.timeIntervalSince1970, json])
    }

    public func audit(sessionID: String) async throws -> [AuditEntry] {
        try await pool.read { db in
            try String.fetchAll(db, sql: "SELECT entry FROM approvals WHERE session_id = ? ORDER BY id", arguments: [sessionID])
                .map { try Self.decode(AuditEntry.self, $0) }
        }
    }

    public func unfinishedSessions() async throws -> [SessionRecord] {
        let terminal = SessionStatus.allCases.filter(\.isTerminal).map { "'\($0.rawValue)'" }.joined(separator: ",")
        return try await pool.read { db in
            try String.fetchAll(db, sql: "SELECT record FROM sessions WHERE status NOT IN (\(terminal)) ORDER BY created_us")
                .map { try Self.decode(SessionRecord.self, $0) }
        }
    }

    public func prune(updatedBefore cutoff: Date) async throws -> Int {
        let terminal = SessionStatus.allCases.filter(\.isTerminal).map { "'\($0.rawValue)'" }.joined(separator: ",")
        let removed = try await pool.write { db in
            try db.execute(sql: "DELETE FROM sessions WHERE status IN (\(terminal)) AND updated_at < ?", arguments: [cutoff.timeIntervalSince1970])
            let sessions = db.changesCount
            try db.execute(sql: "DELETE FROM outbox WHERE state != 'pending' AND created_at < ?", arguments: [cutoff.timeIntervalSince1970])
            try db.execute(sql: "DELETE FROM intake WHERE state = 'processed' AND received_at < ?", arguments: [cutoff.timeIntervalSince1970])
            return sessions
        }
        if removed > 0 { try await compact() }
        return removed
    }

    /// Gives the space of deleted rows back to the file system (VACUUM), and empties the WAL.
    public func compact() async throws {
        try await pool.barrierWriteWithoutTransaction { db in
            try db.execute(sql: "VACUUM")
            try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
        }
    }

    /// SQLite's own allocations in this process (every connection's page cache, schema and
    /// prepared statements): the store's connections are the only SQLite ones the daemon opens.
    public var memoryInUse: Int? { Int(sqlite3_memory_used()) }

    public func countsByStatus() async throws -> [SessionStatus: Int] {
        let rows: [(String, Int)] = try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT status, COUNT(*) AS n FROM sessions GROUP BY status").map { ($0["status"], $0["n"]) }
        }
        var counts: [SessionStatus: Int] = [:]
        for (status, count) in rows {
            if let status = SessionStatus(rawValue: status) { counts[status] = count }
        }
        return counts
    }
}
