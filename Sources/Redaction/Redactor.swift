import DiagnosisModel
import Foundation

/// Replaces secret values — and their base64, URL-encoded and JSON-escaped forms — with
/// `[REDACTED:<reference>]`.
///
/// Built from every resolved credential value of a session. The runner applies it to every
/// string it emits; the daemon applies it again before storing, logging, answering or calling
/// an LLM. Values shorter than ``minimumLength`` are not matched (they would redact ordinary
/// words); providers must not hand out such secrets in the first place.
public struct Redactor: Sendable {
    public static let minimumLength = 4

    /// (needle, replacement), longest needle first so a longer form wins over its prefix.
    private var patterns: [(needle: String, replacement: String)] = []

    public init() {}

    /// - Parameter secrets: reference (shown in the marker) → secret values.
    public init(secrets: [String: [String]]) {
        for (reference, values) in secrets.sorted(by: { $0.key < $1.key }) {
            for value in values { add(value, reference: reference) }
        }
    }

    public var isEmpty: Bool { patterns.isEmpty }

    /// Adds a secret and its encoded forms.
    public mutating func add(_ secret: String, reference: String) {
        guard secret.count >= Self.minimumLength else { return }
        let replacement = "[REDACTED:\(reference)]"
        var needles = Self.encodedForms(of: secret)
        // Multi-line secrets (kubeconfigs, keys) also leak line by line.
        if secret.contains("\n") {
            needles.append(contentsOf: secret.split(separator: "\n").map(String.init)
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0.count >= 8 })
        }
        for needle in needles where !patterns.contains(where: { $0.needle == needle }) {
            patterns.append((needle, replacement))
        }
        patterns.sort { $0.needle.count > $1.needle.count }
    }

    /// Merges another redactor's patterns into this one.
    public mutating func merge(_ other: Redactor) {
        for pattern in other.patterns where !patterns.contains(where: { $0.needle == pattern.needle }) {
            patterns.append(pattern)
        }
        patterns.sort { $0.needle.count > $1.needle.count }
    }

    public func redact(_ text: String) -> String {
        guard !patterns.isEmpty, !text.isEmpty else { return text }
        var result = text
        // Bytes, not Characters: every string of every event meets every pattern here.
        for pattern in patterns where result.containsUTF8(pattern.needle) {
            result = result.replacingOccurrences(of: pattern.needle, with: pattern.replacement)
        }
        return result
    }

    /// `scheme://user:password@host` → `scheme://host`: a URL's userinfo is a credential even
    /// when no provider resolved it (an endpoint written with its password into the inventory).
    public static func strippingURLUserinfo(_ text: String) -> String {
        guard text.contains("@"), text.contains("://") else { return text }
        var result = ""
        var rest = Substring(text)
        while let separator = rest.range(of: "://") {
            result += rest[..<separator.upperBound]
            rest = rest[separator.upperBound...]
            let authorityEnd = rest.firstIndex(where: { "/?# \n\t\"'<>".contains($0) }) ?? rest.endIndex
            if let at = rest[..<authorityEnd].lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        }
        return result + rest
    }

    /// Whether `text` contains any secret form (for leak assertions and audits).
    public func containsSecret(_ text: String) -> Bool {
        patterns.contains { text.containsUTF8($0.needle) }
    }

    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    /// The raw value plus the encodings under which it commonly leaks.
    static func encodedForms(of secret: String) -> [String] {
        let bytes = Data(secret.utf8)
        var forms: [String] = [secret]
        let base64 = bytes.base64EncodedString()
        let unpadded = Array(base64.utf8.prefix { $0 != UInt8(ascii: "=") })
        forms.append(base64)
        forms.append(String(decoding: unpadded, as: UTF8.self))
        forms.append(String(decoding: unpadded.map { $0 == UInt8(ascii: "+") ? UInt8(ascii: "-") : $0 == UInt8(ascii: "/") ? UInt8(ascii: "_") : $0 }, as: UTF8.self))
        if let percent = secret.addingPercentEncoding(withAllowedCharacters: unreserved) {
            forms.append(percent)
            if percent.contains("%20") { forms.append(percent.replacingOccurrences(of: "%20", with: "+")) }
            forms.append(Self.lowercaseHexEscapes(percent))
        }
        let json = jsonEscaped(secret)
        forms.append(json)
        if json.contains("/") { forms.append(json.replacingOccurrences(of: "/", with: "\\/")) }
        // Hex dumps (xxd, od, a tool's debug output) and the reversed value.
        forms.append(hex(bytes, digits: Array("0123456789abcdef".utf8)))
        forms.append(hex(bytes, digits: Array("0123456789ABCDEF".utf8)))
        forms.append(String(secret.reversed()))
        var unique: [String] = []
        for form in forms where form.count >= minimumLength && !unique.contains(form) { unique.append(form) }
        return unique
    }

    private static func hex(_ bytes: Data, digits: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func jsonEscaped(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20: result += String(format: "\\u%04x", scalar.value)
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    private static func lowercaseHexEscapes(_ text: String) -> String {
        var result = ""
        var iterator = Array(text)
        var index = 0
        while index < iterator.count {
            if iterator[index] == "%", index + 2 < iterator.count {
                result.append("%")
                result.append(contentsOf: String(iterator[index + 1...index + 2]).lowercased())
                index += 3
            } else {
                result.append(iterator[index])
                index += 1
            }
        }
        iterator.removeAll()
        return result
    }
}
