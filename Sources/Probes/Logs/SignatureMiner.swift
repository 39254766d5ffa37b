import DiagnosisModel
import Foundation

/// Groups error lines into templates: numbers, ids, hex, UUIDs, IPs and quoted values become
/// placeholders, so "timeout after 3012 ms to 10.0.0.7" and "timeout after 2999 ms to 10.0.0.9"
/// count as one signature. Bounded: at most `maxTemplates` are kept.
struct SignatureMiner {
    struct Signature {
        var template: String
        var count = 0
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

    /// Patterns applied in order (most specific first).
    nonisolated(unsafe) static let rules: [(Regex<AnyRegexOutput>, String)] = {
        let patterns: [(String, String)] = [
            (#"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"#, "<uuid>"),
            (#"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?"#, "<time>"),
            (#"\b(?:\d{1,3}\.){3}\d{1,3}(:\d+)?\b"#, "<ip>"),
            (#"\b(?:[0-9a-fA-F]{1,4}:){3,7}[0-9a-fA-F]{1,4}\b"#, "<ip>"),
            (#"\b0x[0-9a-fA-F]+\b"#, "<hex>"),
            (#"\b[0-9a-fA-F]{12,}\b"#, "<hex>"),
            (#""[^"]*""#, "\"<str>\""),
            (#"'[^']*'"#, "'<str>'"),
            (#"\b\d+(\.\d+)?(ms|s|kB|MB|KiB|MiB|%)?\b"#, "<n>"),
        ]
        return patterns.compactMap { pattern, replacement in
            (try? Regex(pattern)).map { ($0, replacement) }
        }
    }()

    static func template(_ line: String) -> String {
        var text = String(line.prefix(400))
        for (regex, replacement) in rules { text = text.replacing(regex, with: replacement) }
        return text.replacingOccurrences(of: "  ", with: " ").trimmingCharacters(in: .whitespaces)
    }

    static let errorWords = ["error", "fatal", "panic", "exception", "failed", "failure", "refused", "timeout", "timed out", "too many", "denied", "unavailable", "oom", "killed", "critical"]

    /// Whether a line (without a priority) reads as an error.
    static func isError(_ line: String) -> Bool {
        let lower = line.lowercased()
        if lower.contains(" info ") || lower.hasPrefix("info") || lower.contains("level=info") { return false }
        return errorWords.contains { lower.contains($0) }
    }

    mutating func add(_ line: String, at time: Date?, source: String) {
        totalErrors += 1
        let key = Self.template(line)
        if var signature = signatures[key] {
            signature.count += 1
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
        guard miner.totalErrors > 0 else {
            await context.report(FindingDraft(
                code: "logs.ok", severity: .ok, target: sourceLabel,
                title: "No error lines in \(sourceLabel) in the last \(Int(lookback / 60)) min (\(miner.linesSeen) lines read)"
            ))
            return
        }
        let limit = context.int("top") ?? 5
        let minimum = context.int("min_count") ?? 3
        for signature in miner.top.prefix(limit) where signature.count >= minimum {
            let tags = SignatureMiner.causes(signature.template + " " + signature.example)
            let first = signature.first.map(JSONCoding.format) ?? "?"
            let last = signature.last.map(JSONCoding.format) ?? "?"
            await context.report(FindingDraft(
                code: "logs.error_signature", severity: tags.isEmpty ? (signature.count >= 100 ? .medium : .low) : .high, target: sourceLabel,
                title: "\(signature.count)× \(signature.template.prefix(140))",
                detail: "Seen \(signature.count) times between \(first) and \(last) in \(signature.sources.sorted().joined(separator: ", "))\(tags.isEmpty ? "" : "; names a known cause: \(tags.joined(separator: ", "))").",
                evidence: [
                    .text("example", signature.example),
                    .table("occurrences", columns: ["count", "first seen", "last seen", "sources"], rows: [[String(signature.count), first, last, signature.sources.sorted().joined(separator: ", ")]]),
                ],
                remediation: tags.isEmpty ? "Read the example line and the surrounding log for the component that fails." : "The message points at \(tags.joined(separator: ", ")); see the findings of the matching domain.",
                tags: tags
            ))
        }

        // Spike: the recent window against the rest of the lookback.
        let recentWindow = max(60, lookback / 6)
        let recentStart = now.addingTimeInterval(-recentWindow)
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
            await context.report(FindingDraft(
                code: "logs.error_spike", severity: .high, target: sourceLabel,
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
