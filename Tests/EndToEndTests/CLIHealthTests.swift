import Foundation
import TestSupport
import Testing

@Suite struct CLIHealthTests {
    @Test func versionAndHealthAgainstARealDaemon() throws {
        let daemon = try DaemonProcess()
        defer { daemon.cleanUp() }
        let version = try ChildProcess(TestEnvironment.binary("sre-diagnose"), ["--version"], directory: daemon.directory)
        #expect(version.wait() == 0)
        #expect(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0.1.0")

        let env = ["SRE_DIAGNOSE_URL": "http://127.0.0.1:\(daemon.port)"]
        let text = try ChildProcess(TestEnvironment.binary("sre-diagnose"), ["health"], environment: env, directory: daemon.directory)
        #expect(text.wait() == 0)
        #expect(text.stdout.contains("sre-diagnosed 0.1.0 at http://127.0.0.1:\(daemon.port): ok"), "\(text.stdout)")

        let json = try ChildProcess(TestEnvironment.binary("sre-diagnose"), ["health", "--json"], environment: env, directory: daemon.directory)
        #expect(json.wait() == 0)
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(object?["status"] as? String == "ok")
        #expect(object?["active_sessions"] as? Int == 0)
    }

    @Test func daemonDownIsAClearMessageAndExit1() throws {
        let dir = try TestEnvironment.makeTemporaryDirectory("cli")
        defer { dir.remove() }
        let port = try TestEnvironment.freePort()
        let cli = try ChildProcess(TestEnvironment.binary("sre-diagnose"), ["health"], environment: ["SRE_DIAGNOSE_URL": "http://127.0.0.1:\(port)"], directory: dir)
        #expect(cli.wait() == 1)
        #expect(cli.stderr.contains("cannot reach sre-diagnosed at http://127.0.0.1:\(port)"))
        #expect(cli.stderr.contains("systemctl status sre-diagnose"))
    }
}
