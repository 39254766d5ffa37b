import Foundation

extension String {
    /// Whether `needle`'s UTF-8 bytes occur in this string's (first byte, then `memcmp`).
    ///
    /// For the hot paths that check many strings against many needles (redaction of every
    /// event, the planner's phrases): `String.contains` compares by Character through
    /// Foundation and is an order of magnitude slower. Bytes also match inside a Character (a
    /// needle ending before a combining mark), which both callers accept.
    public func containsUTF8(_ needle: String) -> Bool {
        var text = self
        var needle = needle
        return text.withUTF8 { haystack in
            needle.withUTF8 { needle in
                guard let first = needle.first, let needleStart = needle.baseAddress, let start = haystack.baseAddress else { return needle.isEmpty }
                guard needle.count <= haystack.count else { return false }
                for index in 0...(haystack.count - needle.count) where haystack[index] == first {
                    if memcmp(start + index, needleStart, needle.count) == 0 { return true }
                }
                return false
            }
        }
    }
}
