import DiagnosisModel
import Foundation
import Logging
import NIOCore
import NIOSSL
import PostgresNIO

/// ``SessionStore`` (with the outbox and the alert intake) on PostgreSQL, so several daemons can
/// share one store. Same semantics as ``SQLiteSessionStore`` — the contract suite runs both:
/// events are appended in one transaction with the session's state (persist before publish), the
/// audit is append-only (a trigger refuses updates and deletes), and the schema is migrated once,
/// under an advisory lock, however many daemons start together.
public final class PostgresSessionStore: SessionStore, NotificationOutbox, AlertIntakeStore, Sendable {
    public struct Settings: Sendable {
        public var host: String
        public var port: Int
        public var database: String
        public var user: String
        public var password: String?
        public var tls: Bool
        /// PEM roots that sign the server's certificate (else the system's).
        public var caFile: String?

        public init(host: String, port: Int = 5432, database: String, user: String, password: String?, tls: Bool = false, caFile: String? = nil) {
            self.host = host
            self.port = port
            self.database = database
            self.user = user
            self.password = password
            self.tls = tls
            self.caFile = caFile
        }

        func tlsConfiguration() -> PostgresClient.Configuration.TLS {
            guard tls else { return .disable }
            var configuration = TLSConfiguration.makeClientConfiguration()
            if let caFile { configuration.trustRoots = .file(caFile) }
            return .require(configuration)
        }
    }

    let client: PostgresClient
    private let runner: Task<Void, Never>
    let logger: Logger

    /// Connects, and migrates the schema (once, whoever gets the lock first).
    public init(settings: Settings, logger: Logger = Logger(label: "sre-diagnose.store")) async throws {
        var configuration = PostgresClient.Configuration(
            host: settings.host, port: settings.port, username: settings.user, password: settings.password, database: settings.database,
            tls: settings.tlsConfiguration()
        )
        configuration.options.maximumConnections = 8
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.logger = logger
        runner = Task { await client.run() }
        do {
            try await Self.migrate(client, logger: logger)
        } catch {
            runner.cancel()
            throw error
        }
    }

    deinit { runner.cancel() }

    /// Stops the connection pool.
    public func close() { runner.cancel() }

    static let lockKey: Int64 = 0x5245_4449_4147 // "REDIAG"

    static let migrations: [[String]] = [
        [
            "CREATE TABLE sessions (id TEXT PRIMARY KEY, status TEXT NOT NULL, created_us BIGINT NOT NULL, updated_at DOUBLE PRECISION NOT NULL, record TEXT NOT NULL)",
            "CREATE INDEX sessions_created ON sessions (created_us DESC, id DESC)",
            "CREATE INDEX sessions_status ON sessions (status)",
            "CREATE TABLE events (session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE, seq INTEGER NOT NULL, type TEXT NOT NULL, at DOUBLE PRECISION NOT NULL, event TEXT NOT NULL, PRIMARY KEY (session_id, seq))",
            "CREATE INDEX events_type ON events (session_id, type, seq)",
            "CREATE TABLE findings (session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE, id TEXT NOT NULL, seq INTEGER NOT NULL, domain TEXT NOT NULL, code TEXT NOT NULL, severity TEXT NOT NULL, finding TEXT NOT NULL, PRIMARY KEY (session_id, id))",
            "CREATE TABLE approvals (id BIGSERIAL PRIMARY KEY, session_id TEXT NOT NULL, request_id TEXT, action TEXT NOT NULL, actor TEXT NOT NULL, at DOUBLE PRECISION NOT NULL, entry TEXT NOT NULL)",
            "CREATE INDEX approvals_session ON approvals (session_id, id)",
            "CREATE FUNCTION sre_approvals_append_only() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'approvals audit is append-only'; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER approvals_append_only BEFORE UPDATE OR DELETE ON approvals FOR EACH ROW EXECUTE FUNCTION sre_approvals_append_only()",
            "CREATE TABLE intake (id BIGSERIAL PRIMARY KEY, received_at DOUBLE PRECISION NOT NULL, group_key TEXT NOT NULL, state TEXT NOT NULL, session_id TEXT, record TEXT NOT NULL, payload BYTEA, outcome TEXT)",
            "CREATE INDEX intake_pending ON intake (state, id)",
            "CREATE INDEX intake_group ON intake (group_key, id)",
            "CREATE TABLE outbox (id BIGSERIAL PRIMARY KEY, delivery_id TEXT NOT NULL UNIQUE, sink TEXT NOT NULL, kind TEXT NOT NULL, session_id TEXT NOT NULL, body TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL, attempts INTEGER NOT NULL, next_at DOUBLE PRECISION NOT NULL, state TEXT NOT NULL, last_error TEXT)",
            "CREATE INDEX outbox_pending ON outbox (sink, state, id)",
        ],
        [
            // No foreign key: a daemon takes the lease before it creates the session, so no
            // other daemon ever sees the new session without an owner.
            "CREATE TABLE session_leases (session_id TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at DOUBLE PRECISION NOT NULL)",
            "CREATE TABLE session_commands (id BIGSERIAL PRIMARY KEY, session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE, kind TEXT NOT NULL, body TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL, answer TEXT)",
            "CREATE INDEX session_commands_open ON session_commands (session_id, id) WHERE answer IS NULL",
        ],
    ]

