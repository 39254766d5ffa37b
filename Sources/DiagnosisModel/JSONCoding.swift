import Foundation

/// The JSON conventions every process shares: ISO 8601 dates with milliseconds
/// (`2026-11-27T14:02:03.250Z`), sorted keys, unescaped slashes.
public enum JSONCoding {
    private static let seconds = Date.ISO8601FormatStyle()

    /// Rounds to the millisecond, so format → parse → format is stable.
    public static func format(_ date: Date) -> String {
        let milliseconds = (date.timeIntervalSince1970 * 1000).rounded()
        let whole = (milliseconds / 1000).rounded(.down)
        let fraction = Int(milliseconds - whole * 1000)
        let text = seconds.format(Date(timeIntervalSince1970: whole))
        let digits = String(fraction)
        return String(text.dropLast()) + "." + String(repeating: "0", count: 3 - digits.count) + digits + "Z"
    }

    public static func parseDate(_ text: String) -> Date? {
        guard text.hasSuffix("Z") else { return try? seconds.parse(text) }
        if let dot = text.lastIndex(of: ".") {
            let fractionText = text[text.index(after: dot)..<text.index(before: text.endIndex)]
            guard let base = try? seconds.parse(String(text[..<dot]) + "Z"), !fractionText.isEmpty,
                  fractionText.allSatisfy(\.isNumber), let value = Double("0." + fractionText) else { return nil }
            return Date(timeIntervalSince1970: base.timeIntervalSince1970 + (value * 1000).rounded() / 1000)
        }
        return try? seconds.parse(text)
    }

    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(format(date))
        }
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = parseDate(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an ISO 8601 date: \(text)")
            }
            return date
        }
        return decoder
    }
}
