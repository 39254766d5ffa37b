import DiagnosisModel
import Foundation

/// Liveness facts for `GET /health`.
public struct HealthService: Sendable {
    private let startedAt = ContinuousClock.now
    private let activeSessions: @Sendable () async -> Int

    public init(activeSessions: @escaping @Sendable () async -> Int) {
        self.activeSessions = activeSessions
    }

    public func status() async -> HealthStatus {
        let uptime = ContinuousClock.now - startedAt
        let seconds = uptime.inSeconds
        return HealthStatus(
            status: "ok",
            version: ProductInfo.version,
            uptimeSeconds: (seconds * 1000).rounded() / 1000,
            activeSessions: await activeSessions()
        )
    }
}
