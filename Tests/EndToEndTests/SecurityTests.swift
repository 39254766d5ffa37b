import Foundation
import TestSupport
import Testing

/// The attacks of the security review, each against a real daemon: self-approval across
/// transports, requester tokens on the socket, foreign Host and Origin, slow bodies, rotating
/// source addresses, the session cap, cancelling others' sessions, hostile context.
@Suite struct SecurityTests {
    static let bearer = ["Authorization": "Bearer \(SessionAPITests.approverToken)"]

    /// A throwaway local account in a throwaway approver group, removed afterwards.
    struct LocalUser {
        let name: String
        let group: String
        let uid: UInt32

        static func create() throws -> LocalUser {
            let suffix = UUID().uuidString.prefix(6).lowercased()
            let name = "sre-t-\(suffix)"
            let group = "sre-ta-\(suffix)"
            try run("/usr/sbin/groupadd", [group])
            try run("/usr/sbin/useradd", ["-M", "-N", "-g", group, "-s", "/usr/sbin/nologin", name])
            let uid = try #require(UInt32(try run("/usr/bin/id", ["-u", name]).trimmingCharacters(in: .whitespacesAndNewlines)))
            return LocalUser(name: name, group: group, uid: uid)
        }

        func remove() {
            _ = try? run("/usr/sbin/userdel", [name])
            _ = try? run("/usr/sbin/groupdel", [group])
        }

