import DiagnosisModel
import Foundation
import TestSupport
import Testing

/// The outbox: a receiver that is down while reports are written — and a daemon killed with
/// kill -9 meanwhile — gets every notification after it returns, in order, once; a sink that
/// never answers gives up after its horizon with a session notice, without holding up the other.
@Suite struct NotificationDeliveryTests {
    @Test func aReceiverThatWasDownGetsEverythingInOrderOnce() throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("outbox")
        defer { directory.remove() }
        let secretFile = try directory.write("hmac.secret", "hmac-\(UUID().uuidString)", mode: 0o600)
        let receiverPort = try TestEnvironment.freePort()
        let deadPort = try TestEnvironment.freePort()
        let config = """
            notifications:
              retry: {initial: 100ms, max: 500ms, give_up_after: 10m}
              sinks:
                - {name: team, type: webhook, url: "http://127.0.0.1:\(receiverPort)/hook", secret: "file://\(secretFile)", events: [completed]}
                - {name: nobody, type: webhook, url: "http://127.0.0.1:\(deadPort)/hook", events: [completed], give_up_after: 2s}
            environments:
              local:
                checks: [{name: quick, domain: host, command: "true"}]
            """
        let daemon = try DaemonProcess(config: config, directory: directory)
        var sessions: [String] = []
        for index in 0..<3 {
            let id = try SessionAPITests.diagnose(daemon, "local", problem: "report number \(index)")
            _ = try SessionAPITests.waitForStatus(daemon, id) { $0 == "completed" }
            sessions.append(id)
        }
        // The receiver is down; the daemon dies with its deliveries pending.
        Thread.sleep(forTimeInterval: 0.5)
        daemon.child.signal(SIGKILL)
        _ = daemon.child.wait()
        let pending = try Self.pendingDeliveries(directory.file("state/sessions.sqlite"), sink: "team")
        #expect(pending == 3, "all three wait in the outbox")

        let log = directory.file("receiver.log")
        let receiver = try FixtureServer("webhook_receiver.py", [secretFile, log, String(receiverPort)], directory: directory)
        defer { receiver.stop() }
        let restarted = try DaemonProcess(config: config, directory: directory, port: daemon.port)
        defer { restarted.cleanUp() }
        #expect(TestEnvironment.waitUntil(timeout: 30) { FixtureServer.jsonLines(log).count >= 3 })
        Thread.sleep(forTimeInterval: 2)
        let deliveries = FixtureServer.jsonLines(log)
        #expect(deliveries.count == 3, "once each: \(deliveries.map { $0["delivery_id"] ?? "" })")
        #expect(deliveries.compactMap { ($0["body"] as? [String: Any])?["session_id"] as? String } == sessions, "in order")
        #expect(Set(deliveries.compactMap { $0["delivery_id"] as? String }).count == 3)
        #expect(deliveries.allSatisfy { $0["signature_ok"] as? Bool == true && $0["event"] as? String == "completed" })

        // The sink nobody answers gave up, and said so on the session.
        #expect(TestEnvironment.waitUntil(timeout: 30, interval: 0.5) {
            ((try? restarted.get("/sessions/\(sessions[0])/events").text) ?? "").contains("given up")
        })
        let events = try restarted.get("/sessions/\(sessions[0])/events").text
        #expect(events.contains("notification completed to nobody given up"), "\(events.suffix(600))")
    }

    static func pendingDeliveries(_ database: String, sink: String) throws -> Int {
        let query = try ChildProcess("/usr/bin/python3", ["-c", "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"select count(*) from outbox where state='pending' and sink=?\", (sys.argv[2],)).fetchone()[0])", database, sink], directory: try TestEnvironment.makeTemporaryDirectory("sq"), name: "sqlite")
        _ = query.wait()
        return Int(query.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }
}