    /// The NOTIFY channel of ``CoordinationWakeUp``s.
    static let channel = "sre_diagnose"

    /// Applies the migrations not yet applied, in one transaction holding an advisory lock: the
    /// daemons that start together wait for the first, then find nothing left to do.
    static func migrate(_ client: PostgresClient, logger: Logger) async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(lockKey))", logger: logger)
            try await connection.query("CREATE TABLE IF NOT EXISTS sre_schema (version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)", logger: logger)
            var current = 0
            for try await version in try await connection.query("SELECT COALESCE(MAX(version), 0) FROM sre_schema", logger: logger).decode(Int.self) {
                current = version
            }
            for (index, statements) in migrations.enumerated() where index + 1 > current {
                for statement in statements { try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
                try await connection.query("INSERT INTO sre_schema (version, applied_at) VALUES (\(index + 1), \(Date().timeIntervalSince1970))", logger: logger)
            }
        }
    }

    /// Schema versions applied (the contract suite checks that concurrent starts migrate once).
    public func schemaVersions() async throws -> [Int] {
        var versions: [Int] = []
        for try await version in try await client.query("SELECT version FROM sre_schema ORDER BY version", logger: logger).decode(Int.self) {
            versions.append(version)
        }
        return versions
    }

    private static func json(_ value: some Encodable) throws -> String { try StoredJSON.text(value) }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T { try StoredJSON.decode(type, text) }

    func strings(_ query: PostgresQuery) async throws -> [String] {
        var result: [String] = []
        for try await value in try await client.query(query, logger: logger).decode(String.self) { result.append(value) }
        return result
    }

    // MARK: Sessions and events

    private static func save(_ record: SessionRecord, on connection: PostgresConnection, logger: Logger) async throws {
        let created = Int64((record.createdAt.timeIntervalSince1970 * 1_000_000).rounded())
        let text = try json(record)
        try await connection.query("""
            INSERT INTO sessions (id, status, created_us, updated_at, record) VALUES (\(record.id), \(record.status.rawValue), \(created), \(record.updatedAt.timeIntervalSince1970), \(text))
            ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, updated_at = EXCLUDED.updated_at, record = EXCLUDED.record
            """, logger: logger)
    }

    private static func insert(_ event: SessionEvent, on connection: PostgresConnection, logger: Logger) async throws {
        let text = try json(event)
        try await connection.query(
            "INSERT INTO events (session_id, seq, type, at, event) VALUES (\(event.sessionID), \(event.sequence), \(event.type), \(event.at.timeIntervalSince1970), \(text))",
            logger: logger
        )
        if case .finding(let finding) = event.body {
            let findingText = try json(finding)
            try await connection.query("""
                INSERT INTO findings (session_id, id, seq, domain, code, severity, finding) VALUES (\(event.sessionID), \(finding.id), \(event.sequence), \(finding.domain.rawValue), \(finding.code), \(finding.severity.rawValue), \(findingText))
                ON CONFLICT (session_id, id) DO UPDATE SET seq = EXCLUDED.seq, finding = EXCLUDED.finding
                """, logger: logger)
        }
    }

    public func create(_ record: SessionRecord, firstEvent: SessionEvent) async throws {
        let logger = self.logger
        try await client.withTransaction(logger: logger) { connection in
            try await Self.save(record, on: connection, logger: logger)
            try await Self.insert(firstEvent, on: connection, logger: logger)
            try await Self.notify(.events(sessionID: record.id), on: connection, logger: logger)
        }
    }

    /// Queued with the transaction: delivered to every listener when it commits, never before.
    static func notify(_ wakeUp: CoordinationWakeUp, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("SELECT pg_notify(\(channel), \(wakeUp.payload))", logger: logger)
    }

    public func append(_ write: LogWrite) async throws {
        let logger = self.logger
        try await client.withTransaction(logger: logger) { connection in
            for event in write.events { try await Self.insert(event, on: connection, logger: logger) }
            try await Self.save(write.record, on: connection, logger: logger)
            try await Self.notify(.events(sessionID: write.record.id), on: connection, logger: logger)
            for entry in write.audit { try await Self.insert(entry, on: connection, logger: logger) }
            for entry in write.outbox {
                try await connection.query("""
                    INSERT INTO outbox (delivery_id, sink, kind, session_id, body, created_at, attempts, next_at, state, last_error)
                    VALUES (\(entry.deliveryID), \(entry.sink), \(entry.kind), \(entry.sessionID), \(entry.body), \(entry.createdAt.timeIntervalSince1970), 0, \(entry.nextAttemptAt.timeIntervalSince1970), 'pending', NULL)
                    """, logger: logger)
            }
        }
    }

    public func session(id: String) async throws -> SessionRecord? {
        try await strings("SELECT record FROM sessions WHERE id = \(id)").first.map { try Self.decode(SessionRecord.self, $0) }
    }

    public func sessions(status: SessionStatus?, limit: Int, before cursor: String?) async throws -> (records: [SessionRecord], nextCursor: String?) {
        var sql = "SELECT created_us, id, record FROM sessions"
        var bindings = PostgresBindings()
        var conditions: [String] = []
        if let status {
            bindings.append(status.rawValue)
            conditions.append("status = $\(bindings.count)")
        }
        if let cursor, let (created, id) = SQLiteSessionStore.parseCursor(cursor) {
            bindings.append(created)
            let createdIndex = bindings.count
            bindings.append(id)
            conditions.append("(created_us < $\(createdIndex) OR (created_us = $\(createdIndex) AND id < $\(bindings.count)))")
        }
        if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
        sql += " ORDER BY created_us DESC, id DESC LIMIT \(limit + 1)"
        var rows: [(Int64, String, String)] = []
        for try await row in try await client.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger).decode((Int64, String, String).self) {
            rows.append(row)
        }
        var records: [SessionRecord] = []
        var next: String?
        for (index, row) in rows.enumerated() {
            if index == limit {
                if let last = rows.dropLast().last { next = SQLiteSessionStore.makeCursor(created: last.0, id: last.1) }
                break
            }
            records.append(try Self.decode(SessionRecord.self, row.2))
        }
        return (records, next)
    }

    public func events(sessionID: String, after: Int) async throws -> [SessionEvent] {
        try await strings("SELECT event FROM events WHERE session_id = \(sessionID) AND seq > \(after) ORDER BY seq").map { try Self.decode(SessionEvent.self, $0) }
    }

    public func findings(sessionID: String) async throws -> [Finding] {
        try await strings("SELECT finding FROM findings WHERE session_id = \(sessionID) ORDER BY seq").map { try Self.decode(Finding.self, $0) }
    }

    public func latestEvent(sessionID: String, type: String) async throws -> SessionEvent? {
        try await strings("SELECT event FROM events WHERE session_id = \(sessionID) AND type = \(type) ORDER BY seq DESC LIMIT 1").first.map { try Self.decode(SessionEvent.self, $0) }
    }

    public func appendAudit(_ entry: AuditEntry) async throws {
        let logger = self.logger
        try await client.withConnection { connection in try await Self.insert(entry, on: connection, logger: logger) }
    }

    static func insert(_ entry: AuditEntry, on connection: PostgresConnection, logger: Logger) async throws {
        let text = try json(entry)
        try await connection.query(
            "INSERT INTO approvals (session_id, request_id, action, actor, at, entry) VALUES (\(entry.sessionID), \(entry.requestID), \(entry.action.rawValue), \(entry.actor), \(entry.at.timeIntervalSince1970), \(text))",
            logger: logger
        )
    }

    public func audit(sessionID: String) async throws -> [AuditEntry] {
        try await strings("SELECT entry FROM approvals WHERE session_id = \(sessionID) ORDER BY id").map { try Self.decode(AuditEntry.self, $0) }
    }

    static var terminalList: String {
        SessionStatus.allCases.filter(\.isTerminal).map { "'\($0.rawValue)'" }.joined(separator: ",")
    }

    public func unfinishedSessions() async throws -> [SessionRecord] {
        try await strings(PostgresQuery(unsafeSQL: "SELECT record FROM sessions WHERE status NOT IN (\(Self.terminalList)) ORDER BY created_us"))
            .map { try Self.decode(SessionRecord.self, $0) }
    }

    public func prune(updatedBefore cutoff: Date) async throws -> Int {
        let logger = self.logger
        let before = cutoff.timeIntervalSince1970
        return try await client.withTransaction(logger: logger) { connection in
            var removed = 0
            for try await count in try await connection.query(
                PostgresQuery(unsafeSQL: "WITH gone AS (DELETE FROM sessions WHERE status IN (\(Self.terminalList)) AND updated_at < $1 RETURNING 1) SELECT count(*) FROM gone", binds: {
                    var bindings = PostgresBindings()
                    bindings.append(before)
                    return bindings
                }()),
                logger: logger
            ).decode(Int.self) { removed = count }
            try await connection.query("DELETE FROM outbox WHERE state <> 'pending' AND created_at < \(before)", logger: logger)
            try await connection.query("DELETE FROM intake WHERE state = 'processed' AND received_at < \(before)", logger: logger)
            try await connection.query(PostgresQuery(unsafeSQL: "DELETE FROM session_leases l WHERE l.expires_at < \(Self.now) AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = l.session_id)"), logger: logger)
            return removed
        }
    }

    /// The server holds the caches; the client's buffers are not counted.
    public var memoryInUse: Int? { nil }

    public func countsByStatus() async throws -> [SessionStatus: Int] {
        var counts: [SessionStatus: Int] = [:]
        for try await (status, count) in try await client.query("SELECT status, count(*) FROM sessions GROUP BY status", logger: logger).decode((String, Int).self) {
            if let status = SessionStatus(rawValue: status) { counts[status] = count }
        }
        return counts
    }

    // MARK: Outbox

    private func outboxEntries(_ query: PostgresQuery) async throws -> [OutboxEntry] {
        var entries: [OutboxEntry] = []
        let rows = try await client.query(query, logger: logger)
        for try await (id, deliveryID, sink, kind, sessionID, body, createdAt, attempts, nextAt, state, lastError) in rows.decode(
            (Int64, String, String, String, String, String, Double, Int, Double, String, String?).self
        ) {
            var entry = OutboxEntry(deliveryID: deliveryID, sink: sink, kind: kind, sessionID: sessionID, body: body, createdAt: Date(timeIntervalSince1970: createdAt))
            entry.id = id
            entry.attempts = attempts
            entry.nextAttemptAt = Date(timeIntervalSince1970: nextAt)
            entry.state = OutboxEntry.State(rawValue: state) ?? .pending
            entry.lastError = lastError
            entries.append(entry)
        }
        return entries
    }

    static let outboxColumns = "id, delivery_id, sink, kind, session_id, body, created_at, attempts, next_at, state, last_error"

    public func nextPending(sink: String) async throws -> OutboxEntry? {
        var bindings = PostgresBindings()
        bindings.append(sink)
        return try await outboxEntries(PostgresQuery(unsafeSQL: "SELECT \(Self.outboxColumns) FROM outbox WHERE sink = $1 AND state = 'pending' ORDER BY id LIMIT 1", binds: bindings)).first
    }

    public func markDelivered(_ id: Int64) async throws {
        try await client.query("UPDATE outbox SET state = 'delivered', attempts = attempts + 1, last_error = NULL WHERE id = \(id)", logger: logger)
    }

    public func reschedule(_ id: Int64, attempts: Int, next: Date, error: String) async throws {
        try await client.query("UPDATE outbox SET attempts = \(attempts), next_at = \(next.timeIntervalSince1970), last_error = \(error) WHERE id = \(id)", logger: logger)
    }

    public func giveUp(_ id: Int64, attempts: Int, error: String) async throws {
        try await client.query("UPDATE outbox SET state = 'gave_up', attempts = \(attempts), last_error = \(error) WHERE id = \(id)", logger: logger)
    }

    public func outbox(sessionID: String) async throws -> [OutboxEntry] {
        var bindings = PostgresBindings()
        bindings.append(sessionID)
        return try await outboxEntries(PostgresQuery(unsafeSQL: "SELECT \(Self.outboxColumns) FROM outbox WHERE session_id = $1 ORDER BY id", binds: bindings))
    }

    // MARK: Alert intake

    public func saveIntake(_ record: IntakeRecord, payload: Data) async throws -> Int64 {
        let text = try Self.json(record)
        let bytes = ByteBuffer(bytes: payload)
        var id: Int64 = 0
        for try await value in try await client.query(
            "INSERT INTO intake (received_at, group_key, state, record, payload) VALUES (\(record.receivedAt.timeIntervalSince1970), \(record.groupKey), 'pending', \(text), \(bytes)) RETURNING id",
            logger: logger
        ).decode(Int64.self) { id = value }
        return id
    }

    private func intakeRecords(_ query: PostgresQuery) async throws -> [(record: IntakeRecord, payload: Data)] {
        var result: [(IntakeRecord, Data)] = []
        for try await (id, state, text, payload, outcome) in try await client.query(query, logger: logger).decode((Int64, String, String, ByteBuffer?, String?).self) {
            var record = try Self.decode(IntakeRecord.self, text)
            record.id = id
            record.state = IntakeRecord.State(rawValue: state) ?? .pending
            if let outcome { record.outcome = try Self.decode(IntakeOutcome.self, outcome) }
            result.append((record, payload.map { Data($0.readableBytesView) } ?? Data()))
        }
        return result
    }

    public func pendingIntake() async throws -> [(record: IntakeRecord, payload: Data)] {
        try await intakeRecords("SELECT id, state, record, payload, outcome FROM intake WHERE state = 'pending' ORDER BY id")
    }

    public func completeIntake(_ id: Int64, outcome: IntakeOutcome) async throws {
        let text = try Self.json(outcome)
        try await client.query("UPDATE intake SET state = 'processed', payload = NULL, outcome = \(text), session_id = \(outcome.sessionID) WHERE id = \(id)", logger: logger)
    }

    public func recentIntake(limit: Int) async throws -> [IntakeRecord] {
        try await intakeRecords("SELECT id, state, record, NULL::bytea, outcome FROM intake ORDER BY id DESC LIMIT \(limit)").map(\.record)
    }

    public func sessionsStarted(since: Date) async throws -> [(sessionID: String, route: String?)] {
        var result: [(sessionID: String, route: String?)] = []
        let rows = try await client.query("""
            SELECT session_id, outcome::jsonb->>'route' FROM intake
            WHERE state = 'processed' AND received_at >= \(since.timeIntervalSince1970) AND session_id IS NOT NULL AND outcome::jsonb->>'kind' = 'started'
            ORDER BY id DESC
            """, logger: logger)
        for try await (session, route) in rows.decode((String, String?).self) { result.append((session, route)) }
        return result
    }

    public func latestSession(groupKey: String, since: Date) async throws -> String? {
        try await strings("""
            SELECT session_id FROM intake WHERE group_key = \(groupKey) AND state = 'processed' AND session_id IS NOT NULL AND received_at >= \(since.timeIntervalSince1970)
            ORDER BY id DESC LIMIT 1
            """).first
    }
}

extension Duration {
    /// Whole and fractional seconds.
    var seconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) / 1e18
    }
}
