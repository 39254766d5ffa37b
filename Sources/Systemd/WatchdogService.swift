import ServiceLifecycle

/// Sends `WATCHDOG=1` at half of `WATCHDOG_USEC` until graceful shutdown.
///
/// The ping runs on the cooperative pool, so a wedged executor stops the pings and systemd
/// restarts the daemon — which is the point of the watchdog.
public struct WatchdogService: Service {
    let notifier: SystemdNotifier
    let interval: Duration

    public init(notifier: SystemdNotifier, interval: Duration) {
        self.notifier = notifier
        self.interval = interval
    }

    public func run() async throws {
        notifier.watchdog()
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                return
            }
            notifier.watchdog()
        }
    }
}
