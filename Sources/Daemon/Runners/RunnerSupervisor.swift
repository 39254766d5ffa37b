import DiagnosisModel
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import RunnerProtocol
import Synchronization
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
        /// Warm runners kept ready (0: none); they count in `maxConcurrent`.
        public var warm = 0
        /// How long after a runner ended the pool refills (see ``scheduleRefill()``).
        public var refillDelay: Duration = .milliseconds(25)
        /// TCP with TLS for runners started elsewhere (Kubernetes Jobs); nil: the Unix socket only.
        public var remote: RemoteEndpoint?

        public struct RemoteEndpoint: Sendable {
            public var host: String
            public var port: Int
            public var tls: NIOSSLContext

            public init(host: String, port: Int, tls: NIOSSLContext) {
                self.host = host
                self.port = port
                self.tls = tls
            }
        }

        public init(socketPath: String, maxConcurrent: Int, killGrace: Duration, maxFrameBytes: Int) {
            self.socketPath = socketPath
            self.maxConcurrent = maxConcurrent
            self.killGrace = killGrace
            self.maxFrameBytes = maxFrameBytes
        }
    }

    /// A spawn waiting for (or holding) its runner's connection.
    final class Spawn: Sendable {
        let runnerID: String
        let job: RunnerJob
        let signals: AsyncStream<RunnerExchange.Signal>.Continuation
        let outbound: AsyncStream<RunnerMessage>
        let outboundContinuation: AsyncStream<RunnerMessage>.Continuation

        init(runnerID: String, job: RunnerJob, signals: AsyncStream<RunnerExchange.Signal>.Continuation) {
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
    private(set) var spawnsByToken: [String: Spawn] = [:]
    var tokens = RunnerTokens()
    private var serverChannel: (any Channel)?
    private var remoteChannel: (any Channel)?
    /// The remote endpoint's port once bound (tests bind port 0).
    public private(set) var remotePort: Int?
    private var counter = 0
    private var spawnCount = 0
    private var failureCount = 0
    /// Warm runners not yet given a job, oldest first.
    private var warmPool: [WarmRunner] = []
    private(set) var warmByToken: [String: WarmRunner] = [:]
    /// Warm runners that died before connecting, in a row: a broken runner binary must not be
    /// respawned in a loop.
    var warmFailuresInARow = 0
    private var warmServed = 0

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

    /// Warm runners waiting for a job, and jobs a warm runner served (metrics).
    public var warmCounts: (idle: Int, served: Int) { (warmPool.count, warmServed) }

    // MARK: Listening

    /// Binds the runner socket: its directory 0700, the socket 0600.
    public func start() async throws {
        let directory = URL(fileURLWithPath: settings.socketPath).deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        _ = chmod(directory, 0o700)
        let maxFrame = settings.maxFrameBytes
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .bind(unixDomainSocketPath: settings.socketPath, cleanupExistingSocketFile: true) { [accepting] channel in
                channel.eventLoop.makeCompletedFuture {
                    guard accepting.isOpen else { throw ChannelError.ioOnClosedChannel }
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        _ = chmod(settings.socketPath, 0o600)
        serverChannel = channel.channel
        defer { Task { await self.fillPool() } }
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
        if let remote = settings.remote { try await listenRemote(remote) }
    }

    /// The runner endpoint for runners that are not on this host: TLS with the daemon's
    /// certificate; they authenticate with their one-time token (no peer pid to check).
    private func listenRemote(_ remote: Settings.RemoteEndpoint) async throws {
        let maxFrame = settings.maxFrameBytes
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .bind(host: remote.host, port: remote.port) { [accepting] channel in
                channel.eventLoop.makeCompletedFuture {
                    guard accepting.isOpen else { throw ChannelError.ioOnClosedChannel }
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: remote.tls))
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        remoteChannel = channel.channel
        remotePort = channel.channel.localAddress?.port
        let logger = self.logger
        Task {
            await withDiscardingTaskGroup { group in
                do {
                    try await channel.executeThenClose { inbound in
                        for try await connection in inbound {
                            group.addTask { await self.serve(connection, maxFrameBytes: maxFrame, local: false) }
                        }
                    }
                } catch {
                    logger.debug("runner endpoint closed: \(error)")
                }
            }
        }
        logger.info("runner endpoint (TLS) at \(remote.host):\(remotePort ?? remote.port)")
    }

    /// The daemon is stopping: no new warm runners (a session's runner that ends now frees a
    /// slot the pool must not refill), and the idle ones go.
    private var stopping = false
    private var refillScheduled = false
    /// Cleared before the listeners close: a connection accepted after that is refused before it
    /// is wrapped, since nobody would serve it (an unserved async channel traps in NIO).
    private nonisolated let accepting = AcceptGate()

    final class AcceptGate: Sendable {
        private let open = Mutex(true)
        var isOpen: Bool { open.withLock { $0 } }
        func close() { open.withLock { $0 = false } }
    }

    public func prepareToStop() {
        accepting.close()
        stopping = true
        for runner in warmPool { runner.retire() }
        warmPool.removeAll()
    }

    /// Closes the runner socket and cancels every runner (daemon shutdown).
    public func stop(reason: String) async {
        accepting.close()
        stopping = true
        for spawn in spawnsByToken.values { spawn.signals.yield(.cancel(reason)) }
        let channel = serverChannel
        serverChannel = nil
        try? await remoteChannel?.close()
        remoteChannel = nil
        for runner in warmPool { runner.retire() }
        warmPool.removeAll()
        try? await channel?.close()
    }

    // MARK: Warm runners

    /// Starts warm runners until the pool is full — never beyond `maxConcurrent` together with
    /// the runners at work.
    func fillPool() async {
        guard settings.warm > 0, serverChannel != nil, !stopping, warmFailuresInARow < 3 else { return }
        let running = await slots.snapshot.running
        while warmPool.count < settings.warm, running + warmPool.count < settings.maxConcurrent {
            guard launchWarm() else { return }
        }
    }

    /// One warm runner: no domain, no session, no job — only its one-time token.
    private func launchWarm() -> Bool {
        counter += 1
        let runner = WarmRunner(runnerID: "warm-\(counter)", token: Self.makeToken())
        tokens.register(runner.token)
        warmByToken[runner.token] = runner
        warmPool.append(runner)
        do {
            let launched = try launcher.launch(
                RunnerLaunchRequest(runnerID: runner.runnerID, token: runner.token, domain: nil, sessionID: nil, socketPath: settings.socketPath, maxFrameBytes: settings.maxFrameBytes),
                onExit: { exit in
                    let connected = runner.isConnected
                    if runner.exited(exit) { Task { await self.warmEnded(runner, connected: connected, exit: exit) } }
                }
            )
            runner.setLaunched(launched)
            tokens.expect(pid: launched.expectedPeerPID, for: runner.token)
            spawnCount += 1
            return true
        } catch {
            logger.error("cannot start a warm runner: \(error)")
            forget(runner)
            warmFailuresInARow += 1
            return false
        }
    }

    /// An idle warm runner ended: replace it (unless runners keep dying before they connect).
    private func warmEnded(_ runner: WarmRunner, connected: Bool, exit: RunnerExit) async {
        forget(runner)
        if connected || serverChannel == nil {
            warmFailuresInARow = 0
        } else {
            warmFailuresInARow += 1
            logger.warning("warm runner \(runner.runnerID) \(exit) before connecting\(warmFailuresInARow >= 3 ? "; no more warm runners until a job's runner works" : "")")
        }
        await fillPool()
    }

    private func forget(_ runner: WarmRunner) {
        warmPool.removeAll { $0 === runner }
        warmByToken.removeValue(forKey: runner.token)
        tokens.remove(runner.token)
    }

    /// The oldest live warm runner, taken out of the pool (connected or still connecting).
    private func takeWarm() -> WarmRunner? {
        while let runner = warmPool.first {
            warmPool.removeFirst()
            warmByToken.removeValue(forKey: runner.token)
            if runner.isAlive, runner.launched != nil { return runner }
            tokens.remove(runner.token)
        }
        return nil
    }

    /// Cancels the runners of one session (cancel frame → SIGTERM → SIGKILL).
    public func cancel(sessionID: String, reason: String) {
        for spawn in spawnsByToken.values where spawn.job.sessionID == sessionID {
            spawn.signals.yield(.cancel(reason))
        }
    }

    // MARK: Running a job

    /// Runs `job` in a new runner and returns how it ended. Events go to `events` in order.
    ///
    /// It returns as soon as the result is final — the runner sent `done` and hung up — while the
    /// runner's slot stays taken until its process has exited (a few ms later), so the session
    /// does not wait for a process teardown and `max_concurrent` still counts processes.
    public func run(_ job: RunnerJob, events: AsyncStream<RunnerEvent>.Continuation) async -> RunnerResult {
        await slots.acquire { position in events.yield(.queued(position: position)) }
        let (results, resultContinuation) = AsyncStream<RunnerResult>.makeStream(bufferingPolicy: .bufferingOldest(1))
        let life = Task {
            let result = await self.runInSlot(job, events: events, resolved: { resultContinuation.yield($0) })
            await self.ended(result)
            resultContinuation.yield(result)
            resultContinuation.finish()
        }
        return await withTaskCancellationHandler {
            for await result in results { return result }
            return .failed(reason: RunnerExchange.Failure.noResult.description, partial: nil)
        } onCancel: {
            life.cancel()
        }
    }

    /// A runner's process has gone: its slot is free.
    private func ended(_ result: RunnerResult) async {
        await slots.release()
        if case .failed = result { failureCount += 1 }
        // A freed slot may make room for the warm pool to refill.
        scheduleRefill()
    }

    /// Refills the pool shortly after a runner ended rather than at once: the runner's `done`
    /// is when its session ranks, stores and publishes the report, and a runner's start-up (a
    /// spawn and ≈10 ms of CPU) then competed with it on 2 cores — measured as the largest
    /// stall between `done` and the report. One refill at a time; a job that arrives meanwhile
    /// takes another warm runner or starts its own, as without a pool.
    private func scheduleRefill() {
        guard settings.warm > 0, !refillScheduled else { return }
        refillScheduled = true
        let delay = settings.refillDelay
        Task {
            try? await Task.sleep(for: delay)
            await self.refill()
        }
    }

    private func refill() async {
        refillScheduled = false
        await fillPool()
    }

    private func runInSlot(
        _ job: RunnerJob, events: AsyncStream<RunnerEvent>.Continuation, resolved: @Sendable (RunnerResult) -> Void
    ) async -> RunnerResult {
        counter += 1
        let (signals, signalContinuation) = AsyncStream<RunnerExchange.Signal>.makeStream()
        let runnerID: String
        let token: String
        let spawn: Spawn
        let launched: any LaunchedRunner
        if let warm = takeWarm(), let warmLaunched = warm.launched,
           case let candidate = Spawn(runnerID: warm.runnerID, job: job, signals: signalContinuation),
           warm.assign(candidate, onExit: { signalContinuation.yield(.exited($0)) }) {
            // A warm runner: already started and authenticated; the job goes to it as soon as
            // its connection is (or was) accepted. The pool refills when a runner ends (`ended`),
            // not now: a new runner's start-up (≈10 ms of CPU) would compete with the job it made
            // room for (on 2 cores, job → first probe went from 1.7 to 6 ms).
            (runnerID, token, spawn, launched) = (warm.runnerID, warm.token, candidate, warmLaunched)
            spawnsByToken[token] = spawn
            warmServed += 1
        } else {
            runnerID = "\(job.sessionID.prefix(8))-\(job.domain.rawValue)-\(counter)"
            token = Self.makeToken()
            spawn = Spawn(runnerID: runnerID, job: job, signals: signalContinuation)
            spawnsByToken[token] = spawn
            tokens.register(token)
            do {
                launched = try launcher.launch(
                    RunnerLaunchRequest(
                        runnerID: runnerID, token: token, domain: job.domain, sessionID: job.sessionID,
                        socketPath: settings.socketPath, maxFrameBytes: settings.maxFrameBytes
                    ),
                    onExit: { signalContinuation.yield(.exited($0)) }
                )
            } catch {
                spawnsByToken.removeValue(forKey: token)
                tokens.remove(token)
                logger.error("cannot start runner: \(error)", metadata: [LogKey.sessionID: "\(job.sessionID)", LogKey.domain: "\(job.domain.rawValue)"])
                return .failed(reason: "cannot start the runner: \(error)", partial: nil)
            }
            spawnCount += 1
            tokens.expect(pid: launched.expectedPeerPID, for: token)
        }
        defer {
            spawnsByToken.removeValue(forKey: token)
            tokens.remove(token)
            spawn.outboundContinuation.finish()
        }
        events.yield(.started(runnerID: runnerID, pid: launched.expectedPeerPID))

        let timers = startTimers(job, signals: signalContinuation)
        defer { for timer in timers { timer.cancel() } }
        var exchange = RunnerExchange(connectTimeout: settings.connectTimeout)
        var effects = Effects(spawn: spawn, launched: launched, grace: settings.killGrace, signals: signalContinuation, events: events, logger: logger)
        defer { effects.escalation?.cancel() }
        for await signal in signals {
            for action in exchange.receive(signal) {
                if action == .resolve { resolved(exchange.result) } else { effects.perform(action) }
            }
        }

        let result = exchange.result
        if case .failed(let reason, _) = result {
            logger.warning(
                "domain \(job.domain.rawValue) failed: \(reason)",
                metadata: [LogKey.sessionID: "\(job.sessionID)", LogKey.domain: "\(job.domain.rawValue)", LogKey.messageID: "\(MessageID.runnerFailed)"]
            )
        }
        return result
    }

    /// The hello timeout and the job's deadline, as signals.
    private func startTimers(_ job: RunnerJob, signals: AsyncStream<RunnerExchange.Signal>.Continuation) -> [Task<Void, any Error>] {
        let connectTimeout = settings.connectTimeout
        return [
            Task {
                try await Task.sleep(for: connectTimeout)
                signals.yield(.helloTimeout)
            },
            Task {
                let left = job.deadline.timeIntervalSinceNow
                if left > 0 { try await Task.sleep(for: .milliseconds(Int64(left * 1000))) }
                signals.yield(.deadline)
            },
        ]
    }

    /// Carries out a ``RunnerExchange``'s actions: events to the session, frames and signals to
    /// the runner.
    struct Effects {
        let spawn: Spawn
        let launched: any LaunchedRunner
        let grace: Duration
        let signals: AsyncStream<RunnerExchange.Signal>.Continuation
        let events: AsyncStream<RunnerEvent>.Continuation
        let logger: Logger
        var escalation: Task<Void, any Error>?

        mutating func perform(_ action: RunnerExchange.Action) {
            switch action {
            case .forward(.progress(let update)): events.yield(.progress(update))
            case .forward(.finding(let finding)): events.yield(.finding(finding))
            case .forward(.log(let line)): events.yield(.log(line))
            case .terminate(let cancelReason):
                let (spawn, launched, grace) = (spawn, launched, grace)
                escalation = Task {
                    if let cancelReason {
                        spawn.outboundContinuation.yield(.cancel(Cancel(reason: cancelReason)))
                        launched.cancelled()
                        try await Task.sleep(for: grace)
                    }
                    launched.signal(SIGTERM)
                    try await Task.sleep(for: grace)
                    launched.signal(SIGKILL)
                }
            case .killAfterGrace:
                let (launched, grace) = (launched, grace)
                escalation = Task {
                    try await Task.sleep(for: grace)
                    launched.signal(SIGKILL)
                }
            case .awaitLastFrames:
                let signals = signals
                Task {
                    try await Task.sleep(for: .seconds(1))
                    signals.yield(.exitGraceElapsed)
                }
            case .ignoreUnknownFrame(let type):
                logger.warning("ignoring unknown frame type \"\(type)\" from runner \(spawn.runnerID)")
            case .finish:
                signals.finish()
            case .resolve:
                break  // the supervisor hands the result over itself
            }
        }
    }

    private static func makeToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}
