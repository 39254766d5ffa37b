import Foundation
import TestSupport
import Testing

/// Structured journal fields, checked against a real `systemd-journald` that the test starts in
/// a private mount namespace (tmpfs over /run/systemd, /run/log and /var/log/journal, so the
/// host's journal is untouched).
@Suite struct JournalTests {
    /// Runs `body` (bash) in a private mount namespace with a private journald running, after
    /// `SRE_DAEMON` has started; returns journalctl's JSON lines for the daemon.
    static func runWithPrivateJournal(dir: TemporaryDirectory, port: Int, body: String) throws -> [[String: Any]] {
        let script = """
            set -eu
            mount -t tmpfs -o mode=0755 tmpfs /run/systemd
            mkdir -p /run/systemd/journal
            mount -t tmpfs -o mode=0755 tmpfs /run/log
            if [ -d /var/log/journal ]; then mount -t tmpfs -o mode=0755 tmpfs /var/log/journal; fi
            /lib/systemd/systemd-journald >"\(dir.path)/journald.out" 2>&1 &
            JOURNALD=$!
            for i in $(seq 100); do [ -S /run/systemd/journal/socket ] && break; sleep 0.05; done
            "\(TestEnvironment.binary("sre-diagnosed"))" --config "\(dir.file("config.yaml"))" \\
                --state-directory "\(dir.file("state"))" --log-target journal --listen 127.0.0.1:\(port) &
            DAEMON=$!
            for i in $(seq 200); do curl -sf http://127.0.0.1:\(port)/health >/dev/null && break; sleep 0.05; done
            \(body)
            kill -TERM $DAEMON; wait $DAEMON || true
            sleep 0.3
            journalctl -D /run/log/journal --no-pager -o json SYSLOG_IDENTIFIER=sre-diagnosed > "\(dir.file("journal.json"))"
            kill $JOURNALD
            """
        try dir.write("journal-test.sh", script)
        let run = try ChildProcess("/usr/bin/unshare", ["--mount", "--propagation", "private", "bash", dir.file("journal-test.sh")], directory: dir, name: "unshare")
        #expect(run.wait(timeout: 60) == 0, "\(run.stderr)")
        let lines = (try String(contentsOfFile: dir.file("journal.json"), encoding: .utf8)).split(separator: "\n")
        return lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    @Test func daemonLogsCarryStructuredFields() throws {
        let dir = try TestEnvironment.makeTemporaryDirectory("jrnl")
        defer { dir.remove() }
        try dir.write("config.yaml", "")
        let port = try TestEnvironment.freePort()
        let body = """
            curl -s -X POST -H 'Content-Type: application/json' -d '{"problem":"journal check"}' http://127.0.0.1:\(port)/diagnose > "\(dir.file("accepted.json"))"
            id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["session_id"])' "\(dir.file("accepted.json"))")
            for i in $(seq 100); do curl -sf "http://127.0.0.1:\(port)/sessions/$id/report" > "\(dir.file("report.json"))" && break; sleep 0.1; done
            """
        let entries = try Self.runWithPrivateJournal(dir: dir, port: port, body: body)
        let started = try #require(entries.first { ($0["MESSAGE"] as? String)?.contains("starting") == true }, "\(entries)")
        #expect(started["MESSAGE_ID"] as? String == "4f1c0c5b3a0e4d1f9b8a6b5c0e2d7a01")
        #expect(started["PRIORITY"] as? String == "5")
        #expect((started["CODE_FILE"] as? String)?.hasSuffix(".swift") == true)
        #expect(Int(started["CODE_LINE"] as? String ?? "") != nil)
        let listening = try #require(entries.first { ($0["MESSAGE"] as? String)?.hasPrefix("listening on 127.0.0.1:\(port)") == true })
        #expect(listening["PRIORITY"] as? String == "6")
        #expect(entries.contains { $0["MESSAGE_ID"] as? String == "4f1c0c5b3a0e4d1f9b8a6b5c0e2d7a02" })

        // A session's lines carry SRE_SESSION_ID, so `journalctl SRE_SESSION_ID=…` follows it.
        let accepted = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir.file("accepted.json")))) as? [String: Any]
        let id = try #require(accepted?["session_id"] as? String)
        let sessionLines = entries.filter { $0["SRE_SESSION_ID"] as? String == id }
        #expect(sessionLines.contains { $0["MESSAGE_ID"] as? String == "4f1c0c5b3a0e4d1f9b8a6b5c0e2d7a10" }, "session started")
        #expect(sessionLines.contains { $0["MESSAGE_ID"] as? String == "4f1c0c5b3a0e4d1f9b8a6b5c0e2d7a11" }, "session finished")
        // Each domain's story: `journalctl SRE_DOMAIN=network` shows it start and finish.
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir.file("report.json")))) as? [String: Any]
        let ran = (report?["domains"] as? [[String: Any]] ?? []).filter { $0["outcome"] as? String != "skipped" }.compactMap { $0["domain"] as? String }
        #expect(!ran.isEmpty)
        for domain in ran {
            let lines = sessionLines.filter { $0["SRE_DOMAIN"] as? String == domain }.compactMap { $0["MESSAGE"] as? String }
            #expect(lines.contains { $0.hasPrefix("\(domain): running") } && lines.contains { $0.hasPrefix("\(domain) completed") || $0.hasPrefix("\(domain) failed") }, "\(domain): \(lines)")
        }
        #expect(!entries.contains { ($0["MESSAGE"] as? String)?.contains("Failed to set thread priority") == true }, "no libdispatch noise")
    }
}
