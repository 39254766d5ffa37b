import Foundation
import TestSupport
import Testing

/// The `sre-diagnose` CLI against a real daemon: every command, `--json` shapes, exit codes,
/// the live view through a pseudo-terminal (`script`), and `watch` resuming across a daemon restart.
@Suite struct CLITests {
    static let token = SessionAPITests.approverToken

    /// Environment "two": two credential checks (env://CRED_A, env://CRED_B) and a closed port
    /// (a high finding, so a finished session exits 2). "slow": one check that takes a while.
    static func start(directory: TemporaryDirectory? = nil, port: Int? = nil, unixSocket: String? = nil) throws -> DaemonProcess {
        let directory = try directory ?? TestEnvironment.makeTemporaryDirectory("cli")
        let approver = try directory.write("alice.token", token, mode: 0o600)
        let closed = try TestEnvironment.freePort()
        let config = """
            secrets: {allow_env_refs: true}
            auth: {approvers: [{name: alice, token: "file://\(approver)"}]}
            environments:
              two:
                network: {endpoints: ["tcp://127.0.0.1:\(closed)"]}
                checks:
                  - {name: a, domain: database, command: sh, args: ["-c", "test -n \\"$X\\""], credential: "env://CRED_A", env: {value: X}}
                  - {name: b, domain: cloud, command: sh, args: ["-c", "test -n \\"$X\\""], credential: "env://CRED_B", env: {value: X}}
              slow:
                checks:
                  - {name: wait, domain: host, command: sh, args: ["-c", "sleep 4"], timeout: 30s}
            """
        return try DaemonProcess(
            config: config, arguments: unixSocket.map { ["--listen", "unix:\($0)"] } ?? [],
            environment: ["CRED_A": "first-credential-value", "CRED_B": "second-credential-value"], directory: directory, port: port
        )
    }

    /// Runs the CLI to completion.
    /// Runs the CLI; `asDeveloper` runs it as the developer account, who asks for diagnoses that
    /// the test's own account (the approver) then decides — never the same person.
    static func cli(
        _ daemon: DaemonProcess, _ arguments: [String], environment: [String: String] = [:], timeout: Double = 60, asDeveloper: Bool = false
    ) throws -> (code: Int32?, stdout: String, stderr: String) {
        var env = ["SRE_DIAGNOSE_URL": "http://127.0.0.1:\(daemon.port)", "HOME": daemon.directory.path]
        env.merge(environment) { _, new in new }
        let command = asDeveloper
            ? TestEnvironment.asDeveloper(TestEnvironment.binary("sre-diagnose"), arguments)
            : (TestEnvironment.binary("sre-diagnose"), arguments)
        let child = try ChildProcess(command.0, command.1, environment: env, removingEnvironment: ["SRE_DIAGNOSE_TOKEN", "NO_COLOR"], directory: daemon.directory, name: "cli")
        let code = child.wait(timeout: timeout)
        return (code, child.stdout, child.stderr)
    }

