/// Who is calling the API.
public struct Identity: Sendable, Equatable, CustomStringConvertible {
    public enum Role: String, Sendable { case approver, requester }
    /// `alice` (token), `unix:uid=1000`, `loopback`.
    public var name: String
    public var role: Role

    public init(name: String, role: Role) {
        self.name = name
        self.role = role
    }

    public var description: String { "\(name) (\(role.rawValue))" }
}
