import DiagnosisModel
import Foundation

/// Groups error lines into templates: numbers, ids, hex, UUIDs, IPs and quoted values become
/// placeholders, so "timeout after 3012 ms to 10.0.0.7" and "timeout after 2999 ms to 10.0.0.9"
/// count as one signature. Bounded: at most `maxTemplates` are kept.
struct SignatureMiner {
    /// How loud a line is: its own level (ERROR/FATAL, journald priority 3 and below) or a
    /// warning (WARN, priority 4) that reads like an error.
    enum Level: Sendable { case error, warning }

    struct Signature {
        var template: String
        var count = 0
        /// Lines at error level (the rest are warnings).
        var errors = 0
        var first: Date?
        var last: Date?
        var example: String
        var sources: Set<String> = []
        var times: [Date] = []
    }

    var signatures: [String: Signature] = [:]
    var totalErrors = 0
    var linesSeen = 0
    let maxTemplates: Int

    init(maxTemplates: Int = 2000) { self.maxTemplates = maxTemplates }

    /// Normalises a line into its template in one pass over its bytes: quoted values become
    /// `<str>`, UUIDs `<uuid>`, long hex runs and 0x… `<hex>`, dotted/colon-separated numbers
    /// (IPs, times, versions) and plain numbers `<n>`. Much faster than regular expressions, which
    /// matters for tens of thousands of lines.
    static func template(_ line: String) -> String {
        let bytes = Array(line.utf8.prefix(400))
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        func isHex(_ byte: UInt8) -> Bool { (48...57).contains(byte) || (97...102).contains(byte) || (65...70).contains(byte) }
        func isDigit(_ byte: UInt8) -> Bool { (48...57).contains(byte) }
        func isWordByte(_ byte: UInt8) -> Bool { isHex(byte) || (97...122).contains(byte) || (65...90).contains(byte) || byte == 95 }
        func append(_ text: String) { out.append(contentsOf: text.utf8) }
        while index < bytes.count {
            let byte = bytes[index]
            let previous: UInt8 = index > 0 ? bytes[index - 1] : 32
            // Quoted values.
            if byte == 34 || byte == 39 {
                if let close = bytes[(index + 1)...].firstIndex(of: byte) {
                    append(byte == 34 ? "\"<str>\"" : "'<str>'")
                    index = close + 1
                    continue
                }
            }
            // Tokens starting at a word boundary.
            if !isWordByte(previous) || previous == 95, isHex(byte) {
                var end = index
                while end < bytes.count, isHex(bytes[end]) || bytes[end] == 45 { end += 1 }
                let token = bytes[index..<end]
                let hexCount = token.filter(isHex).count
                let dashes = token.filter { $0 == 45 }.count
                if token.count == 36, dashes == 4 {
                    append("<uuid>")
                    index = end
                    continue
                }
                if byte == 48, index + 1 < bytes.count, bytes[index + 1] == 120 || bytes[index + 1] == 88 {
                    var hexEnd = index + 2
                    while hexEnd < bytes.count, isHex(bytes[hexEnd]) { hexEnd += 1 }
                    if hexEnd > index + 2 { append("<hex>"); index = hexEnd; continue }
                }
                if dashes == 0, hexCount >= 12, token.contains(where: { !isDigit($0) }), end >= bytes.count || !isWordByte(bytes[end]) {
                    append("<hex>")
                    index = end
                    continue
                }
            }
            // ISO 8601's "T" between date and time: "27T09:15" must not keep its hour's first digit.
            let afterDateSeparator = previous == 84 && index >= 2 && isDigit(bytes[index - 2])
            if isDigit(byte), !isWordByte(previous) || previous == 95 || isDigit(previous) || afterDateSeparator {
                // A number, possibly dotted or colon-separated (IPs, times, versions), with a unit.
                var end = index
                while end < bytes.count, isDigit(bytes[end]) || ((bytes[end] == 46 || bytes[end] == 58) && end + 1 < bytes.count && isDigit(bytes[end + 1])) { end += 1 }
                var unitEnd = end
                while unitEnd < bytes.count, (97...122).contains(bytes[unitEnd]) || (65...90).contains(bytes[unitEnd]) || bytes[unitEnd] == 37 { unitEnd += 1 }
                let unit = String(decoding: bytes[end..<unitEnd], as: UTF8.self)
                if ["ms", "s", "kB", "MB", "GB", "KiB", "MiB", "GiB", "%", "us", "ns", "m", "h"].contains(unit) { end = unitEnd }
                let dots = bytes[index..<end].filter { $0 == 46 }.count
                append(dots == 3 ? "<ip>" : "<n>")
                index = end
                continue
            }
            out.append(byte)
            index += 1
        }
        var text = String(decoding: out, as: UTF8.self)
        while text.contains("  ") { text = text.replacingOccurrences(of: "  ", with: " ") }
        return text.trimmingCharacters(in: .whitespaces)
    }

    static let errorWords = ["error", "fatal", "panic", "exception", "failed", "failure", "refused", "timeout", "timed out", "too many", "denied", "unavailable", "oom", "killed", "critical"]

