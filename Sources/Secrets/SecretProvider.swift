import DiagnosisModel
import Foundation

/// Why a secret could not be resolved. Never contains the secret.
public struct SecretError: Error, Sendable, Equatable, CustomStringConvertible {
    public let reference: String
    public let provider: String
    public let reason: String

    public init(reference: String, provider: String, reason: String) {
        self.reference = reference
        self.provider = provider
        self.reason = reason
    }

    public var description: String { "\(reference) (\(provider)): \(reason)" }
}

/// Resolves credential references of some schemes to their values.
public protocol SecretProvider: Sendable {
    /// Shown in audit entries and events: `1password-cli`, `systemd-credential`, …
    var name: String { get }
    func handles(_ reference: CredentialReference) -> Bool
    /// Field label (lower case) → value. A single value is returned as `value`.
    func resolve(_ reference: CredentialReference, timeout: Duration) async throws -> [String: String]
}

/// Turns a stored secret's text into fields: always `value`, plus each key when the text is a
/// JSON object of strings (`{"username": …, "password": …}`).
enum SecretFields {
    static func parse(_ text: String) -> [String: String] {
        var value = text
        if value.hasSuffix("\n") { value.removeLast() }
        var fields = ["value": value]
        if value.hasPrefix("{"), let data = value.data(using: .utf8),
           let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
            for (key, item) in object {
                if let string = item as? String { fields[key.lowercased()] = string }
                else if let number = item as? NSNumber { fields[key.lowercased()] = number.stringValue }
            }
        }
        return fields
    }
}