        /// `curl` over the Unix socket as this account (`runuser`), no token.
        func curlUnix(_ socket: String, _ method: String, _ path: String, body: String? = nil) throws -> (status: Int, body: String) {
            var arguments = ["-u", name, "--", "/usr/bin/curl", "-s", "-o", "-", "-w", "\n%{http_code}", "--unix-socket", socket, "-X", method]
            if let body { arguments += ["-H", "Content-Type: application/json", "-d", body] }
            let output = try run("/usr/sbin/runuser", arguments + ["http://localhost\(path)"])
            let lines = output.split(separator: "\n", omittingEmptySubsequences: false)
            return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
        }
    }

    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TestHTTPError.io("\(executable) \(arguments) exited \(process.terminationStatus)") }
        return String(decoding: data, as: UTF8.self)
    }

    static func start(approverGroup: String = "sre-test-approvers-none", extraAuth: String = "", server: String = "", unixSocket: String? = nil, wrapper: [String] = []) throws -> DaemonProcess {
        let directory = try TestEnvironment.makeTemporaryDirectory("sec")
        let approver = try directory.write("alice.token", SessionAPITests.approverToken, mode: 0o600)
        let closed = try TestEnvironment.freePort()
        let config = """
            approval: {timeout: 10m}
            secrets: {allow_env_refs: true}
            server: {\(server)}
            auth:
              approvers: [{name: alice, token: "file://\(approver)"}]
              unix_socket_approver_group: \(approverGroup)
              \(extraAuth)
            environments:
              two:
                network: {endpoints: ["tcp://127.0.0.1:\(closed)"]}
                checks:
                  - {name: a, domain: database, command: sh, args: ["-c", "test -n \\"$X\\""], credential: "env://CRED_A", env: {value: X}}
              cluster:
                kubernetes: {kubeconfig: /nonexistent, namespaces: [payments, api]}
            """
        return try DaemonProcess(
            config: config, arguments: unixSocket.map { ["--listen", "unix:\($0)"] } ?? [],
            environment: ["CRED_A": "first-credential-value"], directory: directory, wrapper: wrapper
        )
    }

    static func pending(_ daemon: DaemonProcess, as account: TestAccount = .automatic) throws -> String {
        let accepted = try daemon.post("/diagnose", ["problem": "checkout errors", "environment": "two"], as: account)
        #expect(accepted.status == 202, "\(accepted.text)")
        let id = try #require(accepted.json["session_id"] as? String)
        _ = try SessionAPITests.waitForStatus(daemon, id) { $0 == "awaiting_approval" }
        return id
    }

    // MARK: 1. One identity per person

    /// A local user in the approver group asks over TCP and approves over the Unix socket (and
    /// with the approver token from the same account): both refused. Another person (root on
    /// the socket) may approve; the audit names uid and transport.
    @Test func selfApprovalAcrossTransportsIsRefused() throws {
        let user = try LocalUser.create()
        defer { user.remove() }
        let socket = "/tmp/sre-sec-\(UUID().uuidString.prefix(8)).sock"
        let daemon = try Self.start(approverGroup: user.group, unixSocket: socket)
        defer { daemon.cleanUp() }

        let id = try Self.pending(daemon, as: .uid(user.uid))

        let overSocket = try user.curlUnix(socket, "POST", "/approve/\(id)", body: #"{"approved":true}"#)
        #expect(overSocket.status == 403, "\(overSocket)")
        #expect(overSocket.body.contains("cannot approve their own credential request"), "\(overSocket.body)")
        let withToken = try daemon.post("/approve/\(id)", ["approved": true], headers: Self.bearer, as: .uid(user.uid))
        #expect(withToken.status == 403, "the same account holding an approver token: \(withToken.text)")

        // Root is someone else: it may approve, over the socket, without a token.
        let root = try TestHTTPClient.json(.unix(path: socket), "POST", "/approve/\(id)", ["approved": true, "comment": "second person"])
        #expect(root.status == 200, "\(root.text)")
        #expect(root.json["approver"] as? String == "user:root")
        _ = try SessionAPITests.waitForStatus(daemon, id) { $0 == "completed" }
        let audit = try #require(try daemon.get("/sessions/\(id)/audit").json["entries"] as? [[String: Any]])
        let requested = try #require(audit.first { $0["action"] as? String == "requested" })
        #expect(requested["actor"] as? String == "user:\(user.name)", "the kernel named the TCP client's account: \(requested)")
        #expect(requested["uid"] as? Int == Int(user.uid) && requested["transport"] as? String == "tcp", "\(requested)")
        let approved = try #require(audit.first { $0["action"] as? String == "approved" })
        #expect(approved["uid"] as? Int == 0 && approved["transport"] as? String == "unix", "\(approved)")
    }

    /// The reverse direction, and tokens: asked over the socket, approved over TCP with a token
    /// from the same account — refused; the same token from another account is someone else.
    @Test func tokenHolderCannotApproveWhatTheirOwnAccountAsked() throws {
        let daemon = try Self.start()
        defer { daemon.cleanUp() }
        let id = try Self.pending(daemon, as: .uid(TestAccount.developerUID))
        let same = try daemon.post("/approve/\(id)", ["approved": true], headers: Self.bearer, as: .uid(TestAccount.developerUID))
        #expect(same.status == 403, "\(same.text)")
        let other = try daemon.post("/approve/\(id)", ["approved": true], headers: Self.bearer, as: .own)
        #expect(other.status == 200, "\(other.text)")
    }

    // MARK: 2. auth.requesters on every listener

    @Test func requesterTokensApplyOnTheUnixSocketToo() throws {
        let socket = "/tmp/sre-sec-\(UUID().uuidString.prefix(8)).sock"
        let directory = try TestEnvironment.makeTemporaryDirectory("sect")
        defer { directory.remove() }
        let bob = try directory.write("bob.token", "bob-requester-token-0123456789", mode: 0o644)
        let daemon = try Self.start(extraAuth: "requesters: [{name: bob, token: \"file://\(bob)\"}]", unixSocket: socket)
        defer { daemon.cleanUp() }
        let user = try LocalUser.create()
        defer { user.remove() }
        // An ordinary local account without a token: nothing but health.
        #expect(try user.curlUnix(socket, "GET", "/sessions").status == 401)
        #expect(try user.curlUnix(socket, "POST", "/diagnose", body: #"{"problem":"x","environment":"two"}"#).status == 401)
        #expect(try user.curlUnix(socket, "GET", "/environments").status == 401)
        #expect(try user.curlUnix(socket, "GET", "/health").status == 200)
        // Loopback TCP without a token: the same.
        #expect(try daemon.get("/sessions").status == 401)
        // With bob's token it works; root (an approver) on the socket too.
        #expect(try daemon.get("/sessions", headers: ["Authorization": "Bearer bob-requester-token-0123456789"]).status == 200)
        #expect(try TestHTTPClient.request(.unix(path: socket), "GET", "/sessions").status == 200)
    }

    // MARK: 3. Host, Origin, CSP

    @Test func foreignHostAndCrossOriginWritesAreRefused() throws {
        let daemon = try Self.start()
        defer { daemon.cleanUp() }
        let rebound = try daemon.get("/", headers: ["Host": "attacker.example:\(daemon.port)"])
        #expect(rebound.status == 421, "\(rebound.status)")
        #expect(rebound.errorCode == "host_not_allowed")
        #expect(try daemon.get("/sessions", headers: ["Host": "attacker.example"]).status == 421)
        #expect(try daemon.get("/health", headers: ["Host": "localhost:\(daemon.port)"]).status == 200)
        #expect(try daemon.get("/health", headers: ["Host": "127.0.0.1:\(daemon.port)"]).status == 200)

        let body = ["problem": "db down", "environment": "two"]
        let foreign = try daemon.post("/diagnose", body, headers: ["Origin": "http://attacker.example", "Host": "127.0.0.1:\(daemon.port)"])
        #expect(foreign.status == 403 && foreign.errorCode == "origin_not_allowed", "\(foreign.text)")
        let otherPort = try daemon.post("/diagnose", body, headers: ["Origin": "http://127.0.0.1:1", "Host": "127.0.0.1:\(daemon.port)"])
        #expect(otherPort.status == 403, "another local origin is another site")
        let same = try daemon.post("/diagnose", body, headers: ["Origin": "http://127.0.0.1:\(daemon.port)", "Host": "127.0.0.1:\(daemon.port)"])
        #expect(same.status == 202, "\(same.text)")

        let page = try daemon.get("/")
        let csp = try #require(page.headers["content-security-policy"])
        #expect(csp.contains("default-src 'self'") && csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"))
        #expect(!page.text.contains("<script>"), "no inline script")
        #expect(page.headers["x-frame-options"] == "DENY")
        #expect(try daemon.get("/sessions").headers["x-content-type-options"] == "nosniff")
        #expect(try daemon.get("/dashboard.js").headers["content-type"]?.hasPrefix("text/javascript") == true)
    }

    // MARK: 4. Slow bodies, connection cap

    /// With 256 descriptors the daemon takes at most 128 connections. 100 clients that trickle
    /// their bodies do not stop `/health`; 100 more get a JSON 503 at once; the body deadline
    /// frees every slot; nothing is logged as an internal error.
    @Test func slowBodiesAreCutOffAndAFloodGetsA503() throws {
        let daemon = try Self.start(server: "body_timeout: 3s, header_timeout: 3s", wrapper: ["/usr/bin/prlimit", "--nofile=256:256", "--"])
        defer { daemon.cleanUp() }
        #expect(daemon.child.stderr.contains("at most 128 open connections"), "\(daemon.child.stderr.prefix(2000))")
        func slow(timeout: Double = 10) throws -> RawSocket {
            let socket = try RawSocket.connect(daemon.target, timeout: timeout)
            try socket.write(Data("POST /diagnose HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{".utf8))
            return socket
        }
        let held = try (0..<100).map { _ in try slow() }
        defer { for socket in held { socket.close() } }
        Thread.sleep(forTimeInterval: 0.3)
        #expect(try daemon.get("/health").status == 200, "a hundred slow clients leave room")

        // A hundred more: the first ones fill the limit, the rest are answered 503 at once.
        let flood = try (0..<100).map { _ in try slow(timeout: 0.2) }
        defer { for socket in flood { socket.close() } }
        var refused = 0
        for socket in flood {
            guard let answer = try? socket.readSome() else { continue }
            let text = String(decoding: answer, as: UTF8.self)
            if text.hasPrefix("HTTP/1.1 503") {
                #expect(text.contains(#""code":"too_many_connections""#), "\(text)")
                refused += 1
            }
        }
        #expect(refused >= 60, "the connections over the limit were answered 503 (\(refused))")

        // The body deadline closes every slow connection; then /health answers again.
        let cutOff = TestEnvironment.waitUntil(timeout: 10) { (try? daemon.get("/health").status) == 200 }
        #expect(cutOff)
        var closed = 0
        for socket in held.prefix(100) where (try? socket.readSome()) == nil { closed += 1 }
        #expect(closed >= 95, "the daemon closed the slow connections (\(closed) of 100)")
        #expect(daemon.child.isRunning)
        #expect(!daemon.child.stderr.contains("internal error"), "aborted bodies are not internal errors")
    }

    // MARK: 5. Rate limits and caps per person

    @Test func rateLimitFollowsThePersonNotTheSourceAddress() throws {
        let daemon = try Self.start(server: "diagnose_rate_per_minute: 3")
        defer { daemon.cleanUp() }
        var statuses: [Int] = []
        for index in 2...12 {
            let result = try TestHTTPClient.json(
                daemon.target, "POST", "/diagnose", ["problem": "db", "environment": "two"], uid: TestAccount.developerUID, source: "127.0.0.\(index)"
            )
            statuses.append(result.status)
            if result.status == 429 { #expect(result.errorCode == "rate_limited" && result.headers["retry-after"] != nil) }
        }
        #expect(statuses.filter { $0 == 202 }.count == 3, "\(statuses)")
        #expect(statuses.filter { $0 == 429 }.count == 8, "\(statuses)")
        // Another person is not limited by the first one's use.
        #expect(try daemon.post("/diagnose", ["problem": "db", "environment": "two"], as: .uid(65533)).status == 202)
    }

    @Test func openSessionsAreCappedPerPersonAndInTotal() throws {
        let daemon = try Self.start(server: "max_open_sessions_per_identity: 2, max_open_sessions: 3")
        defer { daemon.cleanUp() }
        func ask(_ uid: UInt32) throws -> HTTPResult { try daemon.post("/diagnose", ["problem": "db", "environment": "two"], as: .uid(uid)) }
        #expect(try ask(65534).status == 202)
        #expect(try ask(65534).status == 202)
        let third = try ask(65534)
        #expect(third.status == 429 && third.errorCode == "too_many_sessions", "\(third.text)")
        #expect(try ask(65533).status == 202)
        let total = try ask(65532)
        #expect(total.status == 429 && total.text.contains("max_open_sessions"), "\(total.text)")
    }

    // MARK: 6. Smaller ones

    @Test func onlyTheRequesterOrAnApproverMayCancel() throws {
        let daemon = try Self.start()
        defer { daemon.cleanUp() }
        let id = try Self.pending(daemon)
        let stranger = try daemon.post("/sessions/\(id)/cancel", [:] as [String: String], as: .uid(65533))
        #expect(stranger.status == 403, "\(stranger.text)")
        let own = try daemon.post("/sessions/\(id)/cancel", [:] as [String: String])
        #expect(own.status == 200, "\(own.text)")
    }

    @Test func contextCannotWidenTheInventory() throws {
        let daemon = try Self.start()
        defer { daemon.cleanUp() }
        for namespace in ["-n --kubeconfig=/etc/shadow", "--kubeconfig=/tmp/x", "kube-system"] {
            let result = try daemon.post("/diagnose", ["problem": "pods crash", "environment": "cluster", "context": ["namespace": namespace]])
            #expect(result.status == 422, "\(namespace): \(result.text)")
            #expect(result.text.contains("not one of this environment's namespaces"))
        }
        #expect(try daemon.post("/diagnose", ["problem": "pods crash", "environment": "cluster", "context": ["namespace": "payments"]]).status == 202)
    }

    @Test func unparsableRequestsGetAJSONError() throws {
        let daemon = try Self.start()
        defer { daemon.cleanUp() }
        for garbage in ["GARBAGE LINE\r\n\r\n", "GET /health HTTP/1.1\r\nHost: localhost\r\nContent-Length: abc\r\n\r\n"] {
            let socket = try RawSocket.connect(daemon.target)
            defer { socket.close() }
            try socket.write(Data(garbage.utf8))
            let answer = String(decoding: try socket.readToEnd(), as: UTF8.self)
            #expect(answer.hasPrefix("HTTP/1.1 400"), "\(answer)")
            #expect(answer.contains("Content-Type: application/json") && answer.contains(#""code":"bad_request""#), "\(answer)")
        }
        #expect(try daemon.get("/health").status == 200)
    }

    @Test func checkConfigLoadsPlaybooks() throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("pbk")
        defer { directory.remove() }
        try FileManager.default.createDirectory(atPath: directory.file("playbooks"), withIntermediateDirectories: true)
        _ = try directory.write("playbooks/broken.yaml", "name: broken\nmatch: [this is not a mapping\n")
        let config = try directory.write("config.yaml", "playbooks: {directories: [\"\(directory.file("playbooks"))\"]}\n")
        let check = try ChildProcess(TestEnvironment.binary("sre-diagnosed"), ["--config", config, "--check-config"], directory: directory, name: "check")
        #expect(check.wait(timeout: 30) == 78, "\(check.stdout) \(check.stderr)")
        #expect(check.stderr.contains("broken.yaml"), "\(check.stderr)")
    }
}
