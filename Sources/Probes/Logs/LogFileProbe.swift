import DiagnosisModel
import Foundation

/// `logs.files`: error lines in log files (globs), reading only the tail of each file (and of its
/// rotated predecessor `<file>.1` when the tail window reaches back past the rotation). Memory
/// stays bounded by `max_bytes` per file, however large the files are.
public struct LogFileProbe: Probe {
    public static let name = "logs.files"
    public init() {}

    public func run(_ context: ProbeContext) async throws {
        let patterns = context.strings("paths").isEmpty ? [context.target] : context.strings("paths")
        let lookback = TimeInterval(context.int("lookback_s") ?? 1800)
        let maxBytes = context.int("max_bytes") ?? 8 << 20
        let since = Date().addingTimeInterval(-lookback)
        var miner = SignatureMiner()
        var files: [String] = []
        for pattern in patterns { files += Glob.expand(pattern) }
        if files.isEmpty {
            throw ProbeError("no log files match \(patterns.joined(separator: ", "))")
        }
        for file in files.sorted() {
            var remaining = maxBytes
            let name = (file as NSString).lastPathComponent
            // The rotated file is older: read it first, so lines keep their order.
            let current = LogTail.read(file, maxBytes: remaining)
            remaining -= current.bytesRead
            var chunks = [current]
            if current.reachedStart, remaining > 0, FileManager.default.fileExists(atPath: file + ".1") {
                chunks.insert(LogTail.read(file + ".1", maxBytes: remaining), at: 0)
            }
            var lastTime: Date?
            for chunk in chunks {
                for line in chunk.lines {
                    miner.linesSeen += 1
                    // Lines without a timestamp (stack traces) belong to the line above.
                    let time = LogTimestamp.parse(line) ?? lastTime
                    lastTime = time
                    if let time, time < since { continue }
                    let stated = SignatureMiner.statedLevel(line)
                    if stated == .error || SignatureMiner.isError(line) { miner.add(line, at: time, source: name, level: stated ?? .error) }
                }
            }
        }
        await LogFindings.report(miner, context: context, sourceLabel: patterns.joined(separator: ", "), lookback: lookback)
    }
}

/// The last `maxBytes` of a file, as whole lines.
enum LogTail {
    struct Chunk {
        var lines: [String]
        var bytesRead: Int
        /// Whether the window began at the start of the file.
        var reachedStart: Bool
    }

    static func read(_ path: String, maxBytes: Int) -> Chunk {
        guard let handle = FileHandle(forReadingAtPath: path) else { return Chunk(lines: [], bytesRead: 0, reachedStart: true) }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        let start = size > UInt64(maxBytes) ? size - UInt64(maxBytes) : 0
        try? handle.seek(toOffset: start)
        let data = (try? handle.readToEnd()) ?? Data()
        var lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        // The window may start mid-line: that fragment is not a line.
        if start > 0, !lines.isEmpty { lines.removeFirst() }
        return Chunk(lines: lines, bytesRead: data.count, reachedStart: start == 0)
    }
}

/// Timestamps at the start of common log lines.
enum LogTimestamp {
    nonisolated(unsafe) static let iso = try? Regex(#"^\[?(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?"#)
    nonisolated(unsafe) static let syslog = try? Regex(#"^([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}:\d{2}:\d{2})"#)
    nonisolated(unsafe) static let clf = try? Regex(#"\[(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}:\d{2}:\d{2}) ([+-]\d{4})\]"#)
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static func parse(_ line: String) -> Date? {
        let head = String(line.prefix(40))
        if let iso, let match = head.firstMatch(of: iso) {
            let text = String(head[match.range]).trimmingCharacters(in: CharacterSet(charactersIn: "["))
            var normalized = text.replacingOccurrences(of: " ", with: "T")
            if !(normalized.hasSuffix("Z") || normalized.dropFirst(19).contains("+") || normalized.dropFirst(19).contains("-")) { normalized += "Z" }
            if let date = JSONCoding.parseDate(normalized) { return date }
            return try? Date.ISO8601FormatStyle(includingFractionalSeconds: normalized.contains(".")).parse(normalized)
        }
        if let syslog, let match = head.firstMatch(of: syslog) {
            let parts = String(head[match.range]).split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count == 3, let month = months.firstIndex(of: String(parts[0])), let day = Int(parts[1]) else { return nil }
            let year = Calendar(identifier: .gregorian).component(.year, from: Date())
            let text = String(format: "%04d-%02d-%02dT%@Z", year, month + 1, day, String(parts[2]))
            return JSONCoding.parseDate(text)
        }
        if let clf, let match = line.prefix(80).firstMatch(of: clf) {
            let text = String(line.prefix(80)[match.range]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            let pieces = text.split(whereSeparator: { "/: ".contains($0) })
            guard pieces.count >= 7, let month = months.firstIndex(of: String(pieces[1])) else { return nil }
            let offset = String(pieces[6])
            let iso = "\(pieces[2])-\(String(format: "%02d", month + 1))-\(pieces[0])T\(pieces[3]):\(pieces[4]):\(pieces[5])\(offset.prefix(3)):\(offset.suffix(2))"
            return try? Date.ISO8601FormatStyle().parse(iso)
        }
        return nil
    }
}

/// Shell-style globbing (glob(3)).
enum Glob {
    static func expand(_ pattern: String) -> [String] {
        var result = glob_t()
        defer { globfree(&result) }
        guard glob(pattern, 0, nil, &result) == 0 else { return [] }
        return (0..<Int(result.gl_pathc)).compactMap { index in
            result.gl_pathv[index].map { String(cString: $0) }
        }.filter { path in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
        }
    }
}
