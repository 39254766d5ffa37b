import DiagnosisModel
import Foundation

/// What the supervisor asks a launcher to start.
public struct RunnerLaunchRequest: Sendable {
    public var runnerID: String
    /// One-time token the runner must present in `hello`.
    public var token: String
    /// nil for a warm runner: started, connected and authenticated before any job exists.
    public var domain: Domain?
    public var sessionID: String?
    /// Where the runner connects back to.
    public var socketPath: String
    public var maxFrameBytes: Int
}

/// How a runner ended.
public enum RunnerExit: Sendable, Equatable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    public var description: String {
        switch self {
        case .exited(let code): "exited with status \(code)"
        case .signaled(let signal): "killed by signal \(signal)\(signal == SIGKILL ? " (SIGKILL)" : signal == SIGSEGV ? " (SIGSEGV)" : signal == SIGTERM ? " (SIGTERM)" : "")"
        }
    }
}

/// A started runner the supervisor can signal.
public protocol LaunchedRunner: Sendable {
    /// The pid the runner's connection must come from (`SO_PEERCRED`); nil when the launcher
    /// cannot know it (a remote runner authenticates otherwise).
    var expectedPeerPID: Int32? { get }
    func signal(_ signal: Int32)
}

/// Starts runner processes. The local launcher uses `Foundation.Process`; a Kubernetes-Job
/// launcher can implement the same seam later (docs/DESIGN.md §14) without changing the protocol.
public protocol RunnerLauncher: Sendable {
    /// Starts a runner; `onExit` is called once when it ends.
    func launch(_ request: RunnerLaunchRequest, onExit: @escaping @Sendable (RunnerExit) -> Void) throws -> any LaunchedRunner
}
