import DiagnosisModel
import Foundation
import Probes
import TestSupport
import Testing

@Suite struct HostProbeTests {
    @Test func diskReportsAFullMountAndOkOtherwise() async throws {
        let fine = await ProbeHarness.run(DiskProbe(), target: "disks", params: ["mounts": ["/"]])
        #expect(fine.codes == ["host.ok"] || fine.codes == ["host.disk_full"], "\(fine.findings.map(\.title))")
        // A configured threshold below the real usage of / makes it "full".
        let full = await ProbeHarness.run(DiskProbe(), target: "disks", params: ["mounts": ["/"], "warn_percent": 0.001, "critical_percent": 99.9999])
        let finding = try #require(full.first("host.disk_full"), "\(full.codes)")
        #expect(finding.target == "/")
        #expect(finding.evidence.first?.rows?.first?.first == "/")
        let missing = await ProbeHarness.run(DiskProbe(), target: "disks", params: ["mounts": ["/not-a-mount"]])
        #expect(missing.logs.contains { $0.contains("not a mount point") })
    }

    @Test func memoryAndLoadReadProc() async throws {
        let memory = await ProbeHarness.run(MemoryProbe(), target: "memory")
        #expect(memory.error == nil)
        #expect(memory.findings.count == 1)
        #expect(memory.findings.first?.evidence.first?.rows?.contains { $0.first == "MemAvailable" } == true)
        let pressured = await ProbeHarness.run(MemoryProbe(), target: "memory", params: ["available_percent": 101])
        #expect(pressured.codes == ["host.memory_pressure"])
        let load = await ProbeHarness.run(LoadProbe(), target: "cpu", params: ["load_per_cpu": 0])
        #expect(load.codes == ["host.load_high"])
    }

    @Test func oomKillsFromAKernelJournal() async throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("oom")
        defer { directory.remove() }
        let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
        let journal = try Journals.make(in: directory, entries: [
            ["_TRANSPORT": "kernel", "PRIORITY": "3", "MESSAGE": "Out of memory: Killed process 4242 (java) total-vm:8123456kB, anon-rss:4000000kB", "__REALTIME_TIMESTAMP": "\(now - 60_000_000)"],
            ["_TRANSPORT": "kernel", "PRIORITY": "3", "MESSAGE": "Memory cgroup out of memory: Killed process 4300 (java) total-vm:8123456kB, anon-rss:3900000kB", "__REALTIME_TIMESTAMP": "\(now - 30_000_000)"],
            ["_TRANSPORT": "kernel", "PRIORITY": "6", "MESSAGE": "eth0: link up", "__REALTIME_TIMESTAMP": "\(now - 20_000_000)"],
        ])
        let run = await ProbeHarness.run(OOMProbe(), target: "kernel", params: ["journal_files": [.string(journal)]])
        let finding = try #require(run.first("host.oom_kill"), "\(run.codes) \(String(describing: run.error))")
        #expect(finding.title.contains("java ×2"))
        #expect(finding.tags == ["oom"])
        let quiet = try Journals.make(in: directory, name: "quiet", entries: [["_TRANSPORT": "kernel", "MESSAGE": "all good", "__REALTIME_TIMESTAMP": "\(now)"]])
        #expect(await ProbeHarness.run(OOMProbe(), target: "kernel", params: ["journal_files": [.string(quiet)]]).codes == ["host.ok"])
    }
}

/// Journals written with `systemd-journal-remote` from export-format input (read back with
/// `journalctl --file`), as a real journald would have stored them.
enum Journals {
    static func make(in directory: TemporaryDirectory, name: String = "test", entries: [[String: String]]) throws -> String {
        var export = ""
        for (index, entry) in entries.enumerated() {
            var fields = entry
            fields["__MONOTONIC_TIMESTAMP"] = fields["__MONOTONIC_TIMESTAMP"] ?? String(1000 + index)
            fields["_BOOT_ID"] = fields["_BOOT_ID"] ?? "0123456789abcdef0123456789abcdef"
            fields["_HOSTNAME"] = fields["_HOSTNAME"] ?? "test"
            for (key, value) in fields.sorted(by: { $0.key < $1.key }) { export += "\(key)=\(value)\n" }
            export += "\n"
        }
        let input = try directory.write("\(name).export", export)
        let output = directory.file("\(name).journal")
        try? FileManager.default.removeItem(atPath: output)
        let run = try ChildProcess("/bin/sh", ["-c", "/lib/systemd/systemd-journal-remote -o \(output) - < \(input)"], directory: directory, name: "journal-remote")
        guard run.wait() == 0 else { throw TestHTTPError.io("systemd-journal-remote failed: \(run.stderr)") }
        return output
    }
}

@Suite struct LogProbeTests {
    static func stamp(_ date: Date) -> String { JSONCoding.format(date) }

