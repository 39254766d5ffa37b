import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOExtras
import NIOPosix
import NIOHTTPTypes
import ServiceLifecycle
import Synchronization
import Systemd

/// One socket the API is served on.
public enum Listener: Sendable, CustomStringConvertible {
    /// Passed by systemd (socket activation); already bound and listening.
    case inherited(InheritedSocket)
    /// Bound by the daemon from the configuration.
    case address(ListenAddress)

    public var description: String {
        switch self {
        case .inherited(let socket): "fd \(socket.fd) (\(socket.name))"
        case .address(let address): address.description
        }
    }
}

/// Serves one HTTP/1.1 responder on many sockets — inherited ones and configured ones alike.
///
/// Hummingbird's `Application` binds a single address itself; socket activation needs NIO's
/// `ServerBootstrap.bind(_ socket:)`, so this service builds the same pipeline (`HTTP1Channel`)
/// on every listener and drains keep-alive connections with `ServerQuiescingHelper` on
/// graceful shutdown.
public actor HTTPServer: Service {
    public typealias ServerChannel = NIOAsyncChannel<HTTP1Channel.Value, Never>

    private let listeners: [Listener]
    private let childChannel: HTTP1Channel
    private let group: any EventLoopGroup
    private let logger: Logger
    private let onReady: @Sendable ([String]) async -> Void
    private let gate: ConnectionGate
    /// One per listener: a helper tracks the connections of a single server channel.
    private var quiescingHelpers: [ServerQuiescingHelper] = []

    /// - Parameter onReady: called with the bound addresses once every listener accepts
    ///   connections (the daemon sends `READY=1` from there).
    public init(
        listeners: [Listener],
        childChannel: HTTP1Channel,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        maxConnections: Int = 4096,
        logger: Logger,
        onReady: @escaping @Sendable ([String]) async -> Void
    ) {
        self.gate = ConnectionGate(limit: maxConnections)
        self.listeners = listeners
        self.childChannel = childChannel
        self.group = group
        self.logger = logger
        self.onReady = onReady
    }

    public func run() async throws {
        var channels: [ServerChannel] = []
        do {
            for listener in listeners {
                let quiescing = ServerQuiescingHelper(group: group)
                quiescingHelpers.append(quiescing)
                channels.append(try await Self.bind(listener, group: group, quiescing: quiescing, childChannel: childChannel, logger: logger))
            }
        } catch {
            for channel in channels { try? await channel.channel.close() }
            throw error
        }
        let addresses = zip(listeners, channels).map { listener, channel in
            Self.describe(listener, channel.channel.localAddress)
        }
        for address in addresses { logger.info("listening on \(address)") }
        await onReady(addresses)

        let childChannel = self.childChannel
        let logger = self.logger
        let gate = self.gate
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { listenersGroup in
                for channel in channels {
                    listenersGroup.addTask {
                        await withDiscardingTaskGroup { connections in
                            do {
                                try await channel.executeThenClose { inbound in
                                    for try await connection in inbound {
                                        guard gate.enter() else {
                                            connections.addTask { await Self.refuse(connection, logger: logger) }
                                            continue
                                        }
                                        connections.addTask {
                                            await childChannel.handle(value: connection, logger: logger)
                                            gate.leave()
                                        }
                                    }
                                }
                            } catch {
                                logger.error("listener stopped: \(error)")
                            }
                        }
                    }
                }
            }
        } onGracefulShutdown: {
            Task { await self.drain() }
        }
    }

    /// Over the connection limit: a clear JSON 503 instead of a hang, then close.
    private static func refuse(_ connection: HTTP1Channel.Value, logger: Logger) async {
        logger.warning("connection refused: too many open connections (server.max_connections)")
        let body = ByteBuffer(string: #"{"error":{"code":"too_many_connections","message":"the daemon has too many open connections; retry shortly"}}"#)
        let head = HTTPResponse(status: .serviceUnavailable, headerFields: [
            .contentType: "application/json", .contentLength: String(body.readableBytes), .connection: "close", .retryAfter: "1",
        ])
        try? await connection.executeThenClose { _, outbound in
            try await outbound.write(.head(head))
            try await outbound.write(.body(body))
            try await outbound.write(.end(nil))
        }
    }

    /// Stops accepting and closes each keep-alive connection after its current request.
    private func drain() async {
        let promises = quiescingHelpers.map { helper in
            let promise = group.next().makePromise(of: Void.self)
            helper.initiateShutdown(promise: promise)
            return promise.futureResult
        }
        for future in promises { try? await future.get() }
    }

    private static func bind(
        _ listener: Listener,
        group: any EventLoopGroup,
        quiescing: ServerQuiescingHelper,
        childChannel: HTTP1Channel,
        logger: Logger
    ) async throws -> ServerChannel {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiescing.makeServerChannelHandler(channel: channel))
                }
            }
        let initializer: @Sendable (any Channel) -> EventLoopFuture<HTTP1Channel.Value> = { channel in
            do {
                try channel.pipeline.syncOperations.addHandler(ParserErrorBodyHandler())
            } catch {
                return channel.eventLoop.makeFailedFuture(error)
            }
            return childChannel.setup(channel: channel, logger: logger)
        }
        switch listener {
        case .inherited(let socket):
            return try await bootstrap.bind(socket.fd, childChannelInitializer: initializer)
        case .address(.tcp(let host, let port)):
            return try await bootstrap.bind(host: host, port: port, childChannelInitializer: initializer)
        case .address(.unix(let path)):
            let channel = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true, childChannelInitializer: initializer)
            // Anyone local may connect (as with the socket unit's SocketMode=0666): what a caller
            // may do is decided per request from its peer uid.
            _ = chmod(path, 0o666)
            return channel
        }
    }

    private static func describe(_ listener: Listener, _ address: SocketAddress?) -> String {
        switch listener {
        case .inherited(let socket):
            if let address, let port = address.port { return "\(address.ipAddress ?? "?"):\(port) (fd \(socket.fd), \(socket.name))" }
            return "\(address?.pathname.map { "unix:\($0)" } ?? "socket") (fd \(socket.fd), \(socket.name))"
        case .address(.unix(let path)):
            return "unix:\(path)"
        case .address(.tcp(let host, _)):
            return "\(host):\(address?.port ?? 0)"
        }
    }
}

import Foundation

/// Counts open connections against a limit kept below the file-descriptor limit, so a flood
/// gets 503s rather than starving the daemon of descriptors (and `/health` of answers).
final class ConnectionGate: Sendable {
    private let open = Mutex(0)
    private let limit: Int

    init(limit: Int) { self.limit = limit }

    func enter() -> Bool {
        open.withLock { count in
            guard count < limit else { return false }
            count += 1
            return true
        }
    }

    func leave() { open.withLock { $0 -= 1 } }

}

/// The connection limit that fits the process's descriptors: the soft `RLIMIT_NOFILE` is raised
/// to the hard one (as systemd expects of services), and `reserve` descriptors are kept for
/// runners, the database and the journal.
enum DescriptorBudget {
    static func connectionLimit(configured: Int, reserve: Int = 128) -> (limit: Int, descriptors: Int) {
        var limits = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limits) == 0 else { return (configured, 0) }
        if limits.rlim_cur < limits.rlim_max {
            var raised = limits
            raised.rlim_cur = limits.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limits = raised }
        }
        let descriptors = limits.rlim_cur == rlim_t.max ? Int.max : Int(clamping: limits.rlim_cur)  // RLIM_INFINITY
        return (max(16, min(configured, descriptors - reserve)), descriptors == Int.max ? 0 : descriptors)
    }
}