    /// Whether a line (without a priority) reads as an error.
    static func isError(_ line: String) -> Bool {
        let lower = line.lowercased()
        if lower.contains(" info ") || lower.hasPrefix("info") || lower.contains("level=info") { return false }
        return errorWords.contains { lower.contains($0) }
    }

    /// The level a line states: `ERROR`, `FATAL`, `level=error`, `[error]` … or `WARN`; nil when
    /// it states none.
    static func statedLevel(_ line: String) -> Level? {
        let head = line.prefix(200)
        let upper = head.uppercased()
        for marker in ["ERROR", "FATAL", "CRIT", "PANIC", "EMERG", "ALERT", "SEVERE"] where upper.contains(marker) { return .error }
        for marker in ["WARN"] where upper.contains(marker) { return .warning }
        return nil
    }

    mutating func add(_ line: String, at time: Date?, source: String, level: Level = .error) {
        totalErrors += 1
        let key = Self.template(line)
        if var signature = signatures[key] {
            signature.count += 1
            if level == .error { signature.errors += 1 }
            if let time {
                signature.first = min(signature.first ?? time, time)
                signature.last = max(signature.last ?? time, time)
                if signature.times.count < 5000 { signature.times.append(time) }
            }
            signature.sources.insert(source)
            signatures[key] = signature
        } else if signatures.count < maxTemplates {
            var signature = Signature(template: key, example: String(line.prefix(500)))
            signature.count = 1
            signature.errors = level == .error ? 1 : 0
            signature.first = time
            signature.last = time
            if let time { signature.times = [time] }
            signature.sources = [source]
            signatures[key] = signature
        }
    }

    /// Known causes a signature names, for correlation across domains.
    static func causes(_ text: String) -> [String] {
        let lower = text.lowercased()
        var tags: [String] = []
        if lower.contains("too many clients") || lower.contains("too many connections") || lower.contains("remaining connection slots") || lower.contains("53300") || lower.contains("connection pool exhausted") || lower.contains("pool exhausted") { tags.append("too_many_clients") }
        if lower.contains("connection refused") || lower.contains("econnrefused") { tags.append("connection_refused") }
        if lower.contains("timeout") || lower.contains("timed out") || lower.contains("deadline exceeded") { tags.append("timeout") }
        if lower.contains("out of memory") || lower.contains("oom") || lower.contains("cannot allocate memory") || lower.contains("killed process") { tags.append("oom") }
        if lower.contains("certificate") || lower.contains("x509") || lower.contains("tls") || lower.contains("ssl") { tags.append("tls") }
        if lower.contains("password authentication failed") || lower.contains("authentication failed") || lower.contains("permission denied") || lower.contains("access denied") { tags.append("auth") }
        if lower.contains("no space left") || lower.contains("enospc") || lower.contains("disk full") { tags.append("disk_full") }
        if lower.contains("could not resolve") || lower.contains("no such host") || lower.contains("name or service not known") || lower.contains("nxdomain") { tags.append("dns") }
        if lower.contains("deadlock") || lower.contains("lock timeout") || lower.contains("could not obtain lock") { tags.append("locks") }
        return tags
    }

    var top: [Signature] {
        signatures.values.sorted { ($0.count, $1.template) > ($1.count, $0.template) }
    }
}

