import DiagnosisModel
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle
import Systemd

/// Command-line choices that are not part of the configuration file.
public struct DaemonOptions: Sendable {
    /// Listen addresses from `--listen`, replacing `server.listen`.
    public var listen: [ListenAddress] = []

    public init(listen: [ListenAddress] = []) {
        self.listen = listen
    }
}

/// Wires the daemon together, top to bottom: listeners, services, HTTP routes, systemd.
public enum DaemonApplication {
    /// Builds the service group that `main` runs until SIGTERM/SIGINT.
    public static func build(config: DaemonConfig, options: DaemonOptions, logger: Logger) throws -> ServiceGroup {
        let notifier = SystemdNotifier()

        // Listeners: whatever systemd passed, otherwise the configured addresses.
        let inherited = ListenFDs.take()
        let listeners: [Listener] = inherited.isEmpty
            ? (options.listen.isEmpty ? config.server.listen : options.listen).map(Listener.address)
            : inherited.map(Listener.inherited)
        try prepareUnixSocketDirectories(listeners)

        // Services.
        let health = HealthService(activeSessions: { 0 })

        // HTTP.
        let endpoints = HealthHarness(service: health).endpoints
        let router = Router(context: APIRequestContext.self)
        router.add(middleware: JSONErrorMiddleware(endpoints: endpoints))
        for endpoint in endpoints {
            router.on(RouterPath(endpoint.path), method: endpoint.method, use: endpoint.handler)
        }
        let childChannel = makeChildChannel(
            responder: router.buildResponder(),
            maxBodyBytes: config.server.maxBodyBytes,
            idleTimeout: config.server.idleTimeout,
            logger: logger
        )
        let server = HTTPServer(listeners: listeners, childChannel: childChannel, logger: logger) { addresses in
            notifier.ready(status: "serving on \(addresses.joined(separator: ", ")); 0 active sessions")
        }

        var services: [any Service] = [server]
        if let interval = notifier.watchdogInterval {
            services.append(WatchdogService(notifier: notifier, interval: interval))
        }
        // Last in the group, so it is the first to hear of graceful shutdown.
        services.append(ShutdownNotifier(notifier: notifier, logger: logger))

        return ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
    }

    /// Adapts the router to `HTTP1Channel`: builds each request's context and adds `Date`.
    static func makeChildChannel(
        responder: some HTTPResponder<APIRequestContext>,
        maxBodyBytes: Int,
        idleTimeout: Duration,
        logger: Logger
    ) -> HTTP1Channel {
        let dateHeader = DateHeader()
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
                try await responseWriter.write(response: response.head, body: response.body)
            },
            configuration: .init(idleTimeout: .nanoseconds(Int64(idleTimeout.components.seconds) * 1_000_000_000))
        )
    }

    private static func prepareUnixSocketDirectories(_ listeners: [Listener]) throws {
        for case .address(.unix(let path)) in listeners {
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
    }
}

/// Sends `STOPPING=1` as soon as graceful shutdown begins.
struct ShutdownNotifier: Service {
    let notifier: SystemdNotifier
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        logger.notice("shutting down: draining connections", metadata: [LogKey.messageID: "\(MessageID.stopping)"])
        notifier.stopping(status: "shutting down: draining connections")
    }
}
