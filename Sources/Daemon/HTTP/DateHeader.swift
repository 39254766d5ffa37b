import Foundation
import Synchronization

/// The `Date` response header, formatted once per second rather than per request.
final class DateHeader: Sendable {
    private let cache = Mutex<(second: Int, text: String)>((-1, ""))

    var current: String {
        let now = Date()
        let second = Int(now.timeIntervalSince1970)
        return cache.withLock { cached in
            if cached.second != second {
                cached = (second, Self.format(now))
            }
            return cached.text
        }
    }

    /// RFC 9110 IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
    static func format(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, "%a, %d %b %Y %H:%M:%S GMT", &parts)
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
