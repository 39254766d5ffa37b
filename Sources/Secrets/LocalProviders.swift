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
    /// Variables that hold the daemon's own secrets (its 1Password token, approver tokens, the
    /// LLM key): never handed to a probe.
    let reserved: Set<String>

    /// Always reserved, whatever the configuration names.
    public static let daemonVariables: Set<String> = ["OP_SERVICE_ACCOUNT_TOKEN", "OP_CONNECT_TOKEN", "SRE_DIAGNOSE_TOKEN", "CREDENTIALS_DIRECTORY"]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, reserved: Set<String> = []) {
        self.environment = environment
        self.reserved = reserved.union(Self.daemonVariables)
    }

    public func handles(_ reference: CredentialReference) -> Bool {
        if case .environment = reference { return true }
        return false
    }

    public func resolve(_ reference: CredentialReference, timeout: Duration) async throws -> [String: String] {
        if case .environment(let variable) = reference, reserved.contains(variable) {
            throw SecretError(reference: reference.description, provider: name, reason: "\(variable) holds one of the daemon's own secrets and is never given to a probe")
        }
        guard case .environment(let variable) = reference, let value = environment[variable], !value.isEmpty else {
            throw SecretError(reference: reference.description, provider: name, reason: "the variable is not set in the daemon's environment")
        }
        return SecretFields.parse(value)
    }
}

/// `file:///path`: a file on the daemon host. Development only. The path is taken literally:
/// no symbolic link anywhere on it, never under /proc, /sys or /dev (`/proc/self/environ` holds
/// the daemon's own secrets), and, when `directories` is set, only below one of them.
public struct FileSecretProvider: SecretProvider {
    public let name = "file"
    let directories: [String]

    public init(directories: [String] = []) {
        self.directories = directories.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
    }

    public func handles(_ reference: CredentialReference) -> Bool {
        if case .file = reference { return true }
        return false
    }

    public func resolve(_ reference: CredentialReference, timeout: Duration) async throws -> [String: String] {
        guard case .file(let path) = reference else {
            throw SecretError(reference: reference.description, provider: name, reason: "not a file:// reference")
        }
        if let reason = refusal(path) { throw SecretError(reference: reference.description, provider: name, reason: reason) }
        return try FileSecret.read(path, reference: reference, provider: name)
    }

    func refusal(_ path: String) -> String? {
        for pseudo in ["/proc", "/sys", "/dev"] where path == pseudo || path.hasPrefix(pseudo + "/") {
            return "\(pseudo) is never read for a credential"
        }
        if !directories.isEmpty, !directories.contains(where: { path.hasPrefix($0 + "/") }) {
            return "\(path) is outside secrets.file_directories (\(directories.joined(separator: ", ")))"
        }
        var prefix = ""
        for component in path.split(separator: "/") {
            prefix += "/\(component)"
            var info = stat()
            if lstat(prefix, &info) == 0, (info.st_mode & S_IFMT) == S_IFLNK {
                return "\(prefix) is a symbolic link; name the file itself"
            }
        }
        return nil
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
