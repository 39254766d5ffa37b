import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOExtras
import NIOPosix
import ServiceLifecycle
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
    /// One per listener: a helper tracks the connections of a single server channel.
    private var quiescingHelpers: [ServerQuiescingHelper] = []

    /// - Parameter onReady: called with the bound addresses once every listener accepts
    ///   connections (the daemon sends `READY=1` from there).
    public init(
        listeners: [Listener],
        childChannel: HTTP1Channel,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger,
        onReady: @escaping @Sendable ([String]) async -> Void
    ) {
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
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { listenersGroup in
                for channel in channels {
                    listenersGroup.addTask {
                        await withDiscardingTaskGroup { connections in
                            do {
                                try await channel.executeThenClose { inbound in
                                    for try await connection in inbound {
                                        connections.addTask { await childChannel.handle(value: connection, logger: logger) }
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
            childChannel.setup(channel: channel, logger: logger)
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
