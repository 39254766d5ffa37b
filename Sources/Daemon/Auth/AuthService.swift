import Crypto
import DiagnosisModel
import Foundation
import Secrets

/// How a request reached the daemon.
public enum Peer: Sendable, Equatable {
    case tcp(address: String?)
    case unix(PeerCredentials?)
}

/// Decides who a request comes from: a bearer token from `auth.approvers`/`auth.requesters`
/// (kept only as SHA-256 hashes, compared in constant time), else the Unix socket peer's uid,
/// else "loopback" for local TCP clients when no requester tokens are configured.
public struct AuthService: Sendable {
    struct Token: Sendable {
        let name: String
        let role: Identity.Role
        let hash: [UInt8]
    }

    public enum Failure: Error, Equatable, Sendable {
        /// 401: no usable credentials.
        case unauthenticated(String)
        /// 403: known, but not allowed.
        case forbidden(String)
    }

    let tokens: [Token]
    let requesterTokensRequired: Bool
    let approverGroup: String?

    init(tokens: [Token], requesterTokensRequired: Bool, approverGroup: String?) {
        self.tokens = tokens
        self.requesterTokensRequired = requesterTokensRequired
        self.approverGroup = approverGroup
    }

    /// Reads every token at start-up. A token that cannot be read stops the daemon (exit 78)
    /// naming the key; each token is added to the log scrubber.
    public static func load(_ auth: DaemonConfig.Auth, scrubber: SecretScrubber, policy: SecretBroker.Policy) async throws -> AuthService {
        var tokens: [Token] = []
        for (key, identities, role) in [("auth.approvers", auth.approvers, Identity.Role.approver), ("auth.requesters", auth.requesters, .requester)] {
            for (index, identity) in identities.enumerated() {
                let value = try await SecretProviders.readDaemonSecret(identity.token, key: "\(key)[\(index)].token", timeout: policy.timeout, scrubber: scrubber)
                guard value.count >= 16 else {
                    throw ConfigError(source: "config", key: "\(key)[\(index)].token", reason: "the token of \(identity.name) is shorter than 16 characters")
                }
                tokens.append(Token(name: identity.name, role: role, hash: Array(SHA256.hash(data: Data(value.utf8)))))
            }
        }
        return AuthService(tokens: tokens, requesterTokensRequired: !auth.requesters.isEmpty, approverGroup: auth.unixSocketApproverGroup)
    }

    /// The caller's identity; nil when anonymous (allowed only for `/health` and `/metrics`).
    public func identify(authorization: String?, peer: Peer) -> Result<Identity?, Failure> {
        if let authorization {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else {
                return .failure(.unauthenticated("Authorization must be \"Bearer <token>\""))
            }
            let hash = Array(SHA256.hash(data: Data(parts[1].trimmingCharacters(in: .whitespaces).utf8)))
            // Compare against every token, always, so timing says nothing about which matched.
            var match: Token?
            for token in tokens where Self.constantTimeEqual(token.hash, hash) { match = token }
            guard let match else { return .failure(.unauthenticated("invalid token")) }
            return .success(Identity(name: match.name, role: match.role))
        }
        switch peer {
        case .unix(let credentials?):
            let user = Self.userName(uid: credentials.uid)
            let name = "unix:\(user)"
            let approver = credentials.uid == 0 || (approverGroup.map { Self.isMember(uid: credentials.uid, gid: credentials.gid, group: $0) } ?? false)
            return .success(Identity(name: name, role: approver ? .approver : .requester))
        case .unix(nil):
            return .success(nil)
        case .tcp(let address):
            guard !requesterTokensRequired, let address, Self.isLoopback(address) else { return .success(nil) }
            return .success(Identity(name: "loopback", role: .requester))
        }
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    static func isLoopback(_ address: String) -> Bool {
        address.hasPrefix("127.") || address == "::1" || address.hasPrefix("::ffff:127.")
    }

    static func userName(uid: UInt32) -> String {
        guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return "uid=\(uid)" }
        return String(cString: name)
    }

    /// Whether the user is in `group` (primary group or listed member).
    static func isMember(uid: UInt32, gid: UInt32, group: String) -> Bool {
        guard let entry = getgrnam(group) else { return false }
        if entry.pointee.gr_gid == gid { return true }
        let user = userName(uid: uid)
        var member = entry.pointee.gr_mem
        while let pointer = member?.pointee {
            if String(cString: pointer) == user { return true }
            member = member?.advanced(by: 1)
        }
        return false
    }
}
