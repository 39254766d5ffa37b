import Foundation

/// A real `sre-diagnosed` started for one test: its own port, state directory and config.
public final class DaemonProcess: @unchecked Sendable {
    public let directory: TemporaryDirectory
    public let port: Int
    public let child: ChildProcess
    public var target: HTTPTarget { .tcp(port: port) }
    public var pid: Int32 { child.pid }

    /// Starts the daemon and waits for `/health`. `config` is YAML written to the config file.
    public init(
        config: String = "",
        arguments: [String] = [],
        environment: [String: String] = [:],
        directory: TemporaryDirectory? = nil,
        port: Int? = nil,
        waitForHealth: Bool = true,
        wrapper: [String] = []
    ) throws {
        let directory = try directory ?? TestEnvironment.makeTemporaryDirectory("sred")
        self.directory = directory
        let port = try port ?? TestEnvironment.freePort()
        self.port = port
        let configPath = try directory.write("config.yaml", config)
        var env = environment
        env["SRE_TEST_MARKER"] = "1"
        // `wrapper`: a command that starts the daemon (e.g. prlimit with a lower fd limit).
        let command = [TestEnvironment.binary("sre-diagnosed"), "--config", configPath, "--listen", "127.0.0.1:\(port)", "--state-directory", directory.file("state"), "--log-target", "stderr"] + arguments
        let invocation = wrapper + command
        child = try ChildProcess(
            invocation[0], Array(invocation.dropFirst()),
            environment: env,
            removingEnvironment: ["NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "JOURNAL_STREAM", "WATCHDOG_USEC"],
            directory: directory,
            name: "sre-diagnosed"
        )
        if waitForHealth {
            let healthy = TestEnvironment.waitUntil(timeout: 20) {
                (try? TestHTTPClient.request(.tcp(port: port), "GET", "/health").status) == 200 || !child.isRunning
            }
            guard healthy, child.isRunning else {
                let log = child.stderr
                child.stop()
                throw TestHTTPError.connect("daemon did not become healthy:\n\(log)")
            }
        }
    }

    /// Wraps a daemon started some other way (e.g. inside a mount namespace).
    public init(adopting child: ChildProcess, port: Int, directory: TemporaryDirectory) throws {
        self.child = child
        self.port = port
        self.directory = directory
    }

    public func get(_ path: String, headers: [String: String] = [:], as account: TestAccount = .automatic) throws -> HTTPResult {
        try TestHTTPClient.request(target, "GET", path, headers: headers, uid: account.uid(headers))
    }

    public func post(_ path: String, _ object: Any, headers: [String: String] = [:], as account: TestAccount = .automatic) throws -> HTTPResult {
        try TestHTTPClient.json(target, "POST", path, object, headers: headers, uid: account.uid(headers))
    }

    /// SIGTERM and wait; returns the exit status.
    @discardableResult
    public func terminate() -> Int32? {
        child.signal(SIGTERM)
        return child.wait(timeout: 15)
    }

    /// Kills the daemon (if running) and removes its directory.
    public func cleanUp(keepDirectory: Bool = false) {
        child.stop()
        if !keepDirectory { directory.remove() }
    }
}

/// The local account a test's TCP request comes from. The daemon refuses an approval by the
/// requester's own account, so tests act as two people: a developer (`nobody`, no token) who
/// asks, and an approver (the test's own account, with a token) who decides.
public enum TestAccount: Sendable {
    /// The developer without an `Authorization` header, the test's own account with one.
    case automatic
    /// The test process's own account.
    case own
    case uid(UInt32)

    public static let developerUID: UInt32 = 65534

    func uid(_ headers: [String: String]) -> UInt32? {
        switch self {
        case .automatic: headers.keys.contains { $0.lowercased() == "authorization" } ? nil : Self.developerUID
        case .own: nil
        case .uid(let uid): uid
        }
    }
}
