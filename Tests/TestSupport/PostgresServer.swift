import Foundation

/// A real PostgreSQL 15 for one test: `initdb` in a temp directory, started on a free port with
/// a Unix socket in the same directory, run as the `postgres` system user (PostgreSQL refuses
/// to run as root). `app` is a SCRAM-authenticated login role; `postgres` the superuser.
public final class PostgresServer: @unchecked Sendable {
    public static let bin = "/usr/lib/postgresql/15/bin"
    public let directory: TemporaryDirectory
    public let port: Int
    public let appPassword: String
    private var server: ChildProcess?
    /// Sessions held open by tests (idle transactions, sleeping queries).
    private var sessions: [ChildProcess] = []
    private var holders: [FileHandle] = []

    public var dataDirectory: String { directory.file("data") }
    public var socketDirectory: String { directory.path }

    public init(maxConnections: Int = 20, reservedConnections: Int = 3, extraSettings: [String: String] = [:]) throws {
        directory = try TestEnvironment.makeTemporaryDirectory("pg")
        _ = chmod(directory.path, 0o755)
        port = try TestEnvironment.freePort()
        appPassword = "app-pw-\(UUID().uuidString.prefix(8))"
        try Self.asPostgres(["/bin/chown", "postgres:postgres", directory.path], asRoot: true)
        let passwordFile = try directory.write("superuser.pw", "postgres-superuser-pw\n", mode: 0o644)
        try Self.asPostgres([
            "\(Self.bin)/initdb", "-D", dataDirectory, "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256",
            "--pwfile=\(passwordFile)", "--no-sync", "-E", "UTF8", "--locale=C",
        ])
        var settings = [
            "port": String(port), "listen_addresses": "'127.0.0.1'", "unix_socket_directories": "'\(socketDirectory)'",
            "max_connections": String(maxConnections), "superuser_reserved_connections": String(reservedConnections),
            "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off", "shared_buffers": "16MB",
            "log_min_messages": "fatal", "password_encryption": "'scram-sha-256'",
        ]
        settings.merge(extraSettings) { _, new in new }
        let conf = settings.sorted { $0.key < $1.key }.map { "\($0.key) = \($0.value)" }.joined(separator: "\n")
        let confPath = "\(dataDirectory)/postgresql.auto.conf"
        try (conf + "\n").write(toFile: confPath, atomically: false, encoding: .utf8)
        try Self.asPostgres(["/bin/chown", "postgres:postgres", confPath], asRoot: true)
        try start()
        try psql("CREATE ROLE app LOGIN PASSWORD '\(appPassword)'")
        try psql("CREATE DATABASE orders OWNER app")
        try psql("CREATE TABLE accounts (id int PRIMARY KEY, balance int); INSERT INTO accounts VALUES (1, 100), (2, 200); GRANT ALL ON accounts TO app;", database: "orders")
    }

    /// Starts (or restarts) the server and waits until it accepts connections.
    public func start() throws {
        server = try ChildProcess("/usr/bin/setpriv", ["--reuid=postgres", "--regid=postgres", "--init-groups", "\(Self.bin)/postgres", "-D", dataDirectory], directory: directory, name: "postgres")
        let ready = TestEnvironment.waitUntil(timeout: 20) {
            (try? Self.run("\(Self.bin)/pg_isready", ["-h", self.socketDirectory, "-p", String(self.port)])) == 0
        }
        guard ready else { throw TestHTTPError.connect("postgres did not start: \(server?.stderr ?? "")") }
    }

    /// Stops the server (fast shutdown) and waits for it to exit.
    public func stop() {
        for session in sessions { session.stop() }
        sessions.removeAll()
        for holder in holders { try? holder.close() }
        holders.removeAll()
        server?.signal(SIGINT)
        _ = server?.wait(timeout: 20)
        server?.stop()
        server = nil
    }

    public func cleanUp() {
        stop()
        directory.remove()
    }

    /// Runs SQL as the superuser over the Unix socket; returns psql's output.
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres") throws -> String {
        let process = try ChildProcess(
            "/usr/bin/setpriv",
            ["--reuid=postgres", "--regid=postgres", "--init-groups", "\(Self.bin)/psql", "-h", socketDirectory, "-p", String(port), "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1", "-Atqc", sql],
            directory: directory, name: "psql"
        )
        guard process.wait(timeout: 30) == 0 else { throw TestHTTPError.io("psql failed: \(process.stderr)") }
        return process.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Opens a session as `user` that runs `sql` and then stays connected (stdin stays open), so
    /// an open transaction stays open. Returns once the statement was sent.
    @discardableResult
    public func holdSession(_ sql: String, user: String = "app", database: String = "orders") throws -> ChildProcess {
        let pipe = Pipe()
        let session = try ChildProcess(
            "\(Self.bin)/psql",
            ["-h", "127.0.0.1", "-p", String(port), "-U", user, "-d", database, "-Atq"],
            environment: ["PGPASSWORD": user == "app" ? appPassword : "postgres-superuser-pw"],
            directory: directory, name: "session", stdin: pipe.fileHandleForReading
        )
        // "\\echo" prints once the session is connected: wait for it, so sessions connect one at a
        // time and the caller knows they hold their slot.
        pipe.fileHandleForWriting.write(Data(("\\echo connected\n" + sql + "\n").utf8))
        holders.append(pipe.fileHandleForWriting)
        sessions.append(session)
        guard TestEnvironment.waitUntil(timeout: 15, { session.stdout.contains("connected") }) else {
            throw TestHTTPError.connect("psql session did not connect: \(session.stderr)")
        }
        return session
    }

    /// Client backends connected right now.
    public func clientBackends() throws -> Int {
        Int(try psql("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")) ?? -1
    }

    static func asPostgres(_ command: [String], asRoot: Bool = false) throws {
        let full = asRoot ? command : ["/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"] + command
        let status = try run(full[0], Array(full.dropFirst()))
        guard status == 0 else { throw TestHTTPError.io("\(command.joined(separator: " ")) exited \(status)") }
    }

    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}
