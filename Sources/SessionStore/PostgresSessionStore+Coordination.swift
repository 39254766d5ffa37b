import DiagnosisModel
import Foundation
import Logging
import NIOCore
import PostgresNIO

/// Leases, commands for a session's owner and wake-ups: what lets several daemons share the
/// PostgreSQL store (``SessionCoordination``).
extension PostgresSessionStore: SessionCoordination {
    /// The database's clock, in seconds: every daemon compares leases against the same clock.
    static let now = "extract(epoch from clock_timestamp())"

    public func acquireLease(sessionID: String, owner: String, duration: Duration) async throws -> Bool {
        var bindings = PostgresBindings()
        bindings.append(sessionID)
        bindings.append(owner)
        bindings.append(duration.seconds)
        let sql = """
            INSERT INTO session_leases (session_id, owner, expires_at) VALUES ($1, $2, \(Self.now) + $3)
            ON CONFLICT (session_id) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
            WHERE session_leases.owner = EXCLUDED.owner OR session_leases.expires_at < \(Self.now)
            RETURNING owner
            """
        return try await strings(PostgresQuery(unsafeSQL: sql, binds: bindings)) == [owner]
    }

    public func renewLeases(owner: String, sessionIDs: [String], duration: Duration) async throws -> [String] {
        guard !sessionIDs.isEmpty else { return [] }
        var bindings = PostgresBindings()
        bindings.append(owner)
        bindings.append(sessionIDs)
        bindings.append(duration.seconds)
        let sql = "UPDATE session_leases SET expires_at = \(Self.now) + $3 WHERE owner = $1 AND session_id = ANY($2) RETURNING session_id"
        let held = Set(try await strings(PostgresQuery(unsafeSQL: sql, binds: bindings)))
        return sessionIDs.filter { !held.contains($0) }
    }

    public func releaseLease(sessionID: String, owner: String) async throws {
        try await client.query("DELETE FROM session_leases WHERE session_id = \(sessionID) AND owner = \(owner)", logger: logger)
    }

    public func orphanedSessions() async throws -> [SessionRecord] {
        try await strings(PostgresQuery(unsafeSQL: """
            SELECT s.record FROM sessions s LEFT JOIN session_leases l ON l.session_id = s.id
            WHERE s.status NOT IN (\(Self.terminalList)) AND (l.session_id IS NULL OR l.expires_at < \(Self.now))
            ORDER BY s.created_us
            """)).map { try Self.decode(SessionRecord.self, $0) }
    }

    /// The single number a `SELECT count(*)` answers.
    private func count(_ sql: String, _ bindings: PostgresBindings) async throws -> Int {
        var count = 0
        for try await value in try await client.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger).decode(Int.self) { count = value }
        return count
    }

    public func unfinishedCount(requester: String?) async throws -> Int {
        var bindings = PostgresBindings()
        var sql = "SELECT count(*) FROM sessions WHERE status NOT IN (\(Self.terminalList))"
        if let requester {
            bindings.append(requester)
            sql += " AND record::json->>'requester' = $1"
        }
        return try await count(sql, bindings)
    }

    public func startedCount(since date: Date, requester: String?) async throws -> Int {
        var bindings = PostgresBindings()
        bindings.append(Int64((date.timeIntervalSince1970 * 1_000_000).rounded()))
        var sql = "SELECT count(*) FROM sessions WHERE created_us >= $1"
        if let requester {
            bindings.append(requester)
            sql += " AND record::json->>'requester' = $2"
        }
        return try await count(sql, bindings)
    }

    public func submit(_ command: SessionCommand) async throws -> Int64 {
        let logger = self.logger
        return try await client.withTransaction(logger: logger) { connection in
            var id: Int64 = 0
            for try await value in try await connection.query("""
                INSERT INTO session_commands (session_id, kind, body, created_at) VALUES (\(command.sessionID), \(command.kind), \(command.body), \(Date().timeIntervalSince1970))
                RETURNING id
                """, logger: logger).decode(Int64.self) { id = value }
            try await Self.notify(.command(sessionID: command.sessionID), on: connection, logger: logger)
            return id
        }
    }

    public func openCommands(sessionIDs: [String]) async throws -> [SessionCommand] {
        guard !sessionIDs.isEmpty else { return [] }
        var bindings = PostgresBindings()
        bindings.append(sessionIDs)
        var commands: [SessionCommand] = []
        let rows = try await client.query(
            PostgresQuery(unsafeSQL: "SELECT id, session_id, kind, body FROM session_commands WHERE answer IS NULL AND session_id = ANY($1) ORDER BY id", binds: bindings),
            logger: logger
        )
        for try await (id, sessionID, kind, body) in rows.decode((Int64, String, String, String).self) {
            var command = SessionCommand(sessionID: sessionID, kind: kind, body: body)
            command.id = id
            commands.append(command)
        }
        return commands
    }

    public func answer(_ commandID: Int64, with answer: String) async throws {
        let logger = self.logger
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("UPDATE session_commands SET answer = \(answer) WHERE id = \(commandID) AND answer IS NULL", logger: logger)
            try await Self.notify(.answer(commandID: commandID), on: connection, logger: logger)
        }
    }

    public func answer(of commandID: Int64) async throws -> String? {
        var answer: String?
        for try await value in try await client.query("SELECT answer FROM session_commands WHERE id = \(commandID)", logger: logger).decode(String?.self) {
            answer = value
        }
        return answer
    }

    public func listen(_ handler: @escaping @Sendable (CoordinationWakeUp) -> Void) async throws {
        try await client.withConnection { connection in
            try await connection.listen(on: Self.channel) { notifications in
                for try await notification in notifications {
                    if let wakeUp = CoordinationWakeUp(payload: notification.payload) { handler(wakeUp) }
                }
            }
        }
    }
}
