import DiagnosisModel
import Foundation

/// `cred://NAME`: a systemd credential, `$CREDENTIALS_DIRECTORY/NAME` (LoadCredential=).
public struct SystemdCredentialProvider: SecretProvider {
    public let name = "systemd-credential"
    let directory: String?

    public init(directory: String? = ProcessInfo.processInfo.environment["CREDENTIALS_DIRECTORY"]) {
        self.directory = directory
    }

    public func handles(_ reference: CredentialReference) -> Bool {
        if case .systemd = reference { return true }
        return false
    }

    public func resolve(_ reference: CredentialReference, timeout: Duration) async throws -> [String: String] {
        guard case .systemd(let credential) = reference else {
            throw SecretError(reference: reference.description, provider: name, reason: "not a cred:// reference")
        }
        guard let directory, !directory.isEmpty else {
            throw SecretError(reference: reference.description, provider: name, reason: "$CREDENTIALS_DIRECTORY is not set (add LoadCredential=\(credential):… to the unit)")
        }
        return try FileSecret.read("\(directory)/\(credential)", reference: reference, provider: name)
    }
}

/// `env://NAME`: an environment variable of the daemon. Development only.
public struct EnvironmentSecretProvider: SecretProvider {
    public let name = "environment"
    let environment: [String: String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    public func handles(_ reference: CredentialReference) -> Bool {
        if case .environment = reference { return true }
        return false
    }

    public func resolve(_ reference: CredentialReference, timeout: Duration) async throws -> [String: String] {
        guard case .environment(let variable) = reference, let value = environment[variable], !value.isEmpty else {
            throw SecretError(reference: reference.description, provider: name, reason: "the variable is not set in the daemon's environment")
        }
        return SecretFields.parse(value)
    }
}

/// `file:///path`: a file on the daemon host. Development only.
public struct FileSecretProvider: SecretProvider {
    public let name = "file"
    public init() {}

    public func handles(_ reference: CredentialReference) -> Bool {
        if case .file = reference { return true }
        return false
    }

    public func resolve(_ reference: CredentialReference, timeout: Duration) async throws -> [String: String] {
        guard case .file(let path) = reference else {
            throw SecretError(reference: reference.description, provider: name, reason: "not a file:// reference")
        }
        return try FileSecret.read(path, reference: reference, provider: name)
    }
}

enum FileSecret {
    static func read(_ path: String, reference: CredentialReference, provider: String) throws -> [String: String] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw SecretError(reference: reference.description, provider: provider, reason: "\(path) does not exist")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SecretError(reference: reference.description, provider: provider, reason: "\(path) is not readable by the daemon")
        }
        guard data.count <= 1 << 20 else {
            throw SecretError(reference: reference.description, provider: provider, reason: "\(path) is larger than 1 MiB")
        }
        let fields = SecretFields.parse(String(decoding: data, as: UTF8.self))
        guard let value = fields["value"], !value.isEmpty else {
            throw SecretError(reference: reference.description, provider: provider, reason: "\(path) is empty")
        }
        return fields
    }
}
