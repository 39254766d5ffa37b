import DiagnosisModel
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO

/// `db.postgres`: one PostgreSQL target, examined step by step — DNS, TCP, TLS, authentication —
/// then, on one read-only connection with a statement timeout: connection slots, lock
/// contention, idle-in-transaction sessions, long-running queries and replication lag.
///
/// Credentials come from the job (fields `username`/`user` and `password`/`value`).
public struct PostgresProbe: Probe {
    public static let name = "db.postgres"
    public init() {}

    static let allChecks = ["connections", "locks", "idle_in_transaction", "long_queries", "replication"]

    public func run(_ context: ProbeContext) async throws {
        guard let host = context.string("host") ?? HostPort.parse(context.target).map({ $0.0 }) else {
            throw ProbeError("db.postgres needs params.host")
        }
        let port = context.int("port") ?? HostPort.parse(context.target)?.1 ?? 5432
        let database = context.string("database") ?? "postgres"
        let name = context.string("name") ?? context.target
        let user = context.credential?.field("username", "user") ?? context.string("user") ?? "postgres"
        let password = context.credential?.field("password", "value")
        let tls = context.string("tls").flatMap(TLSMode.init(rawValue:)) ?? .prefer
        let connectTimeout = Duration.milliseconds(Int64((context.double("connect_timeout_s") ?? 5) * 1000))
        let where_ = "\(name) (\(host):\(port)/\(database))"

        // 1–2. DNS and TCP, each its own failure.
        let (resolved, tcp) = await Sockets.probeTCP(host: host, port: port, timeout: connectTimeout)
        switch tcp {
        case .failure(.dns(let reason)):
            await context.report(FindingDraft(
                code: .dbDNSFailure, severity: .critical, target: name,
                title: "\(name): \(host) does not resolve",
                detail: "The database host name cannot be resolved (\(reason)), so no client can connect.",
                evidence: [.text("getaddrinfo", reason)],
                remediation: "Check the DNS record for \(host) (dig \(host)), the resolver on the client hosts, and recent DNS changes.",
                tags: ["dns"]
            ))
            return
        case .failure(.refused):
            await context.report(FindingDraft(
                code: .dbUnreachable, severity: .critical, target: name,
                title: "\(name) refuses connections on port \(port)",
                detail: "\(host) answered but nothing accepts connections on \(port): PostgreSQL is down, restarting, or listening elsewhere.",
                evidence: [.text("address", resolved?.addresses.joined(separator: ", ") ?? host), .text("connect", "ECONNREFUSED")],
                remediation: "Check the server: systemctl status postgresql / pg_lsclusters, its log, listen_addresses and port.",
                tags: ["connection_refused"]
            ))
            return
        case .failure(.timedOut), .failure(.unreachable):
            let reason: String
            if case .failure(.unreachable(let text)) = tcp { reason = text } else { reason = "timed out after \(connectTimeout.milliseconds) ms" }
            await context.report(FindingDraft(
                code: .dbUnreachable, severity: .critical, target: name,
                title: "\(name) does not answer on \(host):\(port) (\(reason))",
                detail: "The TCP handshake did not complete: the host is down, overloaded, or a firewall/security group drops the traffic.",
                evidence: [.text("address", resolved?.addresses.joined(separator: ", ") ?? host), .text("connect", reason)],
                remediation: "Check the database host is up and that firewalls/security groups allow \(port) from the clients.",
                tags: ["timeout"]
            ))
            return
        case .success(let elapsed):
            await context.log(.info, "TCP to \(host):\(port) in \(elapsed.milliseconds) ms")
        }

        // 3–4. TLS and authentication.
        var configuration = PostgresConnection.Configuration(host: host, port: port, username: user, password: password, database: database, tls: try Self.tls(tls))
        configuration.options.connectTimeout = .milliseconds(Int64(connectTimeout.milliseconds))
        var logger = Logger(label: "db.postgres")
        logger.logLevel = .critical
        let connection: PostgresConnection
        let loginStarted = ContinuousClock.now
        do {
            connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
        } catch let error as PSQLError {
            await reportConnectFailure(error, context: context, name: name, user: user, database: database, tls: tls, where_: where_)
            return
        }
        // A slow login (an overloaded server forking backends, a slow auth method) shows here.
        await context.log(.info, "logged in to \(database) as \(user) in \((ContinuousClock.now - loginStarted).milliseconds) ms")
        let session = PostgresSession(connection: connection, logger: logger, statementTimeoutMs: Int((context.double("statement_timeout_s") ?? 5) * 1000))
        do {
            try await runChecks(context.strings("checks").isEmpty ? Self.allChecks : context.strings("checks"), session, context: context, name: name)
        } catch {
            try? await connection.close()
            throw error
        }
        await session.finish()
        // Closed before the probe ends (Terminate, then the socket): the server's backend ends
        // now, not while the daemon turns this runner's `done` into the report.
        try? await connection.close()
    }

