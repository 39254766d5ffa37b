import DiagnosisModel
import Foundation

/// `logs.journald`: error lines of the configured units over the lookback window, mined into
/// signatures, plus an error-rate spike check.
public struct JournaldProbe: Probe {
    public static let name = "logs.journald"
    public init() {}

    public func run(_ context: ProbeContext) async throws {
        let lookback = context.int("lookback_s") ?? 1800
        let units = context.strings("units")
        var arguments = ["--no-pager", "-o", "json", "--output-fields=MESSAGE,PRIORITY,_SYSTEMD_UNIT,SYSLOG_IDENTIFIER", "--since", "-\(lookback)s", "-n", String(context.int("max_entries") ?? 50000)]
        arguments += units.flatMap { ["-u", $0] }
        arguments += JournalSource.arguments(context)
        let result = try await context.tools.run("journalctl", arguments, timeout: context.remaining)
        guard result.exitCode == 0 else {
            throw ProbeError("journalctl failed: \(result.stderrText.split(separator: "\n").first ?? "exit \(result.exitCode ?? -1)")")
        }
        var miner = SignatureMiner()
        for entry in JournalEntries(data: result.stdout) {
            miner.linesSeen += 1
            guard let message = entry.message else { continue }
            let isError = entry.priority.map { $0 <= 3 } ?? SignatureMiner.isError(message)
            if isError || (entry.priority == 4 && SignatureMiner.isError(message)) {
                let level: SignatureMiner.Level = entry.priority.map { $0 <= 3 ? .error : .warning } ?? SignatureMiner.statedLevel(message) ?? .error
                miner.add(message, at: entry.time, source: entry.unit ?? "journal", level: level)
            }
        }
        let label = units.isEmpty ? "journal" : units.joined(separator: ", ")
        await LogFindings.report(miner, context: context, sourceLabel: label, lookback: TimeInterval(lookback))
    }
}