/// Turns mined signatures into findings (shared by the journald and file probes).
enum LogFindings {
    static func report(_ miner: SignatureMiner, context: ProbeContext, sourceLabel: String, lookback: TimeInterval, now: Date = Date()) async {
        guard miner.linesSeen > 0 else {
            // Nothing read is not "healthy": the report lists it as not examined.
            await context.report(FindingDraft(
                code: .logsNoData, severity: .info, target: sourceLabel,
                title: "Nothing was read from \(sourceLabel) in the last \(Int(lookback / 60)) min",
                detail: "No log lines in the window (no entries, no access to the journal, or the wrong unit or path): errors there are not ruled out.",
                remediation: "Check that the daemon can read \(sourceLabel) (journalctl -u …, group systemd-journal) and that the units or paths are right."
            ))
            return
        }
        guard miner.totalErrors > 0 else {
            await context.report(FindingDraft(
                code: .logsOK, severity: .ok, target: sourceLabel,
                title: "No error lines in \(sourceLabel) in the last \(Int(lookback / 60)) min (\(miner.linesSeen) lines read)"
            ))
            return
        }
        let limit = context.int("top") ?? 5
        let minimum = context.int("min_count") ?? 3
        let window = RateWindow(lookback: lookback, now: now)
        for signature in miner.top.prefix(limit) where signature.count >= minimum {
            let tags = SignatureMiner.causes(signature.template + " " + signature.example)
            let first = signature.first.map(JSONCoding.format) ?? "?"
            let last = signature.last.map(JSONCoding.format) ?? "?"
            let loudness = LogLoudness(signature: signature, window: window, spikeFactor: context.double("spike_factor") ?? 5)
            await context.report(FindingDraft(
                code: .logsErrorSignature, severity: loudness.severity(namesKnownCause: !tags.isEmpty), target: sourceLabel,
                title: "\(signature.count)× \(signature.template.prefix(140))",
                detail: "Seen \(signature.count) times between \(first) and \(last) in \(signature.sources.sorted().joined(separator: ", ")); \(loudness.description)\(tags.isEmpty ? "" : "; names a known cause: \(tags.joined(separator: ", "))").",
                evidence: [
                    .text("example", signature.example),
                    .table("occurrences", columns: ["count", "first seen", "last seen", "sources"], rows: [[String(signature.count), first, last, signature.sources.sorted().joined(separator: ", ")]]),
                ],
                remediation: tags.isEmpty ? "Read the example line and the surrounding log for the component that fails." : "The message points at \(tags.joined(separator: ", ")); see the findings of the matching domain.",
                tags: tags
            ))
        }

        // Spike: the recent window against the rest of the lookback.
        let recentWindow = window.recent
        let recentStart = window.recentStart
        let allTimes = miner.signatures.values.flatMap(\.times)
        let recent = allTimes.filter { $0 >= recentStart }.count
        let earlier = allTimes.count - recent
        let earlierWindow = max(1, lookback - recentWindow)
        let recentRate = Double(recent) / recentWindow
        let earlierRate = Double(earlier) / earlierWindow
        let factor = context.double("spike_factor") ?? 5
        if recent >= (context.int("spike_min") ?? 10), recentRate >= factor * max(earlierRate, 1.0 / earlierWindow) {
            let top = miner.top.first { signature in signature.times.contains { $0 >= recentStart } }
            let tags = top.map { SignatureMiner.causes($0.template + " " + $0.example) } ?? []
            // A spike of warnings is worth a look; a spike of errors is an incident.
            let errorsDominate = (top?.errors ?? 0) * 2 > (top?.count ?? 0)
            await context.report(FindingDraft(
                code: .logsErrorSpike, severity: errorsDominate ? .high : .medium, target: sourceLabel,
                title: "Error spike in \(sourceLabel): \(recent) errors in the last \(Int(recentWindow / 60)) min vs \(earlier) in the \(Int(earlierWindow / 60)) min before",
                detail: String(format: "%.1f errors/min now against %.2f/min before. Mostly: %@", recentRate * 60, earlierRate * 60, top?.template ?? "?"),
                evidence: [.table("error rate", columns: ["window", "errors", "per minute"], rows: [
                    ["last \(Int(recentWindow / 60)) min", String(recent), String(format: "%.1f", recentRate * 60)],
                    ["before", String(earlier), String(format: "%.2f", earlierRate * 60)],
                ])],
                remediation: "Something changed at the start of the spike: deploys, config changes, a dependency; the top signature says what fails.",
                tags: tags
            ))
        }
    }
}

/// The recent part of a lookback window (the last sixth, at least a minute) and the rest.
struct RateWindow {
    let recent: TimeInterval
    let earlier: TimeInterval
    let recentStart: Date

    init(lookback: TimeInterval, now: Date) {
        recent = max(60, lookback / 6)
        earlier = max(1, lookback - recent)
        recentStart = now.addingTimeInterval(-recent)
    }
}

/// How loud a signature is, from evidence: the level its lines state, and whether it started
/// recently (its rate in the recent window against the window before) or is a steady
/// background. A steady warning is noise; a new burst of errors naming a known failure is an
/// incident.
struct LogLoudness: CustomStringConvertible {
    let errorLevel: Bool
    let burst: Bool
    let recentCount: Int
    let earlierCount: Int

    init(signature: SignatureMiner.Signature, window: RateWindow, spikeFactor: Double) {
        errorLevel = signature.errors * 2 > signature.count
        recentCount = signature.times.filter { $0 >= window.recentStart }.count
        earlierCount = signature.times.count - recentCount
        let recentRate = Double(recentCount) / window.recent
        let earlierRate = Double(earlierCount) / window.earlier
        // Lines without timestamps cannot show an onset: count them as a burst only when
        // nothing else is known and they are errors.
        burst = signature.times.isEmpty ? errorLevel : (recentCount >= 3 && recentRate >= spikeFactor * max(earlierRate, 1 / window.earlier))
    }

    func severity(namesKnownCause: Bool) -> Severity {
        switch (errorLevel, burst) {
        case (true, true): namesKnownCause ? .high : .medium
        case (true, false): namesKnownCause ? .medium : .low
        case (false, true): namesKnownCause ? .medium : .low
        case (false, false): .info
        }
    }

    var description: String {
        let level = errorLevel ? "error level" : "warning level"
        let onset = burst ? "started recently (\(recentCount) in the recent window, \(earlierCount) before)" : "a steady background (\(recentCount) recently, \(earlierCount) before)"
        return "\(level), \(onset)"
    }
}

/// The template of a log line (exposed for tests and tools).
public enum SignatureMinerTemplate {
    public static func of(_ line: String) -> String { SignatureMiner.template(line) }
}
