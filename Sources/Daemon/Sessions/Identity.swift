/// Who is calling the API: one person, whichever transport they use.
///
/// A bearer token names its person (`alice`); without one, the local account the kernel reports
/// for the connection (`SO_PEERCRED` on the Unix socket, the TCP socket's owner on loopback) is
/// the person (`user:bob`, or `uid:1001` without a passwd entry). `anonymous` is a loopback
/// client whose account the kernel did not tell.
public struct Identity: Sendable, Equatable, CustomStringConvertible {
    public enum Role: String, Sendable { case approver, requester }
    public enum Transport: String, Sendable { case tcp, unix }

    public var name: String
    public var role: Role
    /// The local account the connection belongs to, when the kernel said (also with a token).
    public var uid: UInt32?
    public var transport: Transport
    /// Whether a bearer token named this person.
    public var byToken: Bool

    public init(name: String, role: Role, uid: UInt32? = nil, transport: Transport = .tcp, byToken: Bool = false) {
        self.name = name
        self.role = role
        self.uid = uid
        self.transport = transport
        self.byToken = byToken
    }

    public static let anonymousName = "anonymous"

    public var description: String { "\(name) (\(role.rawValue))" }

    /// Whether this caller is — or cannot be told apart from — `other`: the same named person,
    /// or the same local account whatever token either holds (an IDE agent running as its
    /// user must not approve with that user's token). Nobody can tell who an anonymous caller
    /// is, so only a token holder is ever distinct from one.
    public func mayBeSamePerson(as other: Identity) -> Bool {
        if name == other.name { return true }
        if let uid, uid == other.uid { return true }
        if other.isAnonymous { return !byToken }
        if isAnonymous { return !other.byToken }
        return false
    }

    /// Neither a token nor a known account.
    public var isAnonymous: Bool { !byToken && uid == nil }
}
