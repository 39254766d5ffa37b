import DiagnosisModel
import Foundation
import Logging
import PostgresNIO
@testable import Probes
import TestSupport
import Testing

/// `db.postgres` against a real PostgreSQL 15 per test, with each fault reproduced for real.
@Suite struct PostgresProbeTests {
    static func params(_ server: PostgresServer, _ extra: [String: JSONValue] = [:]) -> [String: JSONValue] {
        var params: [String: JSONValue] = ["host": "127.0.0.1", "port": .number(Double(server.port)), "database": "orders", "name": "orders-db"]
        params.merge(extra) { _, new in new }
        return params
    }

    static func login(_ server: PostgresServer) -> [String: String] {
        ["username": "app", "password": server.appPassword]
    }

    @Test func healthyServerOnlyOk() async throws {
        let server = try PostgresServer()
        defer { server.cleanUp() }
        let run = await ProbeHarness.run(PostgresProbe(), target: "orders-db", params: Self.params(server), credential: Self.login(server))
        #expect(run.error == nil)
        #expect(run.findings.count == 5, "\(run.codes)")
        #expect(run.findings.allSatisfy { $0.severity == .ok && $0.code == "db.ok" }, "\(run.findings.map(\.title))")
        #expect(run.logs.contains { $0.hasPrefix("logged in to orders as app in ") && $0.hasSuffix(" ms") }, "\(run.logs)")
    }

    /// The probe's queries share one read-only transaction with the statement timeout set in it;
    /// a query that fails ends that transaction, and the next one runs in a new one rather than
    /// in the aborted one.
    @Test func queriesShareOneReadOnlyTransactionThatAFailureEnds() async throws {
        let server = try PostgresServer()
        defer { server.cleanUp() }
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let connection = try await PostgresConnection.connect(
            configuration: .init(host: "127.0.0.1", port: server.port, username: "app", password: server.appPassword, database: "orders", tls: .disable),
            id: 1, logger: logger
        )
        let session = PostgresSession(connection: connection, logger: logger, statementTimeoutMs: 2000)
        let settings = "SELECT current_setting('transaction_read_only'), current_setting('statement_timeout'), txid_current()::text"
        let first = try await session.rows(settings)
        #expect(first.first?[0] == "on" && first.first?[1] == "2s", "\(first)")
        let again = try await session.rows(settings)
        #expect(again.first?[2] == first.first?[2], "the same transaction: \(first) \(again)")
        await #expect(throws: (any Error).self) { _ = try await session.rows("CREATE TABLE probe_wrote (x int)") }
        let after = try await session.rows(settings)
        #expect(after.first?[0] == "on" && after.first?[1] == "2s", "a new read-only transaction after the failure: \(after)")
        #expect(after.first?[2] != first.first?[2])
        await session.finish()
        try await connection.close()
    }

    @Test func wrongPasswordIsAuthFailedWithoutThePassword() async throws {
        let server = try PostgresServer()
        defer { server.cleanUp() }
        let run = await ProbeHarness.run(PostgresProbe(), target: "orders-db", params: Self.params(server), credential: ["username": "app", "password": "old-rotated-password"])
        let finding = try #require(run.first("db.auth_failed"))
        #expect(finding.severity == .critical)
        #expect(finding.title.contains("28P01"))
        let everything = ([finding.title, finding.detail, finding.remediation] + finding.evidence.flatMap(\.strings)).joined(separator: " ")
        #expect(!everything.contains("old-rotated-password"))
    }

    @Test func exhaustedSlotsAreSeenFromTheRefusalAndFromPgStatActivity() async throws {
        // 8 connections, 3 reserved for superusers: 5 usable.
        let server = try PostgresServer(maxConnections: 8, reservedConnections: 3)
        defer { server.cleanUp() }
        for _ in 0..<5 { try server.holdSession("SELECT pg_sleep(120);") }
        #expect(TestEnvironment.waitUntil(timeout: 10) { (try? server.clientBackends()) == 5 })

        // The application's role cannot get in: SQLSTATE 53300 is the evidence.
        let asApp = await ProbeHarness.run(PostgresProbe(), target: "orders-db", params: Self.params(server), credential: Self.login(server))
        let refused = try #require(asApp.first("db.connections_saturated"), "\(asApp.codes)")
        #expect(refused.severity == .critical)
        #expect(refused.tags.contains("too_many_clients"))
        #expect(refused.evidence.contains { $0.text?.contains("remaining connection slots") == true || $0.text?.contains("too many") == true })

        // A superuser login uses a reserved slot and counts who holds the rest.
        let asSuperuser = await ProbeHarness.run(PostgresProbe(), target: "orders-db", params: Self.params(server, ["checks": ["connections"]]), credential: ["username": "postgres", "password": "postgres-superuser-pw"])
        let counted = try #require(asSuperuser.first("db.connections_saturated"), "\(asSuperuser.codes)")
        #expect(counted.title.contains("5/5") || counted.title.contains("6/5"), "\(counted.title)")
        let table = try #require(counted.evidence.first { $0.columns != nil })
        #expect(table.rows?.first?.first == "app")
        #expect(table.rows?.first?.last == "5")
    }