    private func runChecks(_ checks: [String], _ session: PostgresSession, context: ProbeContext, name: String) async throws {
        for check in checks {
            do {
                switch check {
                case "connections": try await checkConnections(session, context: context, name: name)
                case "locks": try await checkLocks(session, context: context, name: name)
                case "idle_in_transaction": try await checkIdleInTransaction(session, context: context, name: name)
                case "long_queries": try await checkLongQueries(session, context: context, name: name)
                case "replication": try await checkReplication(session, context: context, name: name)
                default: await context.log(.warning, "unknown check \(check)")
                }
            } catch let error as PSQLError {
                await context.log(.warning, "\(check): \(Self.describe(error))")
            }
        }
    }

    static func tls(_ mode: TLSMode) throws -> PostgresConnection.Configuration.TLS {
        switch mode {
        case .disable:
            return .disable
        case .prefer, .require:
            // As libpq's sslmode=prefer/require: encrypt, do not verify the certificate.
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.certificateVerification = .none
            let context = try NIOSSLContext(configuration: tls)
            return mode == .prefer ? .prefer(context) : .require(context)
        }
    }

    static func describe(_ error: PSQLError) -> String {
        if let message = error.serverInfo?[.message] {
            return "\(error.serverInfo?[.sqlState] ?? "?"): \(message)"
        }
        if let underlying = error.underlying { return "\(underlying)" }
        return "\(error.code)"
    }

    private func reportConnectFailure(_ error: PSQLError, context: ProbeContext, name: String, user: String, database: String, tls: TLSMode, where_: String) async {
        let sqlState = error.serverInfo?[.sqlState]
        let message = error.serverInfo?[.message] ?? Self.describe(error)
        switch sqlState {
        case "28P01", "28000":
            await context.report(FindingDraft(
                code: .dbAuthFailed, severity: .critical, target: name,
                title: "\(name) rejects the login of \(user) (SQLSTATE \(sqlState ?? ""))",
                detail: sqlState == "28P01"
                    ? "Password authentication failed for \(user): the password the clients use is not the one the server has (a rotation that reached only one side?)."
                    : "The server refused \(user) (pg_hba.conf has no matching entry, or the role may not log in).",
                evidence: [.text("server", message), .text("login", "user \(user), database \(database)")],
                remediation: sqlState == "28P01"
                    ? "Compare the password in the secret store with the database role (ALTER ROLE \(user) PASSWORD …) and restart clients that cache it."
                    : "Check pg_hba.conf for \(user)@\(database) from this host, and that the role has LOGIN.",
                tags: ["auth"]
            ))
        case "53300":
            await context.report(FindingDraft(
                code: .dbConnectionsSaturated, severity: .critical, target: name,
                title: "\(name) has no free connection slots (too many clients)",
                detail: "The server refused a new connection with SQLSTATE 53300: every connection slot is taken. New client connections fail until some close.",
                evidence: [.text("server", message)],
                remediation: "Find who holds the connections (SELECT usename, application_name, client_addr, state, count(*) FROM pg_stat_activity GROUP BY 1,2,3,4), stop leaking pools, add a pooler (PgBouncer) or raise max_connections.",
                tags: ["too_many_clients"]
            ))
        case "57P03":
            await context.report(FindingDraft(
                code: .dbUnreachable, severity: .critical, target: name,
                title: "\(name) is not accepting connections (starting up, shutting down or in recovery)",
                detail: message, evidence: [.text("server", message)],
                remediation: "Check the server log for why it is starting/stopping; wait for recovery to finish.",
                tags: ["unavailable"]
            ))
        case .some(let state):
            await context.report(FindingDraft(
                code: .dbUnreachable, severity: .high, target: name,
                title: "\(name) refused the connection: \(message)",
                detail: "SQLSTATE \(state) while connecting to \(where_).", evidence: [.text("server", message)],
                remediation: "Check the database name, the role's permissions and the server log."
            ))
        case nil:
            let text = Self.describe(error)
            let tlsProblem = error.code == .sslUnsupported || text.lowercased().contains("ssl") || text.lowercased().contains("tls") || text.contains("handshake")
            await context.report(FindingDraft(
                code: tlsProblem ? .dbTLSError : .dbUnreachable, severity: .critical, target: name,
                title: tlsProblem ? "TLS with \(name) failed" : "Cannot connect to \(name): \(text)",
                detail: tlsProblem
                    ? "The TCP connection worked but the TLS negotiation did not (\(text)); sslmode is \(tls.rawValue)."
                    : "The connection to \(where_) failed after TCP: \(text).",
                evidence: [.text("error", text)],
                remediation: tlsProblem ? "Check ssl=on and the certificate on the server, or the client's sslmode." : "Check the server log around this time.",
                tags: tlsProblem ? ["tls"] : []
            ))
        }
    }

