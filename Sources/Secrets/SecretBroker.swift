import DiagnosisModel
import Foundation

/// Routes approved references to their provider, enforcing which schemes are allowed.
///
/// Only the session engine calls it, and only with references a human approved — there is no
/// other path from a reference to a value (docs/DESIGN.md §6, "no bypass").
public struct SecretBroker: Sendable {
    public struct Policy: Sendable {
        public var allowEnvRefs: Bool
        public var allowFileRefs: Bool
        public var timeout: Duration

        public init(allowEnvRefs: Bool = false, allowFileRefs: Bool = false, timeout: Duration = .seconds(15)) {
            self.allowEnvRefs = allowEnvRefs
            self.allowFileRefs = allowFileRefs
            self.timeout = timeout
        }
    }

    let providers: [any SecretProvider]
    public let policy: Policy

    public init(providers: [any SecretProvider], policy: Policy) {
        self.providers = providers
        self.policy = policy
    }

    /// Why a reference may not be used at all (before any approval), or nil.
    public func refusal(for reference: CredentialReference) -> String? {
        switch reference {
        case .environment where !policy.allowEnvRefs:
            return "env:// references are for development only and disabled (secrets.allow_env_refs)"
        case .file where !policy.allowFileRefs:
            return "file:// references are for development only and disabled (secrets.allow_file_refs)"
        default:
            return providers.contains { $0.handles(reference) } ? nil : "no secret provider is configured for \(reference.scheme):// references"
        }
    }

    /// The provider that would resolve `reference` (for audit entries).
    public func providerName(for reference: CredentialReference) -> String {
        providers.first { $0.handles(reference) }?.name ?? "none"
    }

    /// Resolves one approved reference, within the policy's timeout.
    public func resolve(_ text: String) async -> Result<ResolvedCredential, SecretError> {
        let reference: CredentialReference
        do {
            reference = try CredentialReference(parsing: text)
        } catch {
            return .failure(SecretError(reference: text, provider: "none", reason: error.reason))
        }
        if let refusal = refusal(for: reference) {
            return .failure(SecretError(reference: text, provider: providerName(for: reference), reason: refusal))
        }
        guard let provider = providers.first(where: { $0.handles(reference) }) else {
            return .failure(SecretError(reference: text, provider: "none", reason: "no provider"))
        }
        let timeout = policy.timeout
        let outcome: Result<[String: String], SecretError>? = await withTaskGroup(of: Result<[String: String], SecretError>?.self) { group in
            group.addTask {
                do { return .success(try await provider.resolve(reference, timeout: timeout)) } catch { return .failure(error as? SecretError ?? SecretError(reference: reference.description, provider: provider.name, reason: "\(error)")) }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        switch outcome {
        case .success(let fields)?:
            let usable = fields.filter { !$0.value.isEmpty }
            guard !usable.isEmpty else {
                return .failure(SecretError(reference: text, provider: provider.name, reason: "resolved to an empty value"))
            }
            return .success(ResolvedCredential(reference: text, fields: usable))
        case .failure(let error)?:
            return .failure(error)
        case nil:
            return .failure(SecretError(reference: text, provider: provider.name, reason: "timed out after \(timeout)"))
        }
    }
}
