import Foundation
import Synchronization

/// A runner started before any job: spawned, connected and authenticated, holding no job and no
/// credential. A job (with its credentials) is handed to it once; it serves that one job and
/// exits like any runner — no runner ever sees two sessions' credentials.
final class WarmRunner: Sendable {
    let runnerID: String
    let token: String

    private struct State {
        var launched: (any LaunchedRunner)?
        var connected = false
        var exit: RunnerExit?
        var spawn: RunnerSupervisor.Spawn?
        var retired = false
        /// The connection waiting for its job.
        var waiter: CheckedContinuation<RunnerSupervisor.Spawn?, Never>?
        /// Where the exit goes once a job is assigned.
        var onExit: (@Sendable (RunnerExit) -> Void)?
    }

    private let state = Mutex(State())

    init(runnerID: String, token: String) {
        self.runnerID = runnerID
        self.token = token
    }

    var launched: (any LaunchedRunner)? { state.withLock { $0.launched } }
    var isConnected: Bool { state.withLock { $0.connected } }
    var isAssigned: Bool { state.withLock { $0.spawn != nil } }
    var isAlive: Bool { state.withLock { $0.exit == nil && !$0.retired } }

    func setLaunched(_ launched: any LaunchedRunner) { state.withLock { $0.launched = launched } }

    /// The runner's connection waits here for its job; nil when the runner is retired or gone
    /// (the connection then closes and the runner exits).
    func waitForJob() async -> RunnerSupervisor.Spawn? {
        await withCheckedContinuation { continuation in
            let now: RunnerSupervisor.Spawn?? = state.withLock { state in
                state.connected = true
                if let spawn = state.spawn { return .some(spawn) }
                if state.exit != nil || state.retired { return .some(nil) }
                state.waiter = continuation
                return nil
            }
            if let now { continuation.resume(returning: now) }
        }
    }

    /// Hands the job over; false when the runner is already gone (the caller starts a new one).
    func assign(_ spawn: RunnerSupervisor.Spawn, onExit: @escaping @Sendable (RunnerExit) -> Void) -> Bool {
        let waiter = state.withLock { state -> CheckedContinuation<RunnerSupervisor.Spawn?, Never>?? in
            guard state.exit == nil, !state.retired, state.spawn == nil else { return .none }
            state.spawn = spawn
            state.onExit = onExit
            defer { state.waiter = nil }
            return .some(state.waiter)
        }
        guard let waiter else { return false }
        waiter?.resume(returning: spawn)
        return true
    }

    /// The process ended: a runner with a job reports to it; an idle one just ends its wait.
    /// Returns whether it was idle (the pool replaces it).
    @discardableResult
    func exited(_ exit: RunnerExit) -> Bool {
        let (handler, waiter) = state.withLock { state -> ((@Sendable (RunnerExit) -> Void)?, CheckedContinuation<RunnerSupervisor.Spawn?, Never>?) in
            state.exit = exit
            defer { state.waiter = nil }
            return (state.onExit, state.waiter)
        }
        waiter?.resume(returning: nil)
        handler?(exit)
        return handler == nil
    }

    /// Shutdown: ends the wait (the connection closes) and stops the process.
    func retire() {
        let (waiter, launched) = state.withLock { state -> (CheckedContinuation<RunnerSupervisor.Spawn?, Never>?, (any LaunchedRunner)?) in
            guard state.spawn == nil else { return (nil, nil) }
            state.retired = true
            defer { state.waiter = nil }
            return (state.waiter, state.launched)
        }
        waiter?.resume(returning: nil)
        launched?.signal(SIGTERM)
    }
}
