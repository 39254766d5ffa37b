import Foundation
import TestSupport
import Testing

/// The daemon under systemd's protocols, with real tools: `systemd-socket-activate`, a
/// test-owned `NOTIFY_SOCKET`, `systemd-journald` in a private mount namespace, `systemd-analyze`.
@Suite(.serialized) struct SystemdIntegrationTests {
    @Test func servesTheFirstRequestOnInheritedSockets() throws {
        let dir = try TestEnvironment.makeTemporaryDirectory("sock")
        defer { dir.remove() }
        let activatedPort = try TestEnvironment.freePort()
        let configuredPort = try TestEnvironment.freePort()
        let unixPath = dir.file("api.sock")
        let config = try dir.write("config.yaml", "")
        let activator = try ChildProcess(
            "/usr/bin/systemd-socket-activate",
            ["-l", "127.0.0.1:\(activatedPort)", "-l", unixPath, "--fdname=http:api",
             TestEnvironment.binary("sre-diagnosed"), "--config", config, "--state-directory", dir.file("state"),
             "--log-target", "stderr", "--listen", "127.0.0.1:\(configuredPort)"],
            removingEnvironment: ["NOTIFY_SOCKET"],
            directory: dir, name: "activate"
        )
        defer { activator.stop() }
        #expect(TestEnvironment.waitUntil { FileManager.default.fileExists(atPath: unixPath) })

        // The daemon is exec'd only when the first connection arrives, and must answer it.
        let first = try TestHTTPClient.request(.tcp(port: activatedPort), "GET", "/health")
        #expect(first.status == 200)
        #expect(first.json["status"] as? String == "ok")
        let overUnix = try TestHTTPClient.request(.unix(path: unixPath), "GET", "/health")
        #expect(overUnix.status == 200)

        // It bound nothing itself: the configured address stays closed.
        #expect(throws: TestHTTPError.self) { try TestHTTPClient.request(.tcp(port: configuredPort), "GET", "/health", timeout: 2) }
        let log = activator.stderr
        #expect(log.contains("(fd 3, http)"), "\(log)")
        #expect(log.contains("unix:\(unixPath) (fd 4, api)"), "\(log)")

        activator.signal(SIGTERM)
        #expect(activator.wait() == 0)
    }

    @Test func notifiesReadyStatusWatchdogAndStopping() throws {
        let dir = try TestEnvironment.makeTemporaryDirectory("ntfy")
        defer { dir.remove() }
        let notify = try NotifySocket(path: dir.file("notify.sock"))
        defer { notify.close() }
        let port = try TestEnvironment.freePort()
        let config = try dir.write("config.yaml", "")
        let daemon = try ChildProcess(
            TestEnvironment.binary("sre-diagnosed"),
            ["--config", config, "--state-directory", dir.file("state"), "--log-target", "stderr", "--listen", "127.0.0.1:\(port)"],
            environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "400000"],
            removingEnvironment: ["WATCHDOG_PID"],
            directory: dir
        )
        defer { daemon.stop() }

        #expect(TestEnvironment.waitUntil { notify.assignments.contains("READY=1") })
        // READY=1 means the listener already works: no retry needed.
        let health = try TestHTTPClient.request(.tcp(port: port), "GET", "/health")
        #expect(health.status == 200)
        let readyMessage = try #require(notify.messages.first { $0.contains("READY=1") })
        #expect(readyMessage.contains("STATUS=serving on 127.0.0.1:\(port)"), "\(readyMessage)")

        // WATCHDOG_USEC=400ms → a ping every 200 ms.
        #expect(TestEnvironment.waitUntil(timeout: 3) { notify.assignments.filter { $0 == "WATCHDOG=1" }.count >= 3 })

