import DiagnosisModel
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import Orchestrator
import Secrets
import SessionStore
import ServiceLifecycle
import Systemd

/// Command-line choices that are not part of the configuration file.
public struct DaemonOptions: Sendable {
    /// Listen addresses from `--listen`, replacing `server.listen`.
    public var listen: [ListenAddress] = []
    /// Delay between SSE heartbeat comments.
    public var heartbeatInterval: Duration = .seconds(15)

    public init(listen: [ListenAddress] = []) {
        self.listen = listen
    }
}

/// Wires the daemon together, top to bottom: state, runners, sessions, HTTP routes, systemd.
public enum DaemonApplication {
    /// Builds the service group that `main` runs until SIGTERM/SIGINT.
    public static func build(config: DaemonConfig, options: DaemonOptions, scrubber: SecretScrubber, logger: Logger) async throws -> ServiceGroup {
        let notifier = SystemdNotifier()
        let environment = ProcessInfo.processInfo.environment

        // Where state lives.
        let stateDirectory = config.storage.stateDirectory
            ?? environment["STATE_DIRECTORY"]?.split(separator: ":").first.map(String.init)
            ?? environment["XDG_STATE_HOME"].map { "\($0)/sre-diagnose" }
            ?? "\(environment["HOME"] ?? "/tmp")/.local/state/sre-diagnose"
        let runtimeDirectory = config.storage.runtimeDirectory
            ?? environment["RUNTIME_DIRECTORY"]?.split(separator: ":").first.map(String.init)
            ?? "\(stateDirectory)/run"

        // Listeners: whatever systemd passed, otherwise the configured addresses.
        let inherited = ListenFDs.take()
        let listeners: [Listener] = inherited.isEmpty
            ? (options.listen.isEmpty ? config.server.listen : options.listen).map(Listener.address)
            : inherited.map(Listener.inherited)
        try prepareUnixSocketDirectories(listeners)

        // Services.
        let store = try SQLiteSessionStore(directory: stateDirectory)
        let metrics = DaemonMetrics()
        let supervisor = RunnerSupervisor(
            settings: .init(
                socketPath: "\(runtimeDirectory)/runners/supervisor.sock",
                maxConcurrent: config.runners.maxConcurrent,
                killGrace: config.runners.killGrace,
                maxFrameBytes: config.runners.maxFrameBytes
            ),
            launcher: LocalRunnerLauncher(executable: config.runners.executable ?? LocalRunnerLauncher.defaultExecutable()),
            logger: logger
        )
        try await supervisor.start()
        let policy = SecretBroker.Policy(allowEnvRefs: config.secrets.allowEnvRefs, allowFileRefs: config.secrets.allowFileRefs, timeout: config.secrets.resolveTimeout)
        let broker = SecretBroker(
            providers: try await SecretProviders.make(config.secrets, daemonOwn: config.daemonSecretVariables, scrubber: scrubber), policy: policy
        )
        let auth = try await AuthService.load(config.auth, scrubber: scrubber, policy: policy)
        var sessionSettings = SessionService.Settings(
            environments: config.environments, approvalTimeout: config.approval.timeout, runnerDeadline: config.runners.deadline
        )
        sessionSettings.heartbeatInterval = options.heartbeatInterval
        sessionSettings.maxOpenSessions = config.server.maxOpenSessions
        sessionSettings.maxOpenSessionsPerIdentity = config.server.maxOpenSessionsPerIdentity
        let playbooks = try loadPlaybooks(config)
        logger.info("\(playbooks.playbooks.count) playbook(s): \(playbooks.playbooks.map(\.name).joined(separator: ", "))")
        let rules = RulePlanner(library: playbooks)
        var planner: any Planner = rules
        var synthesizer: any Synthesizer = RuleSynthesizer()
        if config.llm.provider == .openai, let base = config.llm.baseURL.flatMap(URL.init(string:)), let model = config.llm.model {
            let apiKey = try await config.llm.apiKey.asyncMap {
                try await SecretProviders.readDaemonSecret($0, key: "llm.api_key", timeout: config.secrets.resolveTimeout, scrubber: scrubber)
            }
            let client = ChatCompletionsClient(settings: .init(baseURL: base, model: model, apiKey: apiKey, timeout: config.llm.timeout), scrub: scrubber.scrub)
            planner = LLMPlanner(client: client, fallback: rules)
            synthesizer = LLMSynthesizer(client: client)
            logger.info("LLM planning and synthesis through \(base.absoluteString) (\(model)); the rules are the fallback")
        }
        let sessions = SessionService(
            settings: sessionSettings, store: store, planner: planner, fallbackPlanner: rules, synthesizer: synthesizer,
            supervisor: supervisor, broker: broker, metrics: metrics, secretScrubber: scrubber, logger: logger
        )
        try await sessions.recoverInterrupted()
        let health = HealthService(activeSessions: { await sessions.activeCount })
        let resources = try StaticResources.load()

        // HTTP: every route in one list.
        let endpoints = Self.endpoints(APIServices(
            health: health, sessions: sessions, store: store, supervisor: supervisor, metrics: metrics,
            environments: config.environments, resources: resources,
            diagnoseRatePerMinute: config.server.diagnoseRatePerMinute, heartbeat: options.heartbeatInterval,
            diagnoseRatePerMinuteTotal: config.server.diagnoseRatePerMinuteTotal
        ))
        let router = Router(context: APIRequestContext.self)
        router.add(middleware: MetricsMiddleware(metrics: metrics))
        router.add(middleware: JSONErrorMiddleware(endpoints: endpoints))
        router.add(middleware: BrowserGuardMiddleware(policy: HostPolicy(allowedHosts: config.server.allowedHosts)))
        router.add(middleware: IdentityMiddleware(auth: auth, publicPaths: Set(endpoints.filter(\.isPublic).map(\.path))))
        for endpoint in endpoints {
            router.on(RouterPath(endpoint.path), method: endpoint.method, use: endpoint.handler)
        }
        let childChannel = makeChildChannel(responder: router.buildResponder(), server: config.server, logger: logger)
        let budget = DescriptorBudget.connectionLimit(configured: config.server.maxConnections)
        logger.info("at most \(budget.limit) open connections (file-descriptor limit \(budget.descriptors))")
        let server = HTTPServer(listeners: listeners, childChannel: childChannel, maxConnections: budget.limit, logger: logger) { addresses in
            notifier.ready(status: "serving on \(addresses.joined(separator: ", ")); \(await sessions.activeCount) active sessions")
        }

        var services: [any Service] = [
            RetentionService(store: store, retentionDays: config.storage.retentionDays, logger: logger),
            server,
            StatusReporter(notifier: notifier, sessions: sessions, supervisor: supervisor),
        ]
        if let interval = notifier.watchdogInterval {
            services.append(WatchdogService(notifier: notifier, interval: interval))
        }
        // Last in the group, so it is the first to hear of graceful shutdown: it says STOPPING=1
        // and ends running sessions (runners cancelled, live streams closed) so HTTP can drain.
        services.append(ShutdownCoordinator(notifier: notifier, sessions: sessions, supervisor: supervisor, logger: logger))

        return ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
    }

