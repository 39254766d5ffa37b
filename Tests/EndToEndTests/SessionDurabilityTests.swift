import Foundation
import TestSupport
import Testing

/// Restarts, crashes and live streams against real daemon processes.
@Suite struct SessionDurabilityTests {
    static func events(_ daemon: DaemonProcess, _ id: String) throws -> [SSEEvent] {
        // The stream of a finished session replays everything and closes.
        try SSEClient(daemon.target, path: "/sessions/\(id)/events").rest()
    }

    @Test func killedDaemonLosesNoAcknowledgedEventAndMarksSessionsInterrupted() throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("rst")
        defer { directory.remove() }
        let port = try TestEnvironment.freePort()
        let first = try SessionAPITests.start(sleep: 40, directory: directory, port: port)
        let id = try SessionAPITests.diagnose(first, "slow")
        // Read the live stream until the runner is running: everything up to there was
        // acknowledged (published only after it was stored).
        let sse = try SSEClient(first.target, path: "/sessions/\(id)/events")
        var seen: [SSEEvent] = []
        while let event = try sse.next() {
            seen.append(event)
            if event.event == "probe_progress" { break }
        }
        sse.close()
        let runnerPid = seen.compactMap { ($0.json["data"] as? [String: Any])?["pid"] as? Int }.first
        first.child.signal(SIGKILL)
        #expect(first.child.wait() == 137)
        // The runner notices its daemon is gone and exits, taking its tool with it.
        if let runnerPid {
            #expect(TestEnvironment.waitUntil(timeout: 2) { !TestEnvironment.processAlive(Int32(runnerPid)) }, "runner \(runnerPid) outlived its daemon")
        } else {
            Issue.record("no runner pid in the stream")
        }
        #expect(TestEnvironment.waitUntil(timeout: 2) { !TestEnvironment.commandLines().contains { $0.hasPrefix("sleep\n40") } })

        let second = try SessionAPITests.start(sleep: 40, directory: directory, port: port)
        defer { second.cleanUp(keepDirectory: true) }
        let status = try second.get("/status/\(id)").json
        #expect(status["status"] as? String == "interrupted")
        #expect(status["phase"] as? String == "done")
        let domains = status["domains"] as? [[String: Any]] ?? []
        #expect(!domains.isEmpty && domains.allSatisfy { $0["state"] as? String != "running" }, "\(domains)")
        #expect(domains.contains { $0["state"] as? String == "interrupted" }, "\(domains)")
        let listed = try #require((try second.get("/sessions").json["sessions"] as? [[String: Any]])?.first { $0["session_id"] as? String == id })
        #expect(listed["phase"] as? String == "done")
        let replay = try Self.events(second, id)
        #expect(replay.count == seen.count + 1, "everything acknowledged before the kill, plus the interruption")
        #expect(Array(replay.prefix(seen.count)).map(\.id) == seen.map(\.id))
        #expect(Array(replay.prefix(seen.count)).map(\.data) == seen.map(\.data))
        #expect(replay.map { $0.id ?? 0 } == Array(1...replay.count), "gapless sequence")
        let last = try #require(replay.last)
        #expect(last.event == "status")
        #expect((last.json["data"] as? [String: Any])?["status"] as? String == "interrupted")
    }

    @Test func sseResumesWithLastEventIDExactlyOnce() throws {
        let daemon = try SessionAPITests.start()
        defer { daemon.cleanUp() }
        let id = try SessionAPITests.diagnose(daemon, "local")
        let first = try SSEClient(daemon.target, path: "/sessions/\(id)/events")
        #expect(first.status == 200)
        #expect(first.headers["content-type"] == "text/event-stream")
        var received: [SSEEvent] = []
        for _ in 0..<3 { if let event = try first.next() { received.append(event) } }
        first.close()
        let lastID = try #require(received.last?.id)
        let resumed = try SSEClient(daemon.target, path: "/sessions/\(id)/events", lastEventID: lastID)
        received += try resumed.rest()
        let ids = received.compactMap(\.id)
        #expect(ids == Array(1...ids.count), "every event exactly once, in order: \(ids)")
        #expect(received.last?.event == "status")
        #expect((received.last?.json["data"] as? [String: Any])?["status"] as? String == "completed")
        #expect(received.contains { $0.event == "report" })
        // A finished session replays and closes.
        let again = try Self.events(daemon, id)
        #expect(again.count == ids.count)
    }

    @Test func manySubscribersSeeTheWholeStreamAndHeartbeats() throws {
        let daemon = try SessionAPITests.start(sleep: 2)
        defer { daemon.cleanUp() }
        let id = try SessionAPITests.diagnose(daemon, "slow")
        let clients = try (0..<20).map { _ in try SSEClient(daemon.target, path: "/sessions/\(id)/events") }
        let results = clients.map { client in (try? client.rest()) ?? [] }
        let reference = try #require(results.first)
        #expect(!reference.isEmpty)
        for result in results {
            #expect(result.map(\.id) == reference.map(\.id))
        }
        // The runner slept 2 s with heartbeats every 0.3 s.
        #expect(clients.allSatisfy { $0.comments >= 2 }, "\(clients.map(\.comments))")
        #expect((reference.last?.json["data"] as? [String: Any])?["status"] as? String == "completed")
    }

    @Test func gracefulStopInterruptsRunningSessionsAndClosesStreams() throws {
        let daemon = try SessionAPITests.start(sleep: 40)
        defer { daemon.cleanUp() }
        let id = try SessionAPITests.diagnose(daemon, "slow")
        let sse = try SSEClient(daemon.target, path: "/sessions/\(id)/events")
        while let event = try sse.next(), event.event != "probe_progress" {}
        daemon.child.signal(SIGTERM)
        let rest = try sse.rest()
        #expect((rest.last?.json["data"] as? [String: Any])?["status"] as? String == "interrupted")
        let status = daemon.child.wait(timeout: 10)
        #expect(status == 0, "\(daemon.child.stderr.prefix(6000))")
    }
}
