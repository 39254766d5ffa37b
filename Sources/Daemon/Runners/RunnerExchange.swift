import DiagnosisModel
import RunnerProtocol

/// The supervisor's side of one runner's life — spawned, connected, working, done or failed —
/// as a value-type state machine in the manner of Hummingbird's `HTTPConnectionStateHandler`:
/// it is told what happened (``Signal``) and answers with what to do (``Action``). It does no
/// I/O, so every path (hello, job, progress, finding, done, crash, deadline, cancel, protocol
/// errors) is tested without processes.
struct RunnerExchange: Sendable {
    /// Something that happened to the runner or its connection.
    enum Signal: Sendable, Equatable {
        case connected
        case message(RunnerMessage)
        /// The connection ended: cleanly (nil) or because of `failure`.
        case connectionClosed(Failure?)
        case exited(RunnerExit)
        case helloTimeout
        case deadline
        case cancel(String)
        /// The runner exited a while ago; stop waiting for its last frames.
        case exitGraceElapsed
    }

    /// What the supervisor does next.
    enum Action: Sendable, Equatable {
        case forward(Forwarded)
        /// Stop the runner: a cancel frame first when `cancelReason` is set, then SIGTERM, then
        /// SIGKILL, a grace period apart.
        case terminate(cancelReason: String?)
        /// It finished and hung up; SIGKILL it after the grace period should it linger.
        case killAfterGrace
        /// The job's result is final (``result``): the session can go on while the process exits.
        case resolve
        /// It exited with its connection still open: read its last frames for a moment.
        case awaitLastFrames
        case ignoreUnknownFrame(String)
        /// Nothing more will happen: stop listening.
        case finish
    }

    /// The events that go on to the session (a subset of ``RunnerEvent``, comparable in tests).
    enum Forwarded: Sendable, Equatable {
        case progress(ProgressUpdate)
        case finding(Finding)
        case log(LogLine)
    }

    /// Why a runner's domain failed.
    enum Failure: Sendable, Equatable, CustomStringConvertible {
        case notConnected(within: Duration)
        case runnerError(code: String, message: String)
        case unexpectedFrame(String)
        case protocolError(String)
        case connectionError(String)
        case jobNotSent(String)
        case closedBeforeFinishing
        case deadlineExceeded
        case cancelled(String)
        case exitedEarly(RunnerExit)
        case noResult

        var description: String {
            switch self {
            case .notConnected(let timeout): "the runner did not connect within \(timeout)"
            case .runnerError(let code, let message): "runner reported an error: \(code): \(message)"
            case .unexpectedFrame(let type): "protocol error: unexpected \(type) frame from the runner"
            case .protocolError(let text): "protocol error: \(text)"
            case .connectionError(let text): "connection error: \(text)"
            case .jobNotSent(let text): "cannot send the job: \(text)"
            case .closedBeforeFinishing: "the runner closed its connection before finishing"
            case .deadlineExceeded: "deadline exceeded (runner killed)"
            case .cancelled(let reason): reason
            case .exitedEarly(let exit): "the runner \(exit) before finishing"
            case .noResult: "the runner finished without a result"
            }
        }
    }

    let connectTimeout: Duration
    private(set) var connected = false
    private var connectionOpen = false
    private var exit: RunnerExit?
    private(set) var done: Done?
    private(set) var failure: Failure?
    /// A stop (or the post-finish kill) is already under way.
    private var stopping = false
    private(set) var isFinished = false

    init(connectTimeout: Duration) {
        self.connectTimeout = connectTimeout
    }