    // MARK: Checks

    private func checkConnections(_ session: PostgresSession, context: ProbeContext, name: String) async throws {
        let summary = try await session.rows("""
            SELECT current_setting('max_connections'), current_setting('superuser_reserved_connections'),
                   (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::text
            """)
        guard let row = summary.first, let max = Int(row[0] ?? ""), let reserved = Int(row[1] ?? ""), let used = Int(row[2] ?? "") else { return }
        let available = Swift.max(1, max - reserved)
        let ratio = Double(used) / Double(available)
        let breakdown = try await session.rows("""
            SELECT coalesce(usename, ''), coalesce(application_name, ''), coalesce(client_addr::text, 'local'), coalesce(state, ''), count(*)::text
            FROM pg_stat_activity WHERE backend_type = 'client backend'
            GROUP BY 1, 2, 3, 4 ORDER BY count(*) DESC LIMIT 15
            """)
        let table = Evidence.table("connections by user, application, client and state", columns: ["user", "application", "client", "state", "count"], rows: breakdown.map { $0.map { $0 ?? "" } })
        let usage = Evidence.text("usage", "\(used) of \(available) usable slots (max_connections \(max) − superuser_reserved_connections \(reserved))")
        let threshold = context.double("saturation_ratio") ?? 0.9
        if ratio >= threshold {
            let top = breakdown.first.map { "\($0[0] ?? "?")/\($0[1] ?? "?") from \($0[2] ?? "?") holds \($0[4] ?? "?")" } ?? ""
            await context.report(FindingDraft(
                code: .dbConnectionsSaturated, severity: ratio >= 1 ? .critical : .high, target: name,
                title: "\(name) connection slots \(Int(ratio * 100))% used (\(used)/\(available))",
                detail: "Client backends use \(used) of \(available) slots; new connections fail once they are gone. Largest holder: \(top).",
                evidence: [usage, table],
                remediation: "Find the pool that leaks or is oversized (the table above), cap its size, use PgBouncer, or raise max_connections; kill idle sessions if needed (pg_terminate_backend).",
                tags: ["too_many_clients"]
            ))
        } else {
            await context.report(FindingDraft(
                code: .dbOK, severity: .ok, target: name,
                title: "\(name) connections healthy (\(used)/\(available) slots used)",
                evidence: [usage]
            ))
        }
    }

    private func checkLocks(_ session: PostgresSession, context: ProbeContext, name: String) async throws {
        let blocked = try await session.rows("""
            SELECT a.pid::text, coalesce(a.usename, ''), coalesce(a.application_name, ''),
                   round(extract(epoch FROM now() - coalesce(a.query_start, now())))::text,
                   left(regexp_replace(coalesce(a.query, ''), '\\s+', ' ', 'g'), 160),
                   array_to_string(pg_blocking_pids(a.pid), ',')
            FROM pg_stat_activity a
            WHERE cardinality(pg_blocking_pids(a.pid)) > 0
            ORDER BY a.query_start LIMIT 20
            """)
        guard !blocked.isEmpty else {
            await context.report(FindingDraft(code: .dbOK, severity: .ok, target: name, title: "\(name): no sessions waiting on locks"))
            return
        }
        let blockerPIDs = Set(blocked.flatMap { ($0[5] ?? "").split(separator: ",").map(String.init) })
        let blockers = try await session.rows("""
            SELECT pid::text, coalesce(usename, ''), coalesce(application_name, ''), coalesce(state, ''),
                   round(extract(epoch FROM now() - coalesce(xact_start, now())))::text,
                   left(regexp_replace(coalesce(query, ''), '\\s+', ' ', 'g'), 160)
            FROM pg_stat_activity WHERE pid::text = ANY(string_to_array('\(blockerPIDs.sorted().joined(separator: ","))', ','))
            """)
        let longestWait = blocked.compactMap { Int($0[3] ?? "") }.max() ?? 0
        let root = blockers.first
        await context.report(FindingDraft(
            code: .dbLockContention, severity: longestWait >= 30 ? .critical : .high, target: name,
            title: "\(name): \(blocked.count) session(s) blocked by lock\(blockers.count == 1 ? " held by pid \(root?[0] ?? "?")" : "s") (longest wait \(longestWait) s)",
            detail: root.map { "Blocker pid \($0[0] ?? "?") (\($0[1] ?? "?"), \($0[2] ?? "?")) is \($0[3] ?? "?") with a transaction open for \($0[4] ?? "?") s: \($0[5] ?? "")" } ?? "",
            evidence: [
                .table("blocked sessions", columns: ["pid", "user", "application", "waiting s", "query", "blocked by"], rows: blocked.map { $0.map { $0 ?? "" } }),
                .table("blocking sessions", columns: ["pid", "user", "application", "state", "transaction age s", "query"], rows: blockers.map { $0.map { $0 ?? "" } }),
            ],
            remediation: "End the blocking transaction (commit/rollback in the application, or SELECT pg_terminate_backend(<blocker pid>)), then find why it stays open; set lock_timeout/idle_in_transaction_session_timeout.",
            tags: ["locks"]
        ))
    }

