/// Facts about this build shared by every process.
public enum ProductInfo {
    /// Semantic version of sre-diagnose (daemon, runner and CLI ship together).
    public static let version = "0.1.0"
    /// Runner wire protocol version (`"v"` in every frame).
    public static let protocolVersion = 1
}

/// `GET /health` answer.
public struct HealthStatus: Codable, Sendable, Equatable {
    public var status: String
    public var version: String
    public var uptimeSeconds: Double
    public var activeSessions: Int

    public init(status: String, version: String, uptimeSeconds: Double, activeSessions: Int) {
        self.status = status
        self.version = version
        self.uptimeSeconds = uptimeSeconds
        self.activeSessions = activeSessions
    }

    enum CodingKeys: String, CodingKey {
        case status, version
        case uptimeSeconds = "uptime_s"
        case activeSessions = "active_sessions"
    }
}
