import Secrets

/// The providers a configuration enables.
enum SecretProviders {
    static func make(_ config: DaemonConfig.Secrets) -> [any SecretProvider] {
        [SystemdCredentialProvider(), EnvironmentSecretProvider(), FileSecretProvider()]
    }
}