    @Test func lockHeldInOpenTransactionBlocksAnother() async throws {
        let server = try PostgresServer()
        defer { server.cleanUp() }
        try server.holdSession("BEGIN; UPDATE accounts SET balance = balance + 1 WHERE id = 1;")
        #expect(TestEnvironment.waitUntil(timeout: 10) { (try? server.psql("SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'")) == "1" })
        try server.holdSession("UPDATE accounts SET balance = balance - 1 WHERE id = 1;")
        #expect(TestEnvironment.waitUntil(timeout: 10) { (try? server.psql("SELECT count(*) FROM pg_stat_activity WHERE cardinality(pg_blocking_pids(pid)) > 0")) == "1" })
        try await Task.sleep(for: .milliseconds(1200))
        let run = await ProbeHarness.run(PostgresProbe(), target: "orders-db", params: Self.params(server, ["idle_in_transaction_s": 1]), credential: Self.login(server))
        let locks = try #require(run.first("db.lock_contention"), "\(run.codes)")
        #expect(locks.title.contains("1 session(s) blocked"))
        #expect(locks.detail.contains("idle in transaction"), "\(locks.detail)")
        let blocked = try #require(locks.evidence.first { $0.label == "blocked sessions" })
        #expect(blocked.rows?.first?[4].contains("UPDATE accounts") == true)
        // The blocker is also an idle-in-transaction session.
        let idle = try #require(run.first("db.idle_in_transaction"), "\(run.codes)")
        #expect(idle.evidence.first?.rows?.count == 1)
    }

    @Test func longRunningQuery() async throws {
        let server = try PostgresServer()
        defer { server.cleanUp() }
        try server.holdSession("SELECT pg_sleep(60);")
        try await Task.sleep(for: .milliseconds(2500))
        let run = await ProbeHarness.run(PostgresProbe(), target: "orders-db", params: Self.params(server, ["long_query_s": 1, "checks": ["long_queries"]]), credential: Self.login(server))
        let long = try #require(run.first("db.long_running_query"), "\(run.codes)")
        #expect(long.evidence.first?.rows?.first?.last?.contains("pg_sleep") == true)
        #expect(long.severity == .medium)
        // The same query when the user reports slowness: high, and the finding says why.
        let reported = await ProbeHarness.run(
            PostgresProbe(), target: "orders-db", params: Self.params(server, ["long_query_s": 1, "checks": ["long_queries"], "reported": "slow"]), credential: Self.login(server)
        )
        let slow = try #require(reported.first("db.long_running_query"), "\(reported.codes)")
        #expect(slow.severity == .high)
        #expect(slow.title.contains("reported as slow by the user"))
    }

    @Test func stoppedServerNothingListeningAndUnknownHost() async throws {
        let server = try PostgresServer()
        defer { server.cleanUp() }
        server.stop()
        let stopped = await ProbeHarness.run(PostgresProbe(), target: "orders-db", params: Self.params(server), credential: Self.login(server))
        #expect(stopped.codes == ["db.unreachable"])
        #expect(stopped.findings.first?.tags == ["connection_refused"])

        let nxdomain = await ProbeHarness.run(PostgresProbe(), target: "orders-db", params: ["host": "orders-db.prod.invalid", "port": 5432], credential: Self.login(server))
        #expect(nxdomain.codes == ["db.dns_failure"])

        // A listening socket that never completes the startup: PostgreSQL-level timeout.
        let silent = try TestEnvironment.boundSocket()
        defer { close(silent.fd) }
        let hung = await ProbeHarness.run(PostgresProbe(), target: "orders-db", params: ["host": "127.0.0.1", "port": .number(Double(silent.port)), "connect_timeout_s": 1], credential: Self.login(server), timeout: .seconds(15))
        #expect(hung.codes == ["db.unreachable"] || hung.codes == ["db.tls_error"], "\(hung.codes)")
    }

    @Test func requireTLSAgainstAServerWithoutTLS() async throws {
        let server = try PostgresServer()
        defer { server.cleanUp() }
        let run = await ProbeHarness.run(PostgresProbe(), target: "orders-db", params: Self.params(server, ["tls": "require"]), credential: Self.login(server))
        #expect(run.codes == ["db.tls_error"], "\(run.findings.map(\.title))")
    }
}