    private func checkIdleInTransaction(_ session: PostgresSession, context: ProbeContext, name: String) async throws {
        let threshold = context.double("idle_in_transaction_s") ?? 60
        let rows = try await session.rows("""
            SELECT pid::text, coalesce(usename, ''), coalesce(application_name, ''), coalesce(client_addr::text, 'local'),
                   round(extract(epoch FROM now() - state_change))::text, round(extract(epoch FROM now() - xact_start))::text,
                   left(regexp_replace(coalesce(query, ''), '\\s+', ' ', 'g'), 160)
            FROM pg_stat_activity
            WHERE state LIKE 'idle in transaction%' AND now() - state_change > make_interval(secs => \(threshold))
            ORDER BY state_change LIMIT 20
            """)
        guard !rows.isEmpty else {
            await context.report(FindingDraft(code: .dbOK, severity: .ok, target: name, title: "\(name): no sessions idle in transaction over \(Int(threshold)) s"))
            return
        }
        let oldest = rows.compactMap { Int($0[5] ?? "") }.max() ?? 0
        let slow = context.string("reported") == "slow"
        await context.report(FindingDraft(
            code: .dbIdleInTransaction, severity: Double(oldest) >= (slow ? 4 * threshold : 600) ? .high : .medium, target: name,
            title: "\(name): \(rows.count) session(s) idle in an open transaction (oldest \(oldest) s\(slow ? "; reported as slow by the user" : ""))",
            detail: "Sessions that opened a transaction and stopped talking hold their locks and snapshots: they block writers, VACUUM and occupy slots."
                + (slow ? " The user reports slowness, so the threshold was \(Int(threshold)) s." : ""),
            evidence: [.table("idle in transaction", columns: ["pid", "user", "application", "client", "idle s", "transaction age s", "last query"], rows: rows.map { $0.map { $0 ?? "" } })],
            remediation: "Fix the code path that leaves transactions open (missing commit/rollback, a slow call inside a transaction); set idle_in_transaction_session_timeout; terminate the oldest with pg_terminate_backend.",
            tags: ["locks"]
        ))
    }

    private func checkLongQueries(_ session: PostgresSession, context: ProbeContext, name: String) async throws {
        let threshold = context.double("long_query_s") ?? 30
        let rows = try await session.rows("""
            SELECT pid::text, coalesce(usename, ''), coalesce(application_name, ''), round(extract(epoch FROM now() - query_start))::text,
                   coalesce(wait_event_type, ''), left(regexp_replace(coalesce(query, ''), '\\s+', ' ', 'g'), 200)
            FROM pg_stat_activity
            WHERE state = 'active' AND pid <> pg_backend_pid() AND backend_type = 'client backend'
              AND now() - query_start > make_interval(secs => \(threshold))
            ORDER BY query_start LIMIT 20
            """)
        guard !rows.isEmpty else {
            await context.report(FindingDraft(code: .dbOK, severity: .ok, target: name, title: "\(name): no queries running longer than \(Int(threshold)) s"))
            return
        }
        let longest = rows.compactMap { Int($0[3] ?? "") }.max() ?? 0
        let slow = context.string("reported") == "slow"
        await context.report(FindingDraft(
            code: .dbLongRunningQuery, severity: Double(longest) >= (slow ? 2 * threshold : 300) ? .high : .medium, target: name,
            title: "\(name): \(rows.count) query(ies) running over \(Int(threshold)) s (longest \(longest) s\(slow ? "; reported as slow by the user" : ""))",
            detail: "Long queries hold resources and locks; if they are new, a plan changed or data grew."
                + (slow ? " The user reports slowness, so the threshold was \(Int(threshold)) s." : ""),
            evidence: [.table("long-running queries", columns: ["pid", "user", "application", "running s", "waiting on", "query"], rows: rows.map { $0.map { $0 ?? "" } })],
            remediation: "EXPLAIN the query, check for missing indexes or a changed plan; cancel with pg_cancel_backend(pid) if it harms others; set statement_timeout for the application.",
            tags: ["slow"]
        ))
    }

