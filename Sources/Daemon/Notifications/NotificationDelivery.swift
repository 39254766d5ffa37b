import Crypto
import DiagnosisModel
import Foundation
import Logging
import OutboundHTTP
import ServiceLifecycle
import SessionStore
import Synchronization
import Systemd

/// Delivers the outbox: one worker per sink, oldest first, so a sink gets its notifications in
/// order and once (receivers deduplicate on the delivery id if an answer is lost); a failed
/// delivery is retried with exponential backoff and jitter until the give-up horizon, then the
/// session gets a notice. A slow or dead sink only holds up its own queue.
struct NotificationDelivery: Service {
    /// A sink with its secrets read (at start-up, from cred://, file:// or env://).
    struct Endpoint: Sendable {
        var name: String
        var kind: DaemonConfig.Notifications.Sink.Kind
        var url: URL
        var signingKey: SymmetricKey?
        /// nil: `notifications.retry.give_up_after`.
        var giveUpAfter: Duration?
    }

    let endpoints: [Endpoint]
    let outbox: any NotificationOutbox
    let settings: DaemonConfig.Notifications
    let wake: WakeSignal
    /// Records a give-up on the session.
    let onGiveUp: @Sendable (_ sessionID: String, _ message: String) async -> Void
    let logger: Logger

    func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            for endpoint in endpoints {
                group.addTask { await self.work(endpoint) }
            }
            group.addTask {
                // On graceful shutdown the workers stop after their current attempt.
                try? await gracefulShutdown()
                self.wake.stop()
            }
        }
    }

    func work(_ endpoint: Endpoint) async {
        while !wake.isStopped {
            let entry: OutboxEntry?
            do {
                entry = try await outbox.nextPending(sink: endpoint.name)
            } catch {
                logger.error("notification outbox unreadable: \(error)")
                await wake.wait(timeout: .seconds(5))
                continue
            }
            guard let entry else {
                await wake.wait(timeout: .seconds(5))
                continue
            }
            let delay = entry.nextAttemptAt.timeIntervalSinceNow
            if delay > 0 {
                await wake.wait(timeout: .milliseconds(Int64(min(delay, 5) * 1000)))
                continue
            }
            await attempt(entry, endpoint)
        }
    }

    func attempt(_ entry: OutboxEntry, _ endpoint: Endpoint) async {
        let attempts = entry.attempts + 1
        do {
            if let failure = await Self.post(entry, to: endpoint) {
                let elapsed = Date().timeIntervalSince(entry.createdAt)
                if elapsed >= (endpoint.giveUpAfter ?? settings.giveUpAfter).inSeconds {
                    try await outbox.giveUp(entry.id, attempts: attempts, error: failure)
                    let message = "notification \(entry.kind) to \(endpoint.name) given up after \(attempts) attempt(s) over \(Int(elapsed)) s: \(failure)"
                    logger.warning("\(message)", metadata: [LogKey.sessionID: "\(entry.sessionID)"])
                    await onGiveUp(entry.sessionID, message)
                } else {
                    let next = Date().addingTimeInterval(backoff(attempts))
                    try await outbox.reschedule(entry.id, attempts: attempts, next: next, error: failure)
                    logger.info("notification \(entry.kind) to \(endpoint.name) failed (\(failure)); attempt \(attempts + 1) at \(JSONCoding.format(next))", metadata: [LogKey.sessionID: "\(entry.sessionID)"])
                }
            } else {
                try await outbox.markDelivered(entry.id)
                logger.info("notification \(entry.kind) delivered to \(endpoint.name) (\(entry.deliveryID))", metadata: [LogKey.sessionID: "\(entry.sessionID)"])
            }
        } catch {
            logger.error("notification outbox update failed: \(error)")
            await wake.wait(timeout: .seconds(1))
        }
    }

    /// initial × 2^(n-1), capped, ±20 % jitter (so many daemons or sinks do not retry in step).
    func backoff(_ attempts: Int) -> TimeInterval {
        let base = min(settings.retryMax.inSeconds, settings.retryInitial.inSeconds * pow(2, Double(min(attempts - 1, 30))))
        return base * Double.random(in: 0.8...1.2)
    }

    /// POSTs the body; nil on a 2xx, else why not — in words without the URL (a Slack webhook
    /// URL is a secret).
    static func post(_ entry: OutboxEntry, to endpoint: Endpoint) async -> String? {
        let body = Data(entry.body.utf8)
        var headers = [(name: "Content-Type", value: "application/json"), (name: "User-Agent", value: "sre-diagnose/\(ProductInfo.version)")]
        if endpoint.kind == .webhook {
            headers.append((name: "X-SRE-Diagnose-Delivery", value: entry.deliveryID))
            headers.append((name: "X-SRE-Diagnose-Event", value: entry.kind))
            if let key = endpoint.signingKey {
                let signature = HMAC<SHA256>.authenticationCode(for: body, using: key).map { String(format: "%02x", $0) }.joined()
                headers.append((name: "X-SRE-Diagnose-Signature", value: "sha256=\(signature)"))
            }
        }
        do {
            let answer = try await OutboundHTTPClient.shared.send(OutboundRequest(.post, endpoint.url, headers: headers, body: body, timeout: .seconds(10)))
            return (200..<300).contains(answer.status) ? nil : "HTTP \(answer.status)"
        } catch {
            return error.description
        }
    }
}

/// Wakes sleeping workers when something new is queued (or at shutdown). A wake with nobody
/// waiting is kept for the next wait; spurious wakes are harmless (workers re-read the outbox).
final class WakeSignal: Sendable {
    private struct State {
        var pending = false
        var stopped = false
        var waiters: [UUID: CheckedContinuation<Void, Never>] = [:]
        /// Timers that fired before their wait registered.
        var expired: Set<UUID> = []
    }

    private let state = Mutex(State())

    var isStopped: Bool { state.withLock { $0.stopped } }

    func signal() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard !state.waiters.isEmpty else {
                state.pending = true
                return []
            }
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    func stop() {
        state.withLock { $0.stopped = true }
        signal()
    }

    func wait(timeout: Duration) async {
        let id = UUID()
        let timer = Task { [weak self] in
            // Cancelled (woken by a signal first): nothing to do.
            guard (try? await Task.sleep(for: timeout)) != nil else { return }
            self?.resume(id)
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if state.pending || state.stopped || state.expired.remove(id) != nil {
                    state.pending = false
                    return true
                }
                state.waiters[id] = continuation
                return false
            }
            if now { continuation.resume() }
        }
        timer.cancel()
    }

    private func resume(_ id: UUID) {
        state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiters.removeValue(forKey: id) else {
                state.expired.insert(id)
                return nil
            }
            return waiter
        }?.resume()
    }
}
