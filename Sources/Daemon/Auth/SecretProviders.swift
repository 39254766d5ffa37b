import DiagnosisModel
import Foundation
import Secrets

/// The providers a configuration enables. Tokens the providers themselves need (the 1Password
/// service-account or Connect token) are read at start-up, kept in memory only, and added to the
/// log scrubber.
enum SecretProviders {
    static func make(_ config: DaemonConfig.Secrets, daemonOwn: Set<String> = [], scrubber: SecretScrubber) async throws -> [any SecretProvider] {
        var providers: [any SecretProvider] = [
            SystemdCredentialProvider(), EnvironmentSecretProvider(reserved: daemonOwn), FileSecretProvider(directories: config.fileDirectories),
        ]
        switch config.onePasswordMode {
        case .none:
            break
        case .cli:
            let token = try await config.onePasswordServiceAccountToken.asyncMap {
                try await readDaemonSecret($0, key: "secrets.onepassword.service_account_token", timeout: config.resolveTimeout, scrubber: scrubber)
            }
            providers.append(OnePasswordCLIProvider(executable: config.onePasswordCLI, serviceAccountToken: token))
        case .connect:
            guard let hostText = config.onePasswordConnectHost, let host = URL(string: hostText), host.scheme?.hasPrefix("http") == true else {
                throw ConfigError(source: "config", key: "secrets.onepassword.host", reason: "expected an http(s) URL")
            }
            guard let reference = config.onePasswordConnectToken else {
                throw ConfigError(source: "config", key: "secrets.onepassword.token", reason: "mode connect needs a token reference")
            }
            let token = try await readDaemonSecret(reference, key: "secrets.onepassword.token", timeout: config.resolveTimeout, scrubber: scrubber)
            providers.append(OnePasswordConnectProvider(host: host, token: token))
        }
        return providers
    }

    /// Reads one of the daemon's own secrets (not a session credential) from cred://, file:// or
    /// env://; a failure stops start-up naming the key.
    static func readDaemonSecret(_ reference: CredentialReference, key: String, timeout: Duration, scrubber: SecretScrubber) async throws -> String {
        let providers: [any SecretProvider] = [SystemdCredentialProvider(), EnvironmentSecretProvider(), FileSecretProvider()]
        guard let provider = providers.first(where: { $0.handles(reference) }) else {
            throw ConfigError(source: "config", key: key, reason: "\(reference) must be a cred://, file:// or env:// reference")
        }
        do {
            let value = try await provider.resolve(reference, timeout: timeout)["value"] ?? ""
            scrubber.addPermanent([value], reference: key)
            return value
        } catch {
            throw ConfigError(source: "config", key: key, reason: "cannot read \(reference): \((error as? SecretError)?.reason ?? "unreadable")")
        }
    }
}

extension DaemonConfig {
    /// Environment variables that hold the daemon's own secrets (`env://` references of its
    /// tokens and keys): a session's `env://` reference may never name one.
    var daemonSecretVariables: Set<String> {
        let references = auth.approvers.map(\.token) + auth.requesters.map(\.token)
            + [secrets.onePasswordServiceAccountToken, secrets.onePasswordConnectToken, llm.apiKey].compactMap { $0 }
            + (intake.alertmanager?.tokens ?? []) + [intake.alertmanager?.basicAuth?.password].compactMap { $0 }
            + notifications.sinks.flatMap { [$0.urlCredential, $0.secret].compactMap { $0 } }
        return Set(references.compactMap { reference in
            if case .environment(let name) = reference { return name }
            return nil
        })
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