    /// The built-in playbooks and those of `playbooks.directories`; a broken one is a
    /// configuration error naming its file.
    static func loadPlaybooks(_ config: DaemonConfig) throws -> PlaybookLibrary {
        do {
            return try PlaybookLibrary.load(directories: config.playbooks.directories)
        } catch let error as PlaybookError {
            throw ConfigError(source: error.source, key: "playbooks", reason: error.reason)
        }
    }

    /// For `--check-config`: loads the playbooks, returns how many there are.
    public static func checkPlaybooks(_ config: DaemonConfig) throws -> Int {
        try loadPlaybooks(config).playbooks.count
    }

    /// What the HTTP harnesses call.
    public struct APIServices: Sendable {
        public var health: HealthService
        public var sessions: SessionService
        public var store: any SessionStore
        public var supervisor: RunnerSupervisor
        public var metrics: DaemonMetrics
        public var environments: [String: EnvironmentInventory]
        public var resources: StaticResources
        public var diagnoseRatePerMinute: Int
        public var heartbeat: Duration
        public var diagnoseRatePerMinuteTotal = 120
    }

    /// Every route of the API, in one list (the router, the 405 table and the OpenAPI check
    /// all read it).
    public static func endpoints(_ services: APIServices) -> [APIEndpoint] {
        HealthHarness(service: services.health).endpoints
            + SessionsHarness(
                service: services.sessions, rateLimiter: RateLimiter(perMinute: services.diagnoseRatePerMinute),
                totalRateLimiter: RateLimiter(perMinute: services.diagnoseRatePerMinuteTotal), heartbeat: services.heartbeat
            ).endpoints
            + EnvironmentsHarness(environments: services.environments).endpoints
            + MetricsHarness(metrics: services.metrics, store: services.store, supervisor: services.supervisor).endpoints
            + StaticHarness(resources: services.resources, environments: Array(services.environments.keys)).endpoints
    }