    static func object(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    @Test func everyCommandWithTextJSONAndExitCodes() throws {
        let socket = "/tmp/sre-cli-\(UUID().uuidString.prefix(8)).sock"
        let daemon = try Self.start(unixSocket: socket)
        defer { daemon.cleanUp() }

        // diagnose without following: the session id, or the API's JSON with --json.
        let started = try Self.cli(daemon, ["diagnose", "Checkout fails: database connection errors", "--env", "two", "--context", "service=api-gateway", "--no-follow", "--json"], asDeveloper: true)
        #expect(started.code == 0, "\(started.stderr)")
        let accepted = Self.object(started.stdout)
        let id = try #require(accepted["session_id"] as? String, "\(started.stdout)")
        #expect(accepted["status"] as? String == "analyzing")
        _ = try SessionAPITests.waitForStatus(daemon, id) { $0 == "awaiting_approval" }

        // status: text and JSON.
        let status = try Self.cli(daemon, ["status", id])
        #expect(status.code == 0)
        #expect(status.stdout.contains("awaiting_approval"))
        #expect(status.stdout.contains("env://CRED_A") && status.stdout.contains("sre-diagnose approve \(id)"), "\(status.stdout)")
        #expect(!status.stdout.contains("\u{1B}["), "no colour when stdout is not a terminal")
        let statusJSON = Self.object(try Self.cli(daemon, ["status", id, "--json"]).stdout)
        #expect(statusJSON["session_id"] as? String == id)
        #expect((statusJSON["pending_approval"] as? [String: Any])?["request_id"] is String)
        #expect((statusJSON["domains"] as? [[String: Any]])?.count == 3)

        // approve: needs a token; a readable-by-others token file is refused.
        let noToken = try Self.cli(daemon, ["approve", id])
        #expect(noToken.code == 1)
        #expect(noToken.stderr.contains("approving needs an approver token"), "\(noToken.stderr)")
        let loose = try daemon.directory.write("loose.token", Self.token, mode: 0o644)
        let refused = try Self.cli(daemon, ["approve", id, "--token-file", loose])
        #expect(refused.code == 1)
        #expect(refused.stderr.contains("chmod 600"), "\(refused.stderr)")
        let wrong = try Self.cli(daemon, ["approve", id], environment: ["SRE_DIAGNOSE_TOKEN": "not-a-real-token-000000000000"])
        #expect(wrong.code == 1)
        #expect(wrong.stderr.contains("HTTP 401"), "\(wrong.stderr)")

        // A subset, from the default token file (~/.config/sre-diagnose/token, 0600).
        _ = try daemon.directory.write(".config/sre-diagnose/token", Self.token + "\n", mode: 0o600)
        let approved = try Self.cli(daemon, ["approve", id, "--ref", "env://CRED_A", "--comment", "incident 9", "--json"])
        #expect(approved.code == 0, "\(approved.stderr)")
        let decision = Self.object(approved.stdout)
        #expect(decision["outcome"] as? String == "partial")
        #expect(decision["approver"] as? String == "alice")
        #expect(decision["denied_references"] as? [String] == ["env://CRED_B"])
        let again = try Self.cli(daemon, ["approve", id])
        #expect(again.code == 1)
        #expect(again.stderr.contains("no approval is pending"), "\(again.stderr)")

        // watch --json: one event per line, in order, ending with the report; exit 2 (a high finding).
        let watched = try Self.cli(daemon, ["watch", id, "--json"])
        #expect(watched.code == 2, "\(watched.stderr)")
        let events = watched.stdout.split(separator: "\n").map { Self.object(String($0)) }
        let sequences = events.compactMap { $0["seq"] as? Int }
        #expect(sequences.count == events.count && sequences == Array(1...sequences.count), "\(sequences)")
        #expect(events.last?["type"] as? String == "report")
        #expect(events.contains { $0["type"] as? String == "approval_decided" })

        // watch after the end, as text: the report, same exit code.
        let replay = try Self.cli(daemon, ["watch", id])
        #expect(replay.code == 2)
        #expect(replay.stdout.contains("Approval partial by alice"), "\(replay.stdout)")
        #expect(replay.stdout.contains("Connection refused"))

        // report: Markdown by default, JSON on request.
        let markdown = try Self.cli(daemon, ["report", id])
        #expect(markdown.code == 2)
        #expect(markdown.stdout.hasPrefix("# "), "\(markdown.stdout.prefix(200))")
        #expect(markdown.stdout.contains("## Findings"))
        let reportJSON = Self.object(try Self.cli(daemon, ["report", id, "--format", "json"]).stdout)
        #expect(reportJSON["session_id"] as? String == id)
        #expect(reportJSON["probable_causes"] is [[String: Any]])

        // sessions: text and JSON, with a status filter.
        let sessions = try Self.cli(daemon, ["sessions", "--status", "completed"])
        #expect(sessions.code == 0)
        #expect(sessions.stdout.contains(id))
        let list = Self.object(try Self.cli(daemon, ["sessions", "--json", "--limit", "5"]).stdout)
        #expect((list["sessions"] as? [[String: Any]])?.first?["session_id"] as? String == id)
        #expect(try Self.cli(daemon, ["sessions", "--status", "bogus"]).code == 64, "usage errors are ArgumentParser's 64")

        // Unknown session: a clear message and exit 1. A malformed id is not sent at all.
        let missing = try Self.cli(daemon, ["status", "00000000-0000-0000-0000-000000000000"])
        #expect(missing.code == 1)
        #expect(missing.stderr.contains("no session 00000000-0000-0000-0000-000000000000"), "\(missing.stderr)")
        let bad = try Self.cli(daemon, ["report", "../../etc/passwd"])
        #expect(bad.code == 1)
        #expect(bad.stderr.contains("is not a session id"))

        // The Unix socket, through SRE_DIAGNOSE_URL=unix:…
        let overUnix = try Self.cli(daemon, ["health", "--json"], environment: ["SRE_DIAGNOSE_URL": "unix:\(socket)"])
        #expect(overUnix.code == 0, "\(overUnix.stderr)")
        #expect(Self.object(overUnix.stdout)["status"] as? String == "ok")
        #expect(!daemon.child.stderr.contains("first-credential-value"))
    }

    @Test func followOnATerminalRendersProgressPromptsAndEndsWithTheReport() throws {
        let daemon = try Self.start()
        defer { daemon.cleanUp() }
        let cli = TestEnvironment.binary("sre-diagnose")
        func follow(_ input: String, environment: [String: String]) throws -> (Int32?, String) {
            // The developer asks; the approver follows the session with `watch` in a terminal
            // and decides at its prompt. `script` gives the CLI a pseudo-terminal; the answers
            // are typed into it.
            let accepted = try daemon.post("/diagnose", ["problem": "Database connection failures in production", "environment": "two"])
            let id = try #require(accepted.json["session_id"] as? String, "\(accepted.text)")
            let pipe = Pipe()
            var env = ["SRE_DIAGNOSE_URL": "http://127.0.0.1:\(daemon.port)", "SRE_DIAGNOSE_TOKEN": Self.token, "TERM": "xterm-256color", "COLUMNS": "120"]
            env.merge(environment) { _, new in new }
            let child = try ChildProcess(
                "/usr/bin/script", ["-q", "-e", "-c", "\(cli) watch \(id)", "/dev/null"],
                environment: env, removingEnvironment: ["NO_COLOR"], directory: daemon.directory, name: "script", stdin: pipe.fileHandleForReading
            )
            pipe.fileHandleForWriting.write(Data(input.utf8))
            let code = child.wait(timeout: 60)
            try? pipe.fileHandleForWriting.close()
            return (code, child.stdout)
        }

        let (code, screen) = try follow("a\nincident 12\n", environment: [:])
        #expect(code == 2, "a high finding: \(screen.suffix(2000))")
        #expect(screen.contains("Diagnosing: \u{1B}[0mDatabase connection failures in production"), "\(screen.prefix(1500))")
        #expect(screen.contains("Approve? [a]ll, [s]ubset, [d]eny"))
        #expect(screen.contains("env://CRED_A") && screen.contains("env://CRED_B"))
        #expect(screen.contains("Approval approved by alice"), "\(screen.suffix(3000))")
        #expect(screen.contains("incident 12"))
        #expect(screen.contains("running diagnostics"))
        #expect(screen.contains("####"), "progress bars")
        #expect(screen.contains("\u{1B}[31mHIGH\u{1B}[0m"), "severity in colour")
        #expect(screen.contains("\u{1B}[3A\u{1B}[J") || screen.contains("\u{1B}[4A\u{1B}[J"), "the status block is redrawn in place")
        #expect(screen.contains("## Probable causes") || screen.contains("## Findings"), "ends with the report")

        // Subset through the prompt, with NO_COLOR: cursor control stays, colour goes.
        let (subsetCode, plain) = try follow("s\ny\nn\n\n", environment: ["NO_COLOR": "1"])
        #expect(subsetCode == 2)
        #expect(plain.contains("use env://CRED_A for database? [y/N]"))
        #expect(plain.contains("Approval partial by alice"), "\(plain.suffix(3000))")
        #expect(!plain.contains("\u{1B}[31m") && !plain.contains("\u{1B}[1m"), "NO_COLOR")
    }

    @Test func followWithoutATerminalOrTokenSaysHowToApprove() throws {
        let daemon = try Self.start()
        defer { daemon.cleanUp() }
        let command = TestEnvironment.asDeveloper(TestEnvironment.binary("sre-diagnose"), ["diagnose", "database errors", "--env", "two", "--follow"])
        let child = try ChildProcess(
            command.executable, command.arguments,
            environment: ["SRE_DIAGNOSE_URL": "http://127.0.0.1:\(daemon.port)", "HOME": daemon.directory.path],
            removingEnvironment: ["SRE_DIAGNOSE_TOKEN"], directory: daemon.directory, name: "follow"
        )
        #expect(TestEnvironment.waitUntil(timeout: 20) { child.stdout.contains("Waiting for an approver: sre-diagnose approve ") })
        let id = try #require(child.stdout.components(separatedBy: "sre-diagnose approve ").dropFirst().first?.split(separator: " ").first.map(String.init))
        let decision = try daemon.post("/approve/\(id)", ["approved": false, "comment": "not now"], headers: ["Authorization": "Bearer \(Self.token)"])
        #expect(decision.status == 200)
        #expect(child.wait(timeout: 30) == 2, "the closed port is still a high finding: \(child.stdout.suffix(1500)) \(child.stderr)")
        #expect(child.stdout.contains("Approval denied by alice"))
        #expect(child.stdout.contains("[diagnosing] running"), "plain status lines instead of a redrawn block")
        #expect(!child.stdout.contains("\u{1B}"), "no escape sequences into a pipe")
    }

    @Test func watchResumesAcrossADaemonRestartWithNothingLostOrRepeated() throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("cliw")
        let port = try TestEnvironment.freePort()
        let first = try Self.start(directory: directory, port: port)
        let accepted = try first.post("/diagnose", ["problem": "host is slow", "environment": "slow"])
        let id = try #require(accepted.json["session_id"] as? String)
        _ = try SessionAPITests.waitForStatus(first, id) { $0 == "diagnosing" }
        let watch = try ChildProcess(
            TestEnvironment.binary("sre-diagnose"), ["watch", id, "--json"],
            environment: ["SRE_DIAGNOSE_URL": "http://127.0.0.1:\(port)"], directory: directory, name: "watch"
        )
        #expect(TestEnvironment.waitUntil(timeout: 10) { watch.stdout.contains("\"running\"") })
        // The daemon dies mid-session; a new one starts on the same state.
        first.child.signal(SIGKILL)
        _ = first.child.wait(timeout: 10)
        Thread.sleep(forTimeInterval: 1)
        let second = try Self.start(directory: directory, port: port)
        defer { second.cleanUp() }
        #expect(watch.wait(timeout: 40) == 1, "an interrupted session has no report: \(watch.stderr)")
        #expect(watch.stderr.contains("resuming after event"), "\(watch.stderr)")
        let events = watch.stdout.split(separator: "\n").map { Self.object(String($0)) }
        let sequences = events.compactMap { $0["seq"] as? Int }
        #expect(sequences == Array(1...max(1, sequences.count)), "nothing lost or repeated: \(sequences)")
        #expect(events.contains { ($0["data"] as? [String: Any])?["status"] as? String == "interrupted" }, "\(watch.stdout.suffix(1500))")
        #expect(watch.stderr.contains("ended interrupted without a report"))
    }

    @Test func daemonDownIsAClearMessageForEveryCommand() throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("clid")
        defer { directory.remove() }
        let port = try TestEnvironment.freePort()
        for arguments in [["diagnose", "x", "--no-follow"], ["status", "00000000-0000-0000-0000-000000000000"], ["sessions"], ["watch", "00000000-0000-0000-0000-000000000000"]] {
            let child = try ChildProcess(TestEnvironment.binary("sre-diagnose"), arguments, environment: ["SRE_DIAGNOSE_URL": "http://127.0.0.1:\(port)"], directory: directory, name: "down")
            #expect(child.wait(timeout: 60) == 1, "\(arguments)")
            #expect(child.stderr.contains("Is sre-diagnose.socket enabled? systemctl status sre-diagnose"), "\(arguments): \(child.stderr)")
        }
    }
}
