import Foundation
import TestSupport
import Testing

/// An internal CA: with `tls.ca_file` its endpoints are fine; without it they are untrusted —
/// and the system's roots stay trusted either way.
@Suite struct TrustTests {
    @Test func anInternalCAIsTrustedOnlyWhereConfigured() throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("trust")
        defer { directory.remove() }
        let server = try TLSTestServer(certificate: "valid", directory: directory)
        defer { server.stop() }
        let port = server.port
        let endpoints = #"["tls://localhost:\#(port)", "https://localhost:\#(port)/"]"#
        let daemon = try DaemonProcess(config: """
            environments:
              internal:
                tls: {ca_file: "\(directory.file("ca.pem"))"}
                network: {endpoints: \(endpoints)}
              plain:
                network: {endpoints: \(endpoints)}
            """, directory: directory)
        defer { daemon.cleanUp(keepDirectory: true) }
        func codes(_ environment: String) throws -> [String: String] {
            let accepted = try daemon.post("/diagnose", ["problem": "TLS errors on the internal API", "environment": environment])
            let id = try #require(accepted.json["session_id"] as? String, "\(accepted.text)")
            _ = try SessionAPITests.waitForStatus(daemon, id) { $0 == "completed" }
            var result: [String: String] = [:]
            for finding in try daemon.get("/sessions/\(id)/report").json["findings"] as? [[String: Any]] ?? [] {
                result[finding["probe"] as? String ?? ""] = finding["code"] as? String
            }
            return result
        }
        let trusted = try codes("internal")
        #expect(trusted["net.tls"] == "net.ok" || trusted["net.tls"] == "net.tls_expiring", "\(trusted)")
        #expect(trusted["net.http"] == "net.ok", "\(trusted)")
        let untrusted = try codes("plain")
        #expect(untrusted["net.tls"] == "net.tls_untrusted", "\(untrusted)")
        #expect(untrusted["net.http"] == "net.tls_untrusted", "\(untrusted)")
    }
}
