import Foundation

/// The test certificates of `Tests/Fixtures/make_certs.py` (a CA and certificates it signed:
/// valid, expired, expiring, wrongname) and an `openssl s_server` serving one of them.
public final class TLSTestServer: @unchecked Sendable {
    public let port: Int
    public let child: ChildProcess

    /// Writes the certificates into `directory`, serves `<certificate>.pem` on 127.0.0.1 and
    /// waits until it accepts connections.
    public init(certificate: String, directory: TemporaryDirectory) throws {
        let certificates = try ChildProcess("/usr/bin/env", ["python3", TestEnvironment.fixture("make_certs.py"), directory.path], directory: directory, name: "certs")
        guard certificates.wait() == 0 else { throw TestHTTPError.io("make_certs.py failed: \(certificates.stderr)") }
        port = try TestEnvironment.freePort()
        child = try ChildProcess(
            "/usr/bin/openssl",
            ["s_server", "-accept", "127.0.0.1:\(port)", "-cert", directory.file("\(certificate).pem"), "-key", directory.file("\(certificate).key"), "-www", "-quiet"],
            directory: directory, name: "s_server"
        )
        let port = self.port
        guard TestEnvironment.waitUntil({ (try? RawSocket.connect(.tcp(port: port), timeout: 1))?.close() != nil }) else {
            child.stop()
            throw TestHTTPError.connect("openssl s_server did not start: \(child.stderr)")
        }
    }

    public func stop() { child.stop() }
}
