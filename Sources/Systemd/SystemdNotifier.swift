import CSystemd
import Foundation

/// Sends service state to the service manager (`sd_notify(3)`).
///
/// Every call is a no-op when `NOTIFY_SOCKET` is not set, so the daemon behaves the same by hand
/// and under systemd.
public struct SystemdNotifier: Sendable {
    public init() {}

    /// Whether a service manager is listening for notifications.
    public var isEnabled: Bool {
        ProcessInfo.processInfo.environment["NOTIFY_SOCKET"].map { !$0.isEmpty } ?? false
    }

    /// Sends a raw notification such as `"READY=1\nSTATUS=serving"`.
    @discardableResult
    public func notify(_ state: String) -> Bool {
        guard isEnabled else { return false }
        return sd_notify(0, state) > 0
    }

    /// `READY=1` plus a status line: every listener is accepting connections.
    public func ready(status: String) { notify("READY=1\nSTATUS=\(Self.oneLine(status))") }

    /// `STATUS=…`: a one-line human summary shown by `systemctl status`.
    public func status(_ text: String) { notify("STATUS=\(Self.oneLine(text))") }

    /// `WATCHDOG=1`: the main loop is alive.
    public func watchdog() { notify("WATCHDOG=1") }

    /// `STOPPING=1`: shutdown has begun.
    public func stopping(status: String) { notify("STOPPING=1\nSTATUS=\(Self.oneLine(status))") }

    /// The interval at which `WATCHDOG=1` must be sent (half of `WATCHDOG_USEC`), or nil when the
    /// watchdog is off or meant for another process (`WATCHDOG_PID`).
    public var watchdogInterval: Duration? {
        var usec: UInt64 = 0
        guard sd_watchdog_enabled(0, &usec) > 0, usec > 0 else { return nil }
        return .microseconds(Int64(usec / 2))
    }

    private static func oneLine(_ text: String) -> String {
        text.replacingOccurrences(of: "\n", with: " ")
    }
}
