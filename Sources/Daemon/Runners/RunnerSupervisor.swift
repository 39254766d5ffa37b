import DiagnosisModel
import Foundation
import Logging
import NIOCore
import NIOPosix
import RunnerProtocol
import Systemd

/// What the supervisor reports while a runner works.
public enum RunnerEvent: Sendable {
    /// Waiting for a free slot (`runners.max_concurrent`), 1-based position.
    case queued(position: Int)
    case started(runnerID: String, pid: Int32?)
    case progress(ProgressUpdate)
    case finding(Finding)
    case log(LogLine)
}

/// How a runner's job ended.
public enum RunnerResult: Sendable {
    case completed(Done)
    /// The domain failed; the reason is shown to the user ("this domain failed: <reason>").
    case failed(reason: String, partial: Done?)
}

/// Spawns runners, authenticates their connections, hands them their job, relays their events,
/// enforces concurrency and deadlines, and survives anything a runner does.
public actor RunnerSupervisor {
    public struct Settings: Sendable {
        public var socketPath: String
        public var maxConcurrent: Int
        public var killGrace: Duration
        /// How long a spawned runner has to connect and say hello.
        public var connectTimeout: Duration = .seconds(10)
        public var maxFrameBytes: Int

        public init(socketPath: String, maxConcurrent: Int, killGrace: Duration, maxFrameBytes: Int) {
            self.socketPath = socketPath
            self.maxConcurrent = maxConcurrent
            self.killGrace = killGrace
            self.maxFrameBytes = maxFrameBytes
        }
    }

    enum RunSignal: Sendable {
        case connected
        case message(RunnerMessage)
        case connectionClosed(String?)
        case exited(RunnerExit)
        case helloTimeout
        case deadline
        case cancel(String)
        /// The runner exited a while ago; stop waiting for its last frames.
        case exitGraceElapsed
    }

    /// A spawn waiting for (or holding) its runner's connection.
    final class Spawn: @unchecked Sendable {
        let runnerID: String
        let job: RunnerJob
        let signals: AsyncStream<RunSignal>.Continuation
        let outbound: AsyncStream<RunnerMessage>
        let outboundContinuation: AsyncStream<RunnerMessage>.Continuation
        // Mutated only on the supervisor actor.
        var expectedPID: Int32?
        var claimed = false
        var launched: (any LaunchedRunner)?

        init(runnerID: String, job: RunnerJob, signals: AsyncStream<RunSignal>.Continuation) {
            self.runnerID = runnerID
            self.job = job
            self.signals = signals
            (outbound, outboundContinuation) = AsyncStream.makeStream()
        }
    }

    let settings: Settings
    let launcher: any RunnerLauncher
    let logger: Logger
    private let slots: RunnerSlots
    private var spawnsByToken: [String: Spawn] = [:]
    private var serverChannel: (any Channel)?
    private var counter = 0
    private var spawnCount = 0
    private var failureCount = 0

    public init(settings: Settings, launcher: any RunnerLauncher, logger: Logger) {
        self.settings = settings
        self.launcher = launcher
        self.logger = logger
        self.slots = RunnerSlots(limit: settings.maxConcurrent)
    }

    /// Runners spawned and runner failures since start (metrics).
    public var counts: (spawned: Int, failed: Int) { (spawnCount, failureCount) }

    /// Runners running now and waiting for a slot.
    public func load() async -> (running: Int, queued: Int) { await slots.snapshot }

    // MARK: Listening

    /// Binds the runner socket: its directory 0700, the socket 0600.
    public func start() async throws {
        let directory = URL(fileURLWithPath: settings.socketPath).deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        _ = chmod(directory, 0o700)
        let maxFrame = settings.maxFrameBytes
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .bind(unixDomainSocketPath: settings.socketPath, cleanupExistingSocketFile: true) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        _ = chmod(settings.socketPath, 0o600)
        serverChannel = channel.channel
        let logger = self.logger
        Task {
            await withDiscardingTaskGroup { group in
                do {
                    try await channel.executeThenClose { inbound in
                        for try await connection in inbound {
                            group.addTask { await self.serve(connection, maxFrameBytes: maxFrame) }
                        }
                    }
                } catch {
                    logger.debug("runner socket closed: \(error)")
                }
            }
        }
        logger.info("runner socket at \(settings.socketPath)")
    }

    /// Closes the runner socket and cancels every runner (daemon shutdown).
    public func stop(reason: String) async {
        for spawn in spawnsByToken.values { spawn.signals.yield(.cancel(reason)) }
        try? await serverChannel?.close()
        serverChannel = nil
    }

    /// Cancels the runners of one session (cancel frame → SIGTERM → SIGKILL).
    public func cancel(sessionID: String, reason: String) {
        for spawn in spawnsByToken.values where spawn.job.sessionID == sessionID {
            spawn.signals.yield(.cancel(reason))
        }
    }

    // MARK: Running a job

    /// Runs `job` in a new runner and returns how it ended. Events go to `events` in order.
    public func run(_ job: RunnerJob, events: AsyncStream<RunnerEvent>.Continuation) async -> RunnerResult {
        await slots.acquire { position in events.yield(.queued(position: position)) }
        let result = await runInSlot(job, events: events)
        await slots.release()
        if case .failed = result { failureCount += 1 }
        return result
    }

    private func runInSlot(_ job: RunnerJob, events: AsyncStream<RunnerEvent>.Continuation) async -> RunnerResult {
        counter += 1
        let runnerID = "\(job.sessionID.prefix(8))-\(job.domain.rawValue)-\(counter)"
        let token = Self.makeToken()
        let (signals, signalContinuation) = AsyncStream<RunSignal>.makeStream()
        let spawn = Spawn(runnerID: runnerID, job: job, signals: signalContinuation)
        spawnsByToken[token] = spawn
        defer {
            spawnsByToken.removeValue(forKey: token)
            spawn.outboundContinuation.finish()
        }

        let launched: any LaunchedRunner
        do {
            launched = try launcher.launch(
                RunnerLaunchRequest(
                    runnerID: runnerID, token: token, domain: job.domain, sessionID: job.sessionID,
                    socketPath: settings.socketPath, maxFrameBytes: settings.maxFrameBytes
                ),
                onExit: { signalContinuation.yield(.exited($0)) }
            )
        } catch {
            logger.error("cannot start runner: \(error)", metadata: [LogKey.sessionID: "\(job.sessionID)", LogKey.domain: "\(job.domain.rawValue)"])
            return .failed(reason: "cannot start the runner: \(error)", partial: nil)
        }
        spawnCount += 1
        spawn.expectedPID = launched.expectedPeerPID
        spawn.launched = launched
        events.yield(.started(runnerID: runnerID, pid: launched.expectedPeerPID))

        let helloTimer = Task {
            try await Task.sleep(for: settings.connectTimeout)
            signalContinuation.yield(.helloTimeout)
        }
        let deadlineTimer = Task {
            let left = job.deadline.timeIntervalSinceNow
            if left > 0 { try await Task.sleep(for: .milliseconds(Int64(left * 1000))) }
            signalContinuation.yield(.deadline)
        }
        defer {
            helloTimer.cancel()
            deadlineTimer.cancel()
        }

        var connected = false
        var connectionOpen = false
        var exitStatus: RunnerExit?
        var done: Done?
        var failure: String?
        var escalation: Task<Void, any Error>?
        defer { escalation?.cancel() }
        let grace = settings.killGrace
        func stop(_ reason: String, sendCancel: Bool) {
            if failure == nil { failure = reason }
            guard escalation == nil else { return }
            escalation = Task {
                if sendCancel {
                    spawn.outboundContinuation.yield(.cancel(Cancel(reason: reason)))
                    try await Task.sleep(for: grace)
                }
                launched.signal(SIGTERM)
                try await Task.sleep(for: grace)
                launched.signal(SIGKILL)
            }
        }

        for await signal in signals {
            switch signal {
            case .connected:
                connected = true
                connectionOpen = true
            case .message(let message):
                switch message {
                case .progress(let update): events.yield(.progress(update))
                case .finding(let finding): events.yield(.finding(finding))
                case .log(let line): events.yield(.log(line))
                case .done(let finished): done = finished
                case .error(let error): stop("runner reported an error: \(error.code): \(error.message)", sendCancel: false)
                case .heartbeat: break
                case .unknown(let type):
                    logger.warning("ignoring unknown frame type \"\(type)\" from runner \(runnerID)")
                case .hello, .job, .cancel:
                    stop("protocol error: unexpected \(message.type) frame from the runner", sendCancel: false)
                }
            case .connectionClosed(let reason):
                connectionOpen = false
                if let reason {
                    stop(reason, sendCancel: false)
                } else if done == nil {
                    stop("the runner closed its connection before finishing", sendCancel: false)
                } else if escalation == nil {
                    // Finished and hung up: it should exit now; make sure it does.
                    escalation = Task {
                        try await Task.sleep(for: grace)
                        launched.signal(SIGKILL)
                    }
                }
            case .helloTimeout:
                if !connected { stop("the runner did not connect within \(settings.connectTimeout)", sendCancel: false) }
            case .deadline:
                if done == nil { stop("deadline exceeded (runner killed)", sendCancel: true) }
            case .cancel(let reason):
                if done == nil { stop(reason, sendCancel: true) }
            case .exited(let exit):
                exitStatus = exit
                if connectionOpen {
                    // Its last frames (done) may still be in flight: read them first.
                    Task {
                        try await Task.sleep(for: .seconds(1))
                        signalContinuation.yield(.exitGraceElapsed)
                    }
                }
            case .exitGraceElapsed:
                connectionOpen = false
            }
            if let exit = exitStatus, !connectionOpen {
                if done == nil, failure == nil {
                    failure = "the runner \(exit) before finishing"
                } else if done == nil, let reason = failure, !reason.contains("exited"), !reason.contains("killed by") {
                    failure = "\(reason); the runner \(exit)"
                }
                signalContinuation.finish()
            }
        }

        if let failure {
            logger.warning(
                "domain \(job.domain.rawValue) failed: \(failure)",
                metadata: [LogKey.sessionID: "\(job.sessionID)", LogKey.domain: "\(job.domain.rawValue)", LogKey.messageID: "\(MessageID.runnerFailed)"]
            )
            return .failed(reason: failure, partial: done)
        }
        guard let done else { return .failed(reason: "the runner finished without a result", partial: nil) }
        return .completed(done)
    }

    private static func makeToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    // MARK: Connections

    enum ClaimResult { case accepted(Spawn), rejected(String) }

    /// Matches a hello to its spawn: the token must be a live one-time token, unused, and the
    /// connection must come from the pid that spawn started.
    private func claim(token: String, peerPID: Int32?) -> ClaimResult {
        guard let spawn = spawnsByToken[token] else { return .rejected("unknown token") }
        guard !spawn.claimed else { return .rejected("token already used") }
        if let expected = spawn.expectedPID {
            guard let peerPID, peerPID == expected else {
                return .rejected("connection from pid \(peerPID.map(String.init) ?? "unknown"), expected the spawned runner's pid \(expected)")
            }
        }
        spawn.claimed = true
        return .accepted(spawn)
    }

    /// Serves one runner connection: hello → job → relay until the stream ends.
    private nonisolated func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>, maxFrameBytes: Int) async {
        let peer = await connection.channel.peerCredentials()
        let logger = self.logger
        let connectTimeout = settings.connectTimeout
        try? await connection.executeThenClose { inbound, outbound in
            var reader = FrameReader(inbound: inbound.makeAsyncIterator(), decoder: FrameDecoder(maxFrameBytes: maxFrameBytes))
            func reject(_ code: String, _ message: String) async {
                logger.warning("rejected runner connection (pid \(peer?.pid ?? -1)): \(message)")
                if let frame = try? MessageCodec.frame(.error(ProtocolErrorBody(code: code, message: message))) {
                    try? await outbound.write(ByteBuffer(bytes: frame))
                }
            }

            // 1. hello, within the connect timeout (closing the channel ends the read).
            let channel = connection.channel
            let helloTimer = Task {
                try await Task.sleep(for: connectTimeout)
                logger.warning("closing runner connection (pid \(peer?.pid ?? -1)): no hello within \(connectTimeout)")
                try? await channel.close()
            }
            let first: RunnerMessage?
            do {
                first = try await reader.next()
                helloTimer.cancel()
            } catch let error as FrameError {
                helloTimer.cancel()
                await reject(error.code, error.description)
                return
            } catch {
                helloTimer.cancel()
                return
            }
            guard case .hello(let hello)? = first else {
                await reject("expected_hello", "the first frame must be hello")
                return
            }
            let spawn: Spawn
            switch await self.claim(token: hello.token, peerPID: peer?.pid) {
            case .rejected(let reason):
                await reject("unauthorized", reason)
                return
            case .accepted(let accepted):
                spawn = accepted
            }
            spawn.signals.yield(.connected)

            // 2. the job, then relay both ways until the runner hangs up.
            do {
                try await outbound.write(ByteBuffer(bytes: MessageCodec.frame(.job(spawn.job), maxFrameBytes: maxFrameBytes)))
            } catch {
                spawn.signals.yield(.connectionClosed("cannot send the job: \(error)"))
                return
            }
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await message in spawn.outbound {
                        guard let frame = try? MessageCodec.frame(message, maxFrameBytes: maxFrameBytes) else { continue }
                        try? await outbound.write(ByteBuffer(bytes: frame))
                    }
                }
                var closeReason: String?
                do {
                    while let message = try await reader.next() {
                        spawn.signals.yield(.message(message))
                    }
                } catch let error as FrameError {
                    closeReason = "protocol error: \(error.description)"
                    if let frame = try? MessageCodec.frame(.error(ProtocolErrorBody(code: error.code, message: error.description))) {
                        try? await outbound.write(ByteBuffer(bytes: frame))
                    }
                } catch {
                    closeReason = "connection error: \(error)"
                }
                spawn.signals.yield(.connectionClosed(closeReason))
                group.cancelAll()
                spawn.outboundContinuation.finish()
            }
        }
    }
}

/// Reads messages from a stream of byte buffers.
struct FrameReader {
    var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    var decoder: FrameDecoder

    /// The next message; nil at a clean end of stream.
    mutating func next() async throws -> RunnerMessage? {
        while true {
            if let frame = try decoder.nextFrame() { return try MessageCodec.decode(frame) }
            guard let buffer = try await inbound.next() else {
                try decoder.finish()
                return nil
            }
            decoder.append(buffer.readableBytesView)
        }
    }
}