    /// Adapts the router to `HTTP1Channel`: builds each request's context and adds `Date`.
    static func makeChildChannel(responder: some HTTPResponder<APIRequestContext>, server: DaemonConfig.Server, logger: Logger) -> HTTP1Channel {
        let dateHeader = DateHeader()
        let maxBodyBytes = server.maxBodyBytes
        let header = TimeAmount(server.headerTimeout)
        let body = TimeAmount(server.bodyTimeout)
        return HTTP1Channel(
            responder: { request, responseWriter, channel in
                let context = APIRequestContext(source: .init(channel: channel, logger: logger, maxBodyBytes: maxBodyBytes))
                var response: Response
                do {
                    response = try await responder.respond(to: request, context: context)
                } catch {
                    response = Response(status: .internalServerError)
                }
                response.headers[.date] = dateHeader.current
                response.headers[.xContentTypeOptions] = "nosniff"
                try await responseWriter.write(response: response.head, body: response.body)
            },
            configuration: .init(
                additionalChannelHandlers: [RequestDeadlineHandler(header: header, body: body, onExpiry: {
                    logger.debug("closed a connection whose request did not arrive in time (server.header_timeout / server.body_timeout)")
                })],
                idleTimeout: TimeAmount(server.idleTimeout)
            )
        )
    }

    private static func prepareUnixSocketDirectories(_ listeners: [Listener]) throws {
        for case .address(.unix(let path)) in listeners {
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
    }
}

/// On graceful shutdown: `STOPPING=1`, then running sessions end (interrupted) and runners are
/// cancelled, so the HTTP server can drain its connections.
struct ShutdownCoordinator: Service {
    let notifier: SystemdNotifier
    let sessions: SessionService
    let supervisor: RunnerSupervisor
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        logger.notice("shutting down: draining connections", metadata: [LogKey.messageID: "\(MessageID.stopping)"])
        notifier.stopping(status: "shutting down: draining connections")
        await sessions.shutdown()
        await supervisor.stop(reason: "daemon shutting down")
    }
}

/// Keeps `STATUS=` current (what `systemctl status` shows).
struct StatusReporter: Service {
    let notifier: SystemdNotifier
    let sessions: SessionService
    let supervisor: RunnerSupervisor

    func run() async throws {
        guard notifier.isEnabled else {
            // A service that returns early would stop the group; idle until shutdown instead.
            try? await gracefulShutdown()
            return
        }
        var last = ""
        while !Task.isShuttingDownGracefully {
            let active = await sessions.activeCount
            let load = await supervisor.load()
            let status = "\(active) active session(s), \(load.running) runner(s) running, \(load.queued) queued"
            if status != last {
                notifier.status(status)
                last = status
            }
            do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(5)) } } catch { return }
        }
    }
}

/// Deletes finished sessions older than `storage.retention_days`, hourly.
struct RetentionService: Service {
    let store: any SessionStore
    let retentionDays: Int
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully {
            let cutoff = Date().addingTimeInterval(-Double(retentionDays) * 86400)
            do {
                let removed = try await store.prune(updatedBefore: cutoff)
                if removed > 0 { logger.info("retention: deleted \(removed) session(s) finished before \(cutoff)") }
            } catch {
                logger.error("retention prune failed: \(error)")
            }
            do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(3600)) } } catch { return }
        }
    }
}
