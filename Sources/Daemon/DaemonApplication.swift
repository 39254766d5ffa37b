import Crypto
import DiagnosisModel
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOSSL
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
        let paths = StatePaths(config.storage, environment: ProcessInfo.processInfo.environment)
        let listeners = try initializeListeners(config, options)
        let (store, cluster) = try await initializeStore(config, paths: paths, scrubber: scrubber, logger: logger)
        let metrics = DaemonMetrics()
        let supervisor = try await initializeSupervisor(config, runtimeDirectory: paths.runtime, scrubber: scrubber, logger: logger)
        let (broker, auth) = try await initializeSecrets(config, scrubber: scrubber)
        let planning = try await initializePlanning(config, scrubber: scrubber, logger: logger)
        let notifications = try await initializeNotifications(config, listeners: listeners, scrubber: scrubber)
        let sessions = SessionService(
            settings: sessionSettings(config, options), store: store, planner: planning.planner, fallbackPlanner: planning.rules,
            synthesizer: planning.synthesizer, supervisor: supervisor, broker: broker, metrics: metrics, secretScrubber: scrubber, logger: logger,
            notifications: notifications.hook, cluster: cluster
        )
        if let cluster {
            // Sessions of a daemon that stopped are taken over (their leases lapse), not ended.
            await cluster.attach(sessions)
        } else {
            try await sessions.recoverInterrupted()
        }
        let intake = try await initializeIntake(config, store: store, sessions: sessions, scrubber: scrubber, logger: logger)
        if let intake, let cluster {
            await intake.setDrainLock(.init(acquire: { await cluster.acquireIntakeDrain() }, release: { await cluster.releaseIntakeDrain() }))
        }
        await intake?.resumePending()
        let router = makeRouter(
            APIServices(
                health: HealthService(activeSessions: { await sessions.activeCount }), sessions: sessions, store: store, supervisor: supervisor,
                metrics: metrics, environments: config.environments, resources: try StaticResources.load(),
                diagnoseRatePerMinute: config.server.diagnoseRatePerMinute, heartbeat: options.heartbeatInterval,
                diagnoseRatePerMinuteTotal: config.server.diagnoseRatePerMinuteTotal, intake: intake,
                standingApprovals: config.approval.standing, intakeRoutes: config.intake.alertmanager?.routes ?? []
            ),
            auth: auth, hostPolicy: HostPolicy(allowedHosts: config.server.allowedHosts)
        )
        let server = initializeServer(config, listeners: listeners, router: router, logger: logger) { addresses in
            notifier.ready(status: "serving on \(addresses.joined(separator: ", ")); \(await sessions.activeCount) active sessions")
        }
        return ServiceGroup(configuration: .init(
            // The cluster service first: it stops last, after the sessions were handed over.
            services: (cluster.map { [$0 as any Service] } ?? []) + [
                RetentionService(store: store, retentionDays: config.storage.retentionDays, logger: logger),
                NotificationDelivery(
                    endpoints: notifications.endpoints, outbox: store, settings: config.notifications, wake: notifications.wake,
                    onGiveUp: { id, message in try? await sessions.appendNotice(id: id, message) }, logger: logger
                ),
                server,
                StatusReporter(notifier: notifier, sessions: sessions, supervisor: supervisor),
            ] + (notifier.watchdogInterval.map { [WatchdogService(notifier: notifier, interval: $0)] } ?? [])
                // Last in the group, so it is the first to hear of graceful shutdown: it says
                // STOPPING=1 and ends running sessions so HTTP can drain.
                + [ShutdownCoordinator(notifier: notifier, sessions: sessions, supervisor: supervisor, logger: logger)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        ))
    }

    /// What the daemon stores in: sessions, the notification outbox, the alert intake.
    typealias Store = SessionStore & NotificationOutbox & AlertIntakeStore

    /// SQLite in the state directory, or the PostgreSQL several daemons share (with this
    /// daemon's part in their cluster); the store's password is read now, once.
    static func initializeStore(_ config: DaemonConfig, paths: StatePaths, scrubber: SecretScrubber, logger: Logger) async throws -> (any Store, ClusterService?) {
        guard config.storage.backend == .postgres, let postgres = config.storage.postgres else {
            return (try SQLiteSessionStore(directory: paths.state), nil)
        }
        let password = try await postgres.credential.asyncMap {
            try await SecretProviders.readDaemonSecret($0, key: "storage.postgres.credential", timeout: config.secrets.resolveTimeout, scrubber: scrubber)
                .trimmingCharacters(in: .newlines)
        }
        var storeLogger = logger
        storeLogger.logLevel = max(logger.logLevel, .warning)
        let store: PostgresSessionStore
        do {
            store = try await PostgresSessionStore(
                settings: .init(host: postgres.host, port: postgres.port, database: postgres.database, user: postgres.user, password: password, tls: postgres.tls, caFile: postgres.caFile),
                logger: storeLogger
            )
        } catch {
            throw ConfigError(source: "storage.postgres", key: "host", reason: "cannot open the PostgreSQL store at \(postgres.host):\(postgres.port)/\(postgres.database) as \(postgres.user): \(String(reflecting: error))")
        }
        return (store, ClusterService(coordination: store, lease: postgres.lease, logger: logger))
    }

    /// Where state and runtime files live: configuration, then systemd's directories, then XDG.
    struct StatePaths {
        let state: String
        let runtime: String

        init(_ storage: DaemonConfig.Storage, environment: [String: String]) {
            state = storage.stateDirectory
                ?? environment["STATE_DIRECTORY"]?.split(separator: ":").first.map(String.init)
                ?? environment["XDG_STATE_HOME"].map { "\($0)/sre-diagnose" }
                ?? "\(environment["HOME"] ?? "/tmp")/.local/state/sre-diagnose"
            runtime = storage.runtimeDirectory
                ?? environment["RUNTIME_DIRECTORY"]?.split(separator: ":").first.map(String.init)
                ?? "\(state)/run"
        }
    }

    /// Whatever systemd passed, otherwise the configured (or `--listen`) addresses.
    static func initializeListeners(_ config: DaemonConfig, _ options: DaemonOptions) throws -> [Listener] {
        let inherited = ListenFDs.take()
        let listeners: [Listener] = inherited.isEmpty
            ? (options.listen.isEmpty ? config.server.listen : options.listen).map(Listener.address)
            : inherited.map(Listener.inherited)
        try prepareUnixSocketDirectories(listeners)
        return listeners
    }

    static func initializeSupervisor(_ config: DaemonConfig, runtimeDirectory: String, scrubber: SecretScrubber, logger: Logger) async throws -> RunnerSupervisor {
        var settings = RunnerSupervisor.Settings(
            socketPath: "\(runtimeDirectory)/runners/supervisor.sock", maxConcurrent: config.runners.maxConcurrent,
            killGrace: config.runners.killGrace, maxFrameBytes: config.runners.maxFrameBytes
        )
        settings.warm = min(config.runners.warm, config.runners.maxConcurrent)
        if let endpoint = config.runners.endpoint {
            settings.remote = .init(host: endpoint.host, port: endpoint.port, tls: try runnerEndpointTLS(endpoint))
        }
        let launcher: any RunnerLauncher
        switch config.runners.launcher {
        case .local:
            launcher = LocalRunnerLauncher(executable: config.runners.executable ?? LocalRunnerLauncher.defaultExecutable())
        case .kubernetes:
            launcher = try kubernetesLauncher(config, scrubber: scrubber, logger: logger)
            // A warm runner would be a Job waiting for work: none.
            settings.warm = 0
        }
        let supervisor = RunnerSupervisor(settings: settings, launcher: launcher, logger: logger)
        try await supervisor.start()
        return supervisor
    }

    static func runnerEndpointTLS(_ endpoint: DaemonConfig.Runners.Endpoint) throws -> NIOSSLContext {
        do {
            var tls = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(endpoint.certificate).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: endpoint.key, format: .pem))
            )
            tls.minimumTLSVersion = .tlsv12
            return try NIOSSLContext(configuration: tls)
        } catch {
            throw ConfigError(source: "config", key: "runners.endpoint.certificate", reason: "cannot load the runner endpoint's certificate and key: \(error)")
        }
    }

    /// The Job launcher: the API from the configuration, else the pod's own service account.
    static func kubernetesLauncher(_ config: DaemonConfig, scrubber: SecretScrubber, logger: Logger) throws -> KubernetesRunnerLauncher {
        guard var settings = config.runners.kubernetes, let endpoint = config.runners.endpoint else {
            throw ConfigError(source: "config", key: "runners.kubernetes", reason: "launcher kubernetes needs runners.kubernetes and runners.endpoint")
        }
        let environment = ProcessInfo.processInfo.environment
        let directory = KubernetesAPI.serviceAccountDirectory
        let advertisedHost = endpoint.advertise.dropFirst("tls://".count).split(separator: ":").first.map(String.init)
        func read(_ path: String, _ key: String) throws -> String {
            do {
                return try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            } catch {
                throw ConfigError(source: "config", key: key, reason: "cannot read \(path)")
            }
        }
        func api(_ server: String, _ token: String, _ caPEM: String?, _ key: String) throws -> KubernetesAPI {
            do {
                return try KubernetesAPI(server: server, token: token, caPEM: caPEM)
            } catch {
                throw ConfigError(source: "config", key: key, reason: "the cluster CA is not usable: \(error)")
            }
        }
        func launcher(_ api: KubernetesAPI) throws -> KubernetesRunnerLauncher {
            // Never in a log line, should an error ever quote it.
            scrubber.addPermanent([api.token], reference: "runners.kubernetes")
            return KubernetesRunnerLauncher(
                api: api, settings: settings, endpoint: endpoint.advertise,
                caPEM: try read(endpoint.caFile, "runners.endpoint.ca_file"), serverName: endpoint.serverName ?? advertisedHost,
                deadline: config.runners.deadline, logger: logger
            )
        }
        if let path = settings.kubeconfig {
            let kubeconfig: Kubeconfig
            do {
                kubeconfig = try Kubeconfig.load(path: path)
            } catch {
                throw ConfigError(source: "config", key: "runners.kubernetes.kubeconfig", reason: "\(error)")
            }
            if settings.namespace.isEmpty { settings.namespace = kubeconfig.namespace ?? "default" }
            let caPEM = try settings.caFile.map { try read($0, "runners.kubernetes.ca_file") } ?? kubeconfig.caFile.map { try read($0, "runners.kubernetes.kubeconfig") } ?? kubeconfig.caPEM
            return try launcher(api(kubeconfig.server, kubeconfig.token, caPEM, "runners.kubernetes.kubeconfig"))
        }
        guard let server = settings.apiURL ?? environment["KUBERNETES_SERVICE_HOST"].map({ "https://\($0):\(environment["KUBERNETES_SERVICE_PORT"] ?? "443")" }) else {
            throw ConfigError(source: "config", key: "runners.kubernetes.api_url", reason: "not running in a cluster (no KUBERNETES_SERVICE_HOST): set api_url, token_file and ca_file")
        }
        let token = try read(settings.tokenFile, "runners.kubernetes.token_file")
        if settings.namespace.isEmpty { settings.namespace = try read("\(directory)/namespace", "runners.kubernetes.namespace") }
        let caFile = settings.caFile ?? (FileManager.default.fileExists(atPath: "\(directory)/ca.crt") ? "\(directory)/ca.crt" : nil)
        return try launcher(api(server, token, try caFile.map { try read($0, "runners.kubernetes.ca_file") }, "runners.kubernetes.ca_file"))
    }

    /// The secret broker and the API's identities; tokens are read now, once.
    static func initializeSecrets(_ config: DaemonConfig, scrubber: SecretScrubber) async throws -> (SecretBroker, AuthService) {
        let policy = SecretBroker.Policy(allowEnvRefs: config.secrets.allowEnvRefs, allowFileRefs: config.secrets.allowFileRefs, timeout: config.secrets.resolveTimeout)
        let providers = try await SecretProviders.make(config.secrets, daemonOwn: config.daemonSecretVariables, scrubber: scrubber)
        return (SecretBroker(providers: providers, policy: policy), try await AuthService.load(config.auth, scrubber: scrubber, policy: policy))
    }

    struct Notifications {
        let endpoints: [NotificationDelivery.Endpoint]
        let wake: WakeSignal
        let hook: NotificationHook?
    }

    /// The notification sinks with their secrets read now (a Slack URL, a signing key), and the
    /// composer every session log uses to queue what it announces.
    static func initializeNotifications(_ config: DaemonConfig, listeners: [Listener], scrubber: SecretScrubber) async throws -> Notifications {
        let wake = WakeSignal()
        var endpoints: [NotificationDelivery.Endpoint] = []
        let timeout = config.secrets.resolveTimeout
        for sink in config.notifications.sinks {
            let key = "notifications.sinks.\(sink.name)"
            let text = try await sink.urlCredential.asyncMap { try await SecretProviders.readDaemonSecret($0, key: "\(key).url_credential", timeout: timeout, scrubber: scrubber) } ?? sink.url ?? ""
            guard let url = URL(string: text.trimmingCharacters(in: .whitespacesAndNewlines)), ["http", "https"].contains(url.scheme ?? "") else {
                throw ConfigError(source: "config", key: key, reason: "the sink's URL is not an http(s) URL")
            }
            let secret = try await sink.secret.asyncMap { try await SecretProviders.readDaemonSecret($0, key: "\(key).secret", timeout: timeout, scrubber: scrubber) }
            endpoints.append(.init(name: sink.name, kind: sink.kind, url: url, signingKey: secret.map { SymmetricKey(data: Data($0.utf8)) }, giveUpAfter: sink.giveUpAfter))
        }
        let defaultURL = listeners.lazy.compactMap { listener -> String? in
            guard case .address(.tcp(let host, let port)) = listener else { return nil }
            return "http://\(host.contains(":") ? "[\(host)]" : host):\(port)"
        }.first ?? "http://127.0.0.1:32100"
        let composer = NotificationComposer(config.notifications, defaultURL: defaultURL)
        return Notifications(endpoints: endpoints, wake: wake, hook: composer.isEmpty ? nil : NotificationHook(composer: composer, wake: { wake.signal() }))
    }

    /// The Alertmanager webhook, when configured, with its tokens read now.
    static func initializeIntake(_ config: DaemonConfig, store: any Store, sessions: SessionService, scrubber: SecretScrubber, logger: Logger) async throws -> AlertIntakeService? {
        guard let intake = config.intake.alertmanager else { return nil }
        let timeout = config.secrets.resolveTimeout
        var tokens: [String] = []
        for (index, reference) in intake.tokens.enumerated() {
            tokens.append(try await SecretProviders.readDaemonSecret(reference, key: "intake.alertmanager.tokens[\(index)]", timeout: timeout, scrubber: scrubber))
        }
        let password = try await intake.basicAuth.asyncMap {
            try await SecretProviders.readDaemonSecret($0.password, key: "intake.alertmanager.basic_auth.password", timeout: timeout, scrubber: scrubber)
        }
        let credentials = AlertIntakeService.Credentials(tokens: tokens.filter { !$0.isEmpty }, basic: intake.basicAuth.flatMap { basic in password.map { (basic.username, $0) } })
        logger.info("Alertmanager intake on /webhooks/alertmanager: \(intake.routes.count) route(s)")
        return AlertIntakeService(config: intake, credentials: credentials, store: store, sessions: sessions, standing: config.approval.standing, logger: logger)
    }

    struct Planning {
        let rules: RulePlanner
        let planner: any Planner
        let synthesizer: any Synthesizer
    }

    /// The rules, and an LLM in front of them when one is configured.
    static func initializePlanning(_ config: DaemonConfig, scrubber: SecretScrubber, logger: Logger) async throws -> Planning {
        let playbooks = try loadPlaybooks(config)
        logger.info("\(playbooks.playbooks.count) playbook(s): \(playbooks.playbooks.map(\.name).joined(separator: ", "))")
        for (source, name) in playbooks.overrides {
            logger.notice("playbook \(name) from \(source) overrides the built-in playbook of that name")
        }
        let rules = RulePlanner(library: playbooks)
        guard config.llm.provider == .openai, let base = config.llm.baseURL.flatMap(URL.init(string:)), let model = config.llm.model else {
            return Planning(rules: rules, planner: rules, synthesizer: RuleSynthesizer())
        }
        let apiKey = try await config.llm.apiKey.asyncMap {
            try await SecretProviders.readDaemonSecret($0, key: "llm.api_key", timeout: config.secrets.resolveTimeout, scrubber: scrubber)
        }
        let client = ChatCompletionsClient(settings: .init(baseURL: base, model: model, apiKey: apiKey, timeout: config.llm.timeout), scrub: scrubber.scrub)
        logger.info("LLM planning and synthesis through \(base.absoluteString) (\(model)); the rules are the fallback")
        return Planning(rules: rules, planner: LLMPlanner(client: client, fallback: rules), synthesizer: LLMSynthesizer(client: client))
    }

    static func sessionSettings(_ config: DaemonConfig, _ options: DaemonOptions) -> SessionService.Settings {
        var settings = SessionService.Settings(environments: config.environments, approvalTimeout: config.approval.timeout, runnerDeadline: config.runners.deadline)
        settings.heartbeatInterval = options.heartbeatInterval
        settings.maxOpenSessions = config.server.maxOpenSessions
        settings.maxOpenSessionsPerIdentity = config.server.maxOpenSessionsPerIdentity
        settings.startsPerMinute = config.server.diagnoseRatePerMinute
        settings.startsPerMinuteTotal = config.server.diagnoseRatePerMinuteTotal
        settings.standingApprovals = config.approval.standing
        return settings
    }

    /// Every route and middleware of the API (also what the in-process tests drive).
    public static func makeRouter(_ services: APIServices, auth: AuthService, hostPolicy: HostPolicy) -> Router<APIRequestContext> {
        let endpoints = Self.endpoints(services)
        let router = Router(context: APIRequestContext.self)
        router.add(middleware: MetricsMiddleware(metrics: services.metrics))
        router.add(middleware: JSONErrorMiddleware(endpoints: endpoints))
        router.add(middleware: BrowserGuardMiddleware(policy: hostPolicy))
        router.add(middleware: IdentityMiddleware(auth: auth, publicPaths: Set(endpoints.filter(\.isPublic).map(\.path))))
        for endpoint in endpoints {
            router.on(RouterPath(endpoint.path), method: endpoint.method, use: endpoint.handler)
        }
        return router
    }

    /// The HTTP server on every listener, its connections capped below the descriptor limit.
    static func initializeServer(
        _ config: DaemonConfig, listeners: [Listener], router: Router<APIRequestContext>, logger: Logger, onReady: @escaping @Sendable ([String]) async -> Void
    ) -> HTTPServer {
        let childChannel = makeChildChannel(responder: router.buildResponder(), server: config.server, logger: logger)
        let budget = DescriptorBudget.connectionLimit(configured: config.server.maxConnections)
        logger.info("at most \(budget.limit) open connections (file-descriptor limit \(budget.descriptors))")
        return HTTPServer(listeners: listeners, childChannel: childChannel, maxConnections: budget.limit, logger: logger, onReady: onReady)
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
        public var intake: AlertIntakeService?
        /// The largest alert notification accepted (Alertmanager groups can be big).
        public var intakeMaxBodyBytes = 4 << 20
        public var standingApprovals: [StandingApproval] = []
        public var intakeRoutes: [DaemonConfig.Intake.Route] = []
    }

    /// Every route of the API, in one list (the router, the 405 table and the OpenAPI check
    /// all read it).
    public static func endpoints(_ services: APIServices) -> [APIEndpoint] {
        let answers = ResponseCache()
        return HealthHarness(service: services.health).endpoints
            + SessionsHarness(
                service: services.sessions, rateLimiter: RateLimiter(perMinute: services.diagnoseRatePerMinute),
                totalRateLimiter: RateLimiter(perMinute: services.diagnoseRatePerMinuteTotal), heartbeat: services.heartbeat,
                finished: answers
            ).endpoints
            + EnvironmentsHarness(environments: services.environments).endpoints
            + AlertIntakeHarness(service: services.intake, maxBodyBytes: services.intakeMaxBodyBytes).endpoints
            + StandingApprovalsHarness(standing: services.standingApprovals, routes: services.intakeRoutes).endpoints
            + MetricsHarness(metrics: services.metrics, store: services.store, supervisor: services.supervisor, answers: answers).endpoints
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
                var context = APIRequestContext(source: .init(channel: channel, logger: logger))
                context.maxUploadSize = maxBodyBytes
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
        await supervisor.prepareToStop()
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