    mutating func receive(_ signal: Signal) -> [Action] {
        guard !isFinished else { return [] }
        var actions: [Action]
        switch signal {
        case .connected:
            connected = true
            connectionOpen = true
            actions = []
        case .message(let message):
            actions = receive(message)
        case .connectionClosed(let failure):
            connectionOpen = false
            if let failure {
                actions = stop(failure, cancelFirst: false)
            } else if done == nil {
                actions = stop(.closedBeforeFinishing, cancelFirst: false)
            } else if !stopping {
                stopping = true
                actions = [.killAfterGrace, .resolve]
            } else {
                actions = []
            }
        case .helloTimeout:
            actions = connected ? [] : stop(.notConnected(within: connectTimeout), cancelFirst: false)
        case .deadline:
            actions = done == nil ? stop(.deadlineExceeded, cancelFirst: true) : []
        case .cancel(let reason):
            actions = done == nil ? stop(.cancelled(reason), cancelFirst: true) : []
        case .exited(let status):
            exit = status
            actions = connectionOpen ? [.awaitLastFrames] : []
        case .exitGraceElapsed:
            connectionOpen = false
            actions = []
        }
        if exit != nil, !connectionOpen {
            isFinished = true
            actions.append(.finish)
        }
        return actions
    }

    private mutating func receive(_ message: RunnerMessage) -> [Action] {
        switch message {
        case .progress(let update): return [.forward(.progress(update))]
        case .finding(let finding): return [.forward(.finding(finding))]
        case .log(let line): return [.forward(.log(line))]
        case .done(let finished):
            done = finished
            return []
        case .error(let error): return stop(.runnerError(code: error.code, message: error.message), cancelFirst: false)
        case .heartbeat: return []
        case .unknown(let type): return [.ignoreUnknownFrame(type)]
        case .hello, .job, .cancel: return stop(.unexpectedFrame(message.type), cancelFirst: false)
        }
    }

    /// Records the first failure and starts stopping the runner once.
    private mutating func stop(_ reason: Failure, cancelFirst: Bool) -> [Action] {
        if failure == nil { failure = reason }
        guard !stopping else { return [] }
        stopping = true
        return [.terminate(cancelReason: cancelFirst ? reason.description : nil)]
    }

    /// How the job ended, once ``isFinished``.
    var result: RunnerResult {
        if let failure {
            var reason = failure.description
            if done == nil, let exit, !(failure == .exitedEarly(exit)) { reason += "; the runner \(exit)" }
            return .failed(reason: reason, partial: done)
        }
        if done == nil, let exit { return .failed(reason: Failure.exitedEarly(exit).description, partial: nil) }
        guard let done else { return .failed(reason: Failure.noResult.description, partial: nil) }
        return .completed(done)
    }
}

/// The one-time tokens of spawned runners, and the rule a connecting runner must pass: a live
/// token, not used before, from the pid the launcher started.
struct RunnerTokens: Sendable {
    enum Rejection: Error, Sendable, Equatable, CustomStringConvertible {
        case unknownToken
        case alreadyUsed
        case wrongPeer(expected: Int32, got: Int32?)

        var description: String {
            switch self {
            case .unknownToken: "unknown token"
            case .alreadyUsed: "token already used"
            case .wrongPeer(let expected, let got): "connection from pid \(got.map(String.init) ?? "unknown"), expected the spawned runner's pid \(expected)"
            }
        }
    }

    private struct Entry: Sendable {
        var expectedPID: Int32?
        var claimed = false
    }

    private var entries: [String: Entry] = [:]

    mutating func register(_ token: String) { entries[token] = Entry() }
    mutating func expect(pid: Int32?, for token: String) { entries[token]?.expectedPID = pid }
    mutating func remove(_ token: String) { entries.removeValue(forKey: token) }

    /// Claims `token` for a connection from `peerPID`; a token is claimed once.
    mutating func claim(_ token: String, peerPID: Int32?) -> Rejection? {
        guard var entry = entries[token] else { return .unknownToken }
        guard !entry.claimed else { return .alreadyUsed }
        if let expected = entry.expectedPID, peerPID != expected { return .wrongPeer(expected: expected, got: peerPID) }
        entry.claimed = true
        entries[token] = entry
        return nil
    }
}
