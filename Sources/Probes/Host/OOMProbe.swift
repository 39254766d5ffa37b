import DiagnosisModel
import Foundation

/// `host.oom`: OOM kills in the kernel log (journald, `_TRANSPORT=kernel`) over the lookback.
public struct OOMProbe: Probe {
    public static let name = "host.oom"
    public init() {}

    public func run(_ context: ProbeContext) async throws {
        let lookback = context.int("lookback_s") ?? 3600
        var arguments = ["--no-pager", "-o", "json", "--output-fields=MESSAGE", "_TRANSPORT=kernel", "--since", "-\(lookback)s", "-n", "20000"]
        arguments += JournalSource.arguments(context)
        let result = try await context.tools.run("journalctl", arguments, timeout: context.remaining)
        guard result.exitCode == 0 else {
            throw ProbeError("journalctl failed: \(result.stderrText.split(separator: "\n").first ?? "exit \(result.exitCode ?? -1)")")
        }
        var kills: [[String]] = []
        for entry in JournalEntries(data: result.stdout) {
            guard let message = entry.message else { continue }
            // "Out of memory: Killed process 1234 (java) total-vm:…, anon-rss:…" and cgroup OOM kills.
            guard message.contains("Killed process") || message.contains("oom-kill") else { continue }
            if let range = message.range(of: #"Killed process (\d+) \(([^)]+)\)"#, options: .regularExpression) {
                let match = String(message[range])
                let pid = match.split(separator: " ").dropFirst(2).first.map(String.init) ?? "?"
                let name = match.split(separator: "(").last?.dropLast() ?? "?"
                let rss = message.range(of: #"anon-rss:\d+kB"#, options: .regularExpression).map { String(message[$0]) } ?? ""
                kills.append([entry.time.map(JSONCoding.format) ?? "?", String(name), pid, rss])
            }
        }
        if kills.isEmpty {
            await context.report(FindingDraft(code: .hostOK, severity: .ok, target: "kernel", title: "No OOM kills in the last \(lookback / 60) min"))
            return
        }
        let victims = Dictionary(grouping: kills, by: { $0[1] }).mapValues(\.count).sorted { $0.value > $1.value }
        await context.report(FindingDraft(
            code: .hostOOMKill, severity: .high, target: "kernel",
            title: "The kernel OOM killer ended \(kills.count) process(es): \(victims.prefix(3).map { "\($0.key) ×\($0.value)" }.joined(separator: ", "))",
            detail: "Memory ran out and the kernel killed processes; services restart or disappear.",
            evidence: [.table("OOM kills", columns: ["time", "process", "pid", "memory"], rows: Array(kills.suffix(20)))],
            remediation: "Check the killed service's memory limit and usage trend; fix the leak or raise the limit; see host.memory for pressure now.",
            tags: ["oom"]
        ))
    }
}