        daemon.signal(SIGTERM)
        #expect(daemon.wait() == 0)
        #expect(notify.assignments.contains("STOPPING=1"))
        let readyIndex = try #require(notify.assignments.firstIndex(of: "READY=1"))
        let stoppingIndex = try #require(notify.assignments.firstIndex(of: "STOPPING=1"))
        #expect(readyIndex < stoppingIndex)
    }

    @Test func stderrLinesCarrySyslogPriorityPrefixes() throws {
        let daemon = try DaemonProcess()
        defer { daemon.cleanUp() }
        #expect(daemon.terminate() == 0)
        let lines = daemon.child.stderr.split(separator: "\n")
        #expect(!lines.isEmpty)
        for line in lines {
            #expect(line.range(of: #"^<[0-7]>"#, options: .regularExpression) != nil, "\(line)")
        }
        #expect(lines.contains { $0.hasPrefix("<5>sre-diagnosed") && $0.contains("starting") })
        #expect(lines.contains { $0.hasPrefix("<6>listening on 127.0.0.1:\(daemon.port)") })
    }

    @Test(arguments: [
        ("runners:\n  max_concurent: 3\n", "runners.max_concurent", "unknown key"),
        ("runners:\n  max_concurrent: lots\n", "runners.max_concurrent", "expected an integer"),
        ("approval: {timeout: [1, 2]}\n", "approval.timeout", "expected a duration"),
    ])
    func invalidConfigurationExits78NamingTheKey(yaml: String, key: String, reason: String) throws {
        let dir = try TestEnvironment.makeTemporaryDirectory("cfg")
        defer { dir.remove() }
        let path = try dir.write("config.yaml", yaml)
        let daemon = try ChildProcess(TestEnvironment.binary("sre-diagnosed"), ["--config", path, "--log-target", "stderr"], directory: dir)
        #expect(daemon.wait() == 78)
        #expect(daemon.stderr.contains("\(path):"), "\(daemon.stderr)")
        #expect(daemon.stderr.contains(key), "\(daemon.stderr)")
        #expect(daemon.stderr.contains(reason), "\(daemon.stderr)")
    }

    @Test func unreadableConfigurationExits78() throws {
        let dir = try TestEnvironment.makeTemporaryDirectory("cfg")
        defer { dir.remove() }
        // A directory cannot be read as a file, even by root.
        let daemon = try ChildProcess(TestEnvironment.binary("sre-diagnosed"), ["--config", dir.path, "--log-target", "stderr"], directory: dir)
        #expect(daemon.wait() == 78)
        #expect(daemon.stderr.contains(dir.path), "\(daemon.stderr)")
        #expect(daemon.stderr.contains("cannot read"), "\(daemon.stderr)")

        let missing = try ChildProcess(TestEnvironment.binary("sre-diagnosed"), ["--config", dir.file("nope.yaml")], directory: dir)
        #expect(missing.wait() == 78)
        #expect(missing.stderr.contains("no such file"))
    }

    @Test func unitsVerifyAndExposureIsAtMostTwo() throws {
        let dir = try TestEnvironment.makeTemporaryDirectory("unit")
        defer { dir.remove() }
        let units = TestEnvironment.packageRoot.appendingPathComponent("systemd")
        // verify checks that ExecStart exists: point it at the binary this test built.
        let service = try String(contentsOf: units.appendingPathComponent("sre-diagnose.service"), encoding: .utf8)
            .replacingOccurrences(of: "/usr/local/bin/sre-diagnosed", with: TestEnvironment.binary("sre-diagnosed"))
        try dir.write("sre-diagnose.service", service)
        try dir.write("sre-diagnose.socket", String(contentsOf: units.appendingPathComponent("sre-diagnose.socket"), encoding: .utf8))

        let verify = try ChildProcess("/usr/bin/systemd-analyze", ["verify", dir.file("sre-diagnose.socket"), dir.file("sre-diagnose.service")], directory: dir)
        #expect(verify.wait() == 0)
        #expect(verify.stderr.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(verify.stderr)")

        let security = try ChildProcess("/usr/bin/systemd-analyze", ["security", "--offline=yes", "--no-pager", dir.file("sre-diagnose.service")], directory: dir)
        security.wait()
        let output = security.stdout + security.stderr
        let match = output.range(of: #"Overall exposure level for sre-diagnose.service: ([0-9.]+)"#, options: .regularExpression)
        let line = try #require(match.map { String(output[$0]) }, "\(output)")
        let score = try #require(Double(line.split(separator: " ").last ?? ""))
        #expect(score <= 2.0, "exposure \(score)")
    }
}
