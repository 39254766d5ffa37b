import DiagnosisModel
import Foundation

/// Token bucket per client: `perMinute` requests, refilled continuously.
actor RateLimiter {
    private let capacity: Double
    private let refillPerSecond: Double
    private var buckets: [String: (tokens: Double, updated: ContinuousClock.Instant)] = [:]

    init(perMinute: Int) {
        capacity = Double(max(1, perMinute))
        refillPerSecond = capacity / 60
    }

    /// nil when allowed; otherwise seconds until the next request would be.
    func take(_ client: String) -> Int? {
        let now = ContinuousClock.now
        var bucket = buckets[client] ?? (capacity, now)
        let elapsed = now - bucket.updated
        let seconds = elapsed.inSeconds
        bucket.tokens = min(capacity, bucket.tokens + seconds * refillPerSecond)
        bucket.updated = now
        if buckets.count > 10_000 { buckets.removeAll() }
        guard bucket.tokens >= 1 else {
            buckets[client] = bucket
            return max(1, Int(((1 - bucket.tokens) / refillPerSecond).rounded(.up)))
        }
        bucket.tokens -= 1
        buckets[client] = bucket
        return nil
    }
}
