/// Typed, path-tracking access to one mapping of the configuration. Every key read is marked as
/// used; `finish()` rejects the rest as unknown keys, so a typo never passes silently.
final class ConfigReader {
    let path: String
    private let pairs: [(key: String, value: ConfigValue)]
    private let origin: ConfigValue.Origin
    private var used: Set<String> = []

    init(_ value: ConfigValue, path: String) throws(ConfigError) {
        self.path = path
        self.origin = value.origin
        switch value {
        case .map(let pairs, _): self.pairs = pairs
        case .null: self.pairs = []
        default:
            throw ConfigError(source: value.origin.source, key: path, reason: "expected a mapping, got \(value.kindName)", line: value.origin.line)
        }
    }

    func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The raw value at `key`, or nil when absent or `null`.
    func value(_ key: String) -> ConfigValue? {
        used.insert(key)
        guard let value = pairs.first(where: { $0.key == key })?.value else { return nil }
        if case .null = value { return nil }
        return value
    }

    /// All keys of this mapping, in file order (for open-ended maps like `environments`).
    var keys: [String] { pairs.map(\.key) }

    func error(_ key: String, _ reason: String, at value: ConfigValue? = nil) -> ConfigError {
        let origin = value?.origin ?? self.origin
        return ConfigError(source: origin.source, key: keyPath(key), reason: reason, line: origin.line)
    }

    func string(_ key: String) throws(ConfigError) -> String? {
        guard let value = value(key) else { return nil }
        guard case .scalar(let text, _) = value else { throw error(key, "expected a string, got \(value.kindName)", at: value) }
        return text
    }

    func string(_ key: String, oneOf allowed: [String]) throws(ConfigError) -> String? {
        guard let text = try string(key) else { return nil }
        guard allowed.contains(text) else {
            throw error(key, "expected one of \(allowed.joined(separator: ", ")), got \"\(text)\"", at: value(key))
        }
        return text
    }

    func int(_ key: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int? {
        guard let value = value(key) else { return nil }
        guard case .scalar(let text, _) = value, let number = Int(text.replacingOccurrences(of: "_", with: "")) else {
            throw error(key, "expected an integer, got \(value.kindName)", at: value)
        }
        guard range.contains(number) else {
            throw error(key, "must be between \(range.lowerBound) and \(range.upperBound), got \(number)", at: value)
        }
        return number
    }

    func double(_ key: String, in range: ClosedRange<Double>) throws(ConfigError) -> Double? {
        guard let value = value(key) else { return nil }
        guard case .scalar(let text, _) = value, let number = Double(text) else {
            throw error(key, "expected a number, got \(value.kindName)", at: value)
        }
        guard range.contains(number) else {
            throw error(key, "must be between \(range.lowerBound) and \(range.upperBound), got \(number)", at: value)
        }
        return number
    }

    func bool(_ key: String) throws(ConfigError) -> Bool? {
        guard let value = value(key) else { return nil }
        guard case .scalar(let text, _) = value else { throw error(key, "expected true or false, got \(value.kindName)", at: value) }
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error(key, "expected true or false, got \"\(text)\"", at: value)
        }
    }

    /// A duration such as `500ms`, `60s`, `10m`, `1h`, `7d`, or a bare number of seconds.
    func duration(_ key: String, in range: ClosedRange<Duration>) throws(ConfigError) -> Duration? {
        guard let value = value(key) else { return nil }
        guard case .scalar(let text, _) = value, let duration = DurationText.parse(text) else {
            throw error(key, "expected a duration like 30s, 10m or 1h, got \(value.kindName)", at: value)
        }
        guard range.contains(duration) else {
            throw error(key, "must be between \(DurationText.format(range.lowerBound)) and \(DurationText.format(range.upperBound))", at: value)
        }
        return duration
    }

    /// A list of strings; a single string is accepted as a one-element list.
    func strings(_ key: String) throws(ConfigError) -> [String]? {
        guard let value = value(key) else { return nil }
        switch value {
        case .scalar(let text, _): return [text]
        case .list(let items, _):
            var result: [String] = []
            for (index, item) in items.enumerated() {
                guard case .scalar(let text, _) = item else {
                    throw ConfigError(source: item.origin.source, key: "\(keyPath(key))[\(index)]", reason: "expected a string, got \(item.kindName)", line: item.origin.line)
                }
                result.append(text)
            }
            return result
        default:
            throw error(key, "expected a list of strings, got \(value.kindName)", at: value)
        }
    }

    func mapping(_ key: String) throws(ConfigError) -> ConfigReader? {
        guard let value = value(key) else { return nil }
        return try ConfigReader(value, path: keyPath(key))
    }

    /// Each element of a list of mappings.
    func mappings(_ key: String) throws(ConfigError) -> [ConfigReader] {
        guard let value = value(key) else { return [] }
        guard case .list(let items, _) = value else { throw error(key, "expected a list, got \(value.kindName)", at: value) }
        var readers: [ConfigReader] = []
        for (index, item) in items.enumerated() {
            readers.append(try ConfigReader(item, path: "\(keyPath(key))[\(index)]"))
        }
        return readers
    }

    /// Rejects keys nobody asked for.
    func finish() throws(ConfigError) {
        for pair in pairs where !used.contains(pair.key) {
            throw ConfigError(source: pair.value.origin.source, key: keyPath(pair.key), reason: "unknown key", line: pair.value.origin.line)
        }
    }
}

/// Parses and prints durations as written in the configuration.
public enum DurationText {
    public static func parse(_ text: String) -> Duration? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        for (suffix, scale) in units where trimmed.hasSuffix(suffix) {
            let number = trimmed.dropLast(suffix.count)
            // "ms" must win over "s": "500ms" ends in "s" too.
            if suffix == "s", number.hasSuffix("m") { continue }
            guard let value = Double(number), value >= 0, value.isFinite else { return nil }
            return .milliseconds(Int64((value * scale * 1000).rounded()))
        }
        guard let seconds = Double(trimmed), seconds >= 0, seconds.isFinite else { return nil }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }

    public static func format(_ duration: Duration) -> String {
        let ms = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        if ms % 3_600_000 == 0, ms > 0 { return "\(ms / 3_600_000)h" }
        if ms % 60_000 == 0, ms > 0 { return "\(ms / 60_000)m" }
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        return "\(ms)ms"
    }
}

import Foundation
