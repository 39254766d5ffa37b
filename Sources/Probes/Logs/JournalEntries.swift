import DiagnosisModel
import Foundation

/// Parses `journalctl -o json` output line by line without holding decoded copies of all of it.
struct JournalEntries: Sequence {
    struct Entry {
        var message: String?
        var priority: Int?
        var unit: String?
        var time: Date?
    }

    let data: Data

    func makeIterator() -> AnyIterator<Entry> {
        var offset = data.startIndex
        let data = self.data
        return AnyIterator {
            while offset < data.endIndex {
                let end = data[offset...].firstIndex(of: 10) ?? data.endIndex
                let line = data[offset..<end]
                offset = end < data.endIndex ? data.index(after: end) : end
                guard !line.isEmpty, let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any] else { continue }
                var entry = Entry()
                // MESSAGE is a string, or an array of bytes when it is not valid UTF-8.
                if let text = object["MESSAGE"] as? String { entry.message = text }
                else if let bytes = object["MESSAGE"] as? [Int] { entry.message = String(decoding: bytes.map { UInt8(truncatingIfNeeded: $0) }, as: UTF8.self) }
                entry.priority = (object["PRIORITY"] as? String).flatMap(Int.init)
                entry.unit = (object["_SYSTEMD_UNIT"] as? String) ?? (object["SYSLOG_IDENTIFIER"] as? String)
                if let micros = (object["__REALTIME_TIMESTAMP"] as? String).flatMap(Double.init) {
                    entry.time = Date(timeIntervalSince1970: micros / 1_000_000)
                }
                return entry
            }
            return nil
        }
    }
}

/// Which journal to read: the system's, a directory (`-D`) or files (`--file`).
enum JournalSource {
    static func arguments(_ context: ProbeContext) -> [String] {
        if let directory = context.string("journal_directory") { return ["-D", directory] }
        let files = context.strings("journal_files")
        return files.flatMap { ["--file", $0] }
    }
}
