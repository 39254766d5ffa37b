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
    /// It never ran: the launcher could not start it (a Kubernetes API refusal, say).
    case failedToStart(String)

    public var description: String {
        switch self {
        case .failedToStart(let reason): "could not be started (\(reason))"
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
    /// The job was cancelled (the cancel frame is on its way): a launcher whose runners live in
    /// something of their own (a Kubernetes Job) removes it now.
    func cancelled()
}

extension LaunchedRunner {
    public func cancelled() {}
}

/// Starts runners. The local launcher uses `posix_spawn`; the Kubernetes-Job launcher
/// (``KubernetesRunnerLauncher``, docs/DESIGN.md §14) implements the same seam; the protocol is
/// the same over both.
public protocol RunnerLauncher: Sendable {
    /// Starts a runner; `onExit` is called once when it ends.
    func launch(_ request: RunnerLaunchRequest, onExit: @escaping @Sendable (RunnerExit) -> Void) throws -> any LaunchedRunner
}
