import Crypto
import DiagnosisModel
import Foundation
import Secrets

/// How a request reached the daemon.
public enum Peer: Sendable, Equatable {
    /// `uid`: the owner of the client's socket, for a loopback connection (``TCPPeerOwner``).
    case tcp(address: String?, uid: UInt32?)
    case unix(PeerCredentials?)

    var transport: Identity.Transport {
        if case .unix = self { return .unix }
        return .tcp
    }

    /// The local account on the other end, when the kernel said.
    var uid: UInt32? {
        switch self {
        case .tcp(_, let uid): uid
        case .unix(let credentials): credentials?.uid
        }
    }
}

/// Decides who a request comes from: a bearer token from `auth.approvers`/`auth.requesters`
/// (kept only as SHA-256 hashes, compared in constant time), else the local account the kernel
/// reports for the connection. Without a token:
/// - the Unix socket: root and members of `auth.unix_socket_approver_group` are approvers; other
///   accounts are requesters, unless requester tokens are configured (then they need one);
/// - loopback TCP: a requester (never an approver: a browser reaches TCP, not the socket), unless
///   requester tokens are configured;
/// - anything else: anonymous (only `/health`, `/metrics` and static files).
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
    let accounts: LocalAccounts

    init(tokens: [Token], requesterTokensRequired: Bool, approverGroup: String?, accounts: LocalAccounts = LocalAccounts()) {
        self.tokens = tokens
        self.requesterTokensRequired = requesterTokensRequired
        self.approverGroup = approverGroup
        self.accounts = accounts
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
            return .success(Identity(name: match.name, role: match.role, uid: peer.uid, transport: peer.transport, byToken: true))
        }
        switch peer {
        case .unix(let credentials?):
            let approver = credentials.uid == 0 || (approverGroup.map { accounts.isMember(uid: credentials.uid, gid: credentials.gid, group: $0) } ?? false)
            guard approver || !requesterTokensRequired else { return .success(nil) }
            return .success(Identity(name: personName(uid: credentials.uid), role: approver ? .approver : .requester, uid: credentials.uid, transport: .unix))
        case .unix(nil):
            return .success(nil)
        case .tcp(let address, let uid):
            guard !requesterTokensRequired, let address, Self.isLoopback(address) else { return .success(nil) }
            return .success(Identity(name: uid.map(personName) ?? Identity.anonymousName, role: .requester, uid: uid, transport: .tcp))
        }
    }

    /// `user:<login>` for an account with a passwd entry, else `uid:<n>`.
    func personName(uid: UInt32) -> String {
        accounts.login(uid: uid).map { "user:\($0)" } ?? "uid:\(uid)"
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
}
