import DiagnosisModel
import Foundation

/// `op://` through the 1Password CLI with a service-account token: `op read` for a field,
/// `op item get --format json` for a whole item. The token is passed in the child's
/// environment (`OP_SERVICE_ACCOUNT_TOKEN`) only.
public struct OnePasswordCLIProvider: SecretProvider {
    public let name = "1password-cli"
    let executable: String
    let serviceAccountToken: String?

    public init(executable: String = "op", serviceAccountToken: String?) {
        self.executable = executable
        self.serviceAccountToken = serviceAccountToken
    }

    public func handles(_ reference: CredentialReference) -> Bool {
        if case .onePassword = reference { return true }
        return false
    }

    public func resolve(_ reference: CredentialReference, timeout: Duration) async throws -> [String: String] {
        guard case .onePassword(let op) = reference else {
            throw SecretError(reference: reference.description, provider: name, reason: "not an op:// reference")
        }
        guard let path = SubprocessRunner.locate(executable) else {
            throw SecretError(reference: reference.description, provider: name, reason: "the 1Password CLI (\(executable)) is not installed on the daemon host")
        }
        let processEnvironment = ProcessInfo.processInfo.environment
        var environment = ["PATH": processEnvironment["PATH"] ?? "/usr/bin:/bin", "HOME": processEnvironment["HOME"] ?? "/tmp"]
        if let token = serviceAccountToken { environment["OP_SERVICE_ACCOUNT_TOKEN"] = token }
        let arguments: [String] = op.field == nil
            ? ["item", "get", "--vault", op.vault, "--format", "json", "--", op.item]
            : ["read", "--no-newline", "--", reference.description]  // `--`: a name can never be read as a flag
        let output: SubprocessRunner.Output
        do {
            output = try await SubprocessRunner.run(path, arguments, environment: environment, timeout: timeout)
        } catch {
            throw SecretError(reference: reference.description, provider: name, reason: "cannot run \(path): \(error.localizedDescription)")
        }
        guard !output.timedOut else { throw SecretError(reference: reference.description, provider: name, reason: "op did not answer within \(timeout)") }
        guard output.status == 0 else {
            throw SecretError(reference: reference.description, provider: name, reason: "op exited with \(output.status): \(clean(output.stderr))")
        }
        guard let field = op.field else {
            return try ItemFields.fromOnePasswordJSON(output.stdout, reference: reference.description, provider: name)
        }
        let value = String(decoding: output.stdout, as: UTF8.self)
        return ["value": value, field.lowercased(): value]
    }

    /// The first line of op's stderr, without the token (it never prints it, but be sure).
    private func clean(_ stderr: Data) -> String {
        var text = String(decoding: stderr, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? "no message"
        if let token = serviceAccountToken, !token.isEmpty { text = text.replacingOccurrences(of: token, with: "[REDACTED]") }
        return String(text.prefix(300))
    }
}

/// An item's fields, by label (lower case), from the JSON `op item get` and Connect return.
enum ItemFields {
    static func fromOnePasswordJSON(_ data: Data, reference: String, provider: String) throws -> [String: String] {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let fields = object["fields"] as? [[String: Any]] else {
            throw SecretError(reference: reference, provider: provider, reason: "the item came back in an unexpected shape")
        }
        var result: [String: String] = [:]
        for field in fields {
            guard let value = field["value"] as? String, !value.isEmpty else { continue }
            if let label = field["label"] as? String, !label.isEmpty { result[label.lowercased()] = value }
            else if let id = field["id"] as? String { result[id.lowercased()] = value }
        }
        guard !result.isEmpty else { throw SecretError(reference: reference, provider: provider, reason: "the item has no fields with values") }
        return result
    }
}