    private func checkReplication(_ session: PostgresSession, context: ProbeContext, name: String) async throws {
        let threshold = context.double("replication_lag_s") ?? 30
        let inRecovery = try await session.rows("SELECT pg_is_in_recovery()::text").first?[0] == "true"
        if inRecovery {
            let lag = try await session.rows("SELECT coalesce(round(extract(epoch FROM now() - pg_last_xact_replay_timestamp()))::text, '')").first?[0] ?? ""
            guard let seconds = Double(lag), seconds > threshold else {
                await context.report(FindingDraft(code: .dbOK, severity: .ok, target: name, title: "\(name) (replica): replay lag \(lag.isEmpty ? "unknown" : "\(lag) s")"))
                return
            }
            await context.report(FindingDraft(
                code: .dbReplicationLag, severity: seconds > 300 ? .high : .medium, target: name,
                title: "\(name) (replica) is \(Int(seconds)) s behind its primary",
                detail: "Reads from this replica return stale data.",
                evidence: [.text("replay lag", "\(Int(seconds)) s since the last replayed transaction")],
                remediation: "Check the replica's I/O and the network to the primary; long queries on the replica can hold back replay (hot_standby_feedback, max_standby_streaming_delay)."
            ))
            return
        }
        let replicas = try await session.rows("""
            SELECT coalesce(application_name, ''), coalesce(client_addr::text, ''), coalesce(state, ''),
                   coalesce(round(extract(epoch FROM replay_lag))::text, '0'), coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint::text, '0')
            FROM pg_stat_replication
            """)
        let lagging = replicas.filter { Double($0[3] ?? "0") ?? 0 > threshold }
        guard !lagging.isEmpty else {
            await context.report(FindingDraft(code: .dbOK, severity: .ok, target: name, title: "\(name): \(replicas.count) replica(s), none lagging over \(Int(threshold)) s"))
            return
        }
        await context.report(FindingDraft(
            code: .dbReplicationLag, severity: .high, target: name,
            title: "\(name): \(lagging.count) replica(s) lagging over \(Int(threshold)) s",
            evidence: [.table("replicas", columns: ["name", "client", "state", "replay lag s", "bytes behind"], rows: replicas.map { $0.map { $0 ?? "" } })],
            remediation: "Check the replicas' disk and network; a lagging synchronous replica also slows commits on the primary."
        ))
    }
}

/// One read-only transaction for a probe's queries, its statement timeout set once with
/// `SET LOCAL` (which holds behind PgBouncer's transaction pooling, where a session-level `SET`
/// would not). A failed query ends the transaction; the next query opens a new one. It was one
/// transaction per query — four round trips each where now there is one (plus two per
/// transaction) — and every check reads `pg_stat_activity` as of the same instant.
final class PostgresSession {
    let connection: PostgresConnection
    let logger: Logger
    let statementTimeoutMs: Int
    private var open = false

    init(connection: PostgresConnection, logger: Logger, statementTimeoutMs: Int) {
        self.connection = connection
        self.logger = logger
        self.statementTimeoutMs = statementTimeoutMs
    }

    /// Every column as text (queries cast what they return).
    func rows(_ sql: String) async throws -> [[String?]] {
        do {
            if !open {
                open = true
                try await connection.query("BEGIN READ ONLY", logger: logger)
                try await connection.query(PostgresQuery(unsafeSQL: "SET LOCAL statement_timeout = \(statementTimeoutMs)"), logger: logger)
            }
            var result: [[String?]] = []
            for try await row in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger) {
                result.append(try row.map { try $0.decode(String?.self, context: .default) })
            }
            return result
        } catch {
            _ = try? await connection.query("ROLLBACK", logger: logger)
            open = false
            throw error
        }
    }

    /// Ends the transaction (it only read).
    func finish() async {
        guard open else { return }
        open = false
        _ = try? await connection.query("COMMIT", logger: logger)
    }
}