    @Test func fileErrorsAreMinedIntoSignaturesWithASpikeAcrossRotation() async throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("logs")
        defer { directory.remove() }
        let now = Date()
        // Rotated file: a quiet past with a few errors, 25–10 minutes ago.
        var older = ""
        for minute in stride(from: 25, to: 10, by: -1) {
            older += "\(Self.stamp(now.addingTimeInterval(-Double(minute) * 60))) INFO request served in 12 ms\n"
            if minute % 5 == 0 { older += "\(Self.stamp(now.addingTimeInterval(-Double(minute) * 60))) ERROR upstream timeout after 3000 ms to 10.0.0.\(minute)\n" }
        }
        try directory.write("app.log.1", older)
        // Current file: a burst in the last few minutes, one with a stack trace, and a line being
        // written (no newline yet).
        var current = ""
        for second in stride(from: 240, to: 0, by: -4) {
            let time = Self.stamp(now.addingTimeInterval(-Double(second)))
            current += "\(time) ERROR db pool: FATAL: sorry, too many clients already (pid \(1000 + second), conn \(UUID().uuidString))\n"
            current += "    at Pool.acquire (pool.js:\(second))\n"
        }
        current += "\(Self.stamp(now)) ERROR upstream timeout after 2999 ms to 10.0.0.99\n"
        current += "\(Self.stamp(now)) INFO still writing"
        try directory.write("app.log", current)

        let run = await ProbeHarness.run(LogFileProbe(), target: directory.file("*.log"), params: ["lookback_s": 1800])
        #expect(run.error == nil, "\(String(describing: run.error))")
        let signatures = run.findings.filter { $0.code == "logs.error_signature" }
        let pool = try #require(signatures.first { $0.title.contains("too many clients") }, "\(signatures.map(\.title))")
        #expect(pool.title.hasPrefix("60×"), "numbers, pids and UUIDs collapse into one template: \(pool.title)")
        #expect(pool.tags.contains("too_many_clients"))
        #expect(pool.severity == .high)
        let timeouts = try #require(signatures.first { $0.title.contains("upstream timeout") }, "\(signatures.map(\.title))")
        #expect(timeouts.title.hasPrefix("4×"), "3 from the rotated file + 1 current: \(timeouts.title)")
        #expect(timeouts.tags.contains("timeout"))
        let spike = try #require(run.first("logs.error_spike"), "\(run.codes)")
        #expect(spike.tags.contains("too_many_clients"))
        #expect(!run.findings.contains { $0.title.contains("request served") })
    }

    @Test func journaldUnitErrors() async throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("jrnl")
        defer { directory.remove() }
        let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
        var entries: [[String: String]] = []
        for index in 0..<12 {
            entries.append(["_SYSTEMD_UNIT": "api-gateway.service", "PRIORITY": "3", "MESSAGE": "dial tcp 10.1.2.\(index):5432: connect: connection refused", "__REALTIME_TIMESTAMP": "\(now - Int64(index) * 5_000_000)"])
        }
        entries.append(["_SYSTEMD_UNIT": "api-gateway.service", "PRIORITY": "6", "MESSAGE": "GET /healthz 200", "__REALTIME_TIMESTAMP": "\(now)"])
        entries.append(["_SYSTEMD_UNIT": "other.service", "PRIORITY": "3", "MESSAGE": "unrelated failure", "__REALTIME_TIMESTAMP": "\(now)"])
        let journal = try Journals.make(in: directory, entries: entries)
        let run = await ProbeHarness.run(JournaldProbe(), target: "api-gateway.service", params: ["units": ["api-gateway.service"], "journal_files": [.string(journal)]])
        #expect(run.error == nil, "\(String(describing: run.error))")
        let signature = try #require(run.first("logs.error_signature"), "\(run.codes)")
        #expect(signature.title.hasPrefix("12×"))
        #expect(signature.tags.contains("connection_refused"))
        #expect(!run.findings.contains { $0.title.contains("unrelated") })
        let empty = try Journals.make(in: directory, name: "empty", entries: [["_SYSTEMD_UNIT": "api-gateway.service", "PRIORITY": "6", "MESSAGE": "ok", "__REALTIME_TIMESTAMP": "\(now)"]])
        #expect(await ProbeHarness.run(JournaldProbe(), target: "x", params: ["units": ["api-gateway.service"], "journal_files": [.string(empty)]]).codes == ["logs.ok"])
    }

    @Test func signatureTemplates() {
        #expect(SignatureMinerTemplate.of("timeout after 3012 ms to 10.0.0.7:5432 id=550e8400-e29b-41d4-a716-446655440000") == SignatureMinerTemplate.of("timeout after 12 ms to 192.168.1.1:80 id=123e4567-e89b-12d3-a456-426614174000"))
        #expect(SignatureMinerTemplate.of("user 'alice' failed") == SignatureMinerTemplate.of("user 'bob' failed"))
        // Timestamps at any hour collapse: the hour's first digit must not split templates.
        #expect(SignatureMinerTemplate.of("2026-11-27T19:59:59.123Z ERROR upstream timeout") == SignatureMinerTemplate.of("2026-11-27T20:00:01.001Z ERROR upstream timeout"))
        #expect(SignatureMinerTemplate.of("2026-11-27T09:00:00Z ERROR x") == SignatureMinerTemplate.of("2026-01-01T23:10:00Z ERROR x"))
    }
}
