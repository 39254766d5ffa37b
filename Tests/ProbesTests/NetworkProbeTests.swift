import DiagnosisModel
import Foundation
import Probes
import TestSupport
import Testing

/// Network probes against real servers started here: `openssl s_server` with certificates made
/// at test time, a Python HTTP server, closed ports and a listener whose backlog is full.
@Suite struct NetworkProbeTests {
    static func certificates() throws -> TemporaryDirectory {
        let directory = try TestEnvironment.makeTemporaryDirectory("cert")
        let run = try ChildProcess("/usr/bin/env", ["python3", TestEnvironment.fixture("make_certs.py"), directory.path], directory: directory, name: "certs")
        #expect(run.wait() == 0, "\(run.stderr)")
        return directory
    }

    /// `openssl s_server` serving `name`.pem on a free port.
    static func tlsServer(_ name: String, in directory: TemporaryDirectory, chain: Bool = false) throws -> (ChildProcess, Int) {
        let port = try TestEnvironment.freePort()
        let server = try ChildProcess(
            "/usr/bin/openssl",
            ["s_server", "-accept", "127.0.0.1:\(port)", "-cert", directory.file("\(name).pem"), "-key", directory.file("\(name).key"), "-www", "-quiet"],
            directory: directory, name: "s_server-\(name)"
        )
        #expect(TestEnvironment.waitUntil { (try? RawSocket.connect(.tcp(port: port), timeout: 1))?.close() != nil })
        return (server, port)
    }

    @Test func tlsCertificates() async throws {
        let certs = try Self.certificates()
        defer { certs.remove() }
        var servers: [ChildProcess] = []
        defer { servers.forEach { $0.stop() } }
        func check(_ name: String, _ params: [String: JSONValue] = [:]) async throws -> ProbeRun {
            let (server, port) = try Self.tlsServer(name, in: certs)
            servers.append(server)
            return await ProbeHarness.run(TLSProbe(), target: "localhost:\(port)", params: params)
        }
        let expired = try await check("expired")
        #expect(expired.codes == ["net.tls_expired"], "\(expired.findings.map(\.title)) \(String(describing: expired.error))")
        #expect(expired.first("net.tls_expired")?.severity == .critical)

        let expiring = try await check("expiring", ["ca_file": .string(certs.file("ca.pem"))])
        #expect(expiring.codes == ["net.tls_expiring"], "\(expiring.findings.map(\.title))")

        let selfSigned = try await check("selfsigned")
        #expect(selfSigned.codes == ["net.tls_untrusted"], "\(selfSigned.findings.map(\.title))")

        let valid = try await check("valid", ["ca_file": .string(certs.file("ca.pem"))])
        #expect(valid.codes == ["net.ok"], "\(valid.findings.map { "\($0.title) \($0.detail)" })")

        let wrongName = try await check("wrongname", ["ca_file": .string(certs.file("ca.pem"))])
        #expect(wrongName.codes == ["net.tls_untrusted"], "\(wrongName.findings.map(\.title))")
        #expect(wrongName.first("net.tls_untrusted")?.title.contains("does not match") == true, "\(wrongName.findings.map(\.title))")
    }

    @Test func httpStatusLatencyAndErrors() async throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("http")
        defer { directory.remove() }
        let server = try ChildProcess("/usr/bin/python3", [TestEnvironment.fixture("http_status_server.py"), directory.file("port")], directory: directory)
        defer { server.stop() }
        #expect(TestEnvironment.waitUntil { FileManager.default.fileExists(atPath: directory.file("port")) })
        let port = try String(contentsOfFile: directory.file("port"), encoding: .utf8)
        let base = "http://127.0.0.1:\(port)"
        #expect(await ProbeHarness.run(HTTPProbe(), target: "\(base)/status/200").codes == ["net.ok"])
        let failing = await ProbeHarness.run(HTTPProbe(), target: "\(base)/status/503")
        #expect(failing.codes == ["net.http_error"])
        #expect(failing.first("net.http_error")?.severity == .high)
        #expect(await ProbeHarness.run(HTTPProbe(), target: "\(base)/slow/700", params: ["slow_ms": 300]).codes == ["net.http_slow"])
        #expect(await ProbeHarness.run(HTTPProbe(), target: "\(base)/slow/3000", params: ["timeout_s": 1]).codes == ["net.http_slow"])
        let closed = try TestEnvironment.freePort()
        #expect(await ProbeHarness.run(HTTPProbe(), target: "http://127.0.0.1:\(closed)/").codes == ["net.tcp_refused"])
        #expect(await ProbeHarness.run(HTTPProbe(), target: "http://no-such-host.invalid/").codes == ["net.dns_failure"])

        let certs = try Self.certificates()
        defer { certs.remove() }
        let (tls, tlsPort) = try Self.tlsServer("expired", in: certs)
        defer { tls.stop() }
        #expect(await ProbeHarness.run(HTTPProbe(), target: "https://localhost:\(tlsPort)/").codes == ["net.tls_untrusted"])
    }

    @Test func tcpRefusedTimeoutAndDNS() async throws {
        let closed = try TestEnvironment.freePort()
        #expect(await ProbeHarness.run(TCPConnectProbe(), target: "127.0.0.1:\(closed)").codes == ["net.tcp_refused"])
        // A listener that never accepts, its backlog filled: new SYNs are dropped.
        let silent = try TestEnvironment.boundSocket(backlog: 0)
        defer { close(silent.fd) }
        var fillers: [RawSocket] = []
        for _ in 0..<4 { if let socket = try? RawSocket.connect(.tcp(port: silent.port), timeout: 0.3) { fillers.append(socket) } }
        defer { fillers.forEach { $0.close() } }
        let timedOut = await ProbeHarness.run(TCPConnectProbe(), target: "127.0.0.1:\(silent.port)", params: ["connect_timeout_s": 1])
        #expect(timedOut.codes == ["net.tcp_timeout"], "\(timedOut.findings.map(\.title))")
        #expect(await ProbeHarness.run(DNSProbe(), target: "nothing-here.invalid").codes == ["net.dns_failure"])
        #expect(await ProbeHarness.run(DNSProbe(), target: "localhost").codes == ["net.ok"])
    }
}

@Suite struct CABundleTests {
    @Test func anInternalCAIsAddedToTheSystemRootsNotSubstitutedForThem() throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("cab")
        defer { directory.remove() }
        let internalCA = try directory.write("internal.pem", "-----BEGIN CERTIFICATE-----\nINTERNAL\n-----END CERTIFICATE-----\n")
        let path = try #require(CABundle.combined(with: internalCA, directory: directory.path))
        let bundle = try String(contentsOfFile: path, encoding: .utf8)
        #expect(bundle.hasSuffix("-----BEGIN CERTIFICATE-----\nINTERNAL\n-----END CERTIFICATE-----\n"))
        let system = (try? String(contentsOfFile: "/etc/ssl/certs/ca-certificates.crt", encoding: .utf8)) ?? ""
        #expect(bundle.count > system.count && bundle.hasPrefix(String(system.prefix(200))), "the system's roots come first")
        #expect(CABundle.combined(with: directory.file("missing.pem"), directory: directory.path) == nil)
    }
}
