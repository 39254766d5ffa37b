import Hummingbird
import NIOCore
import Synchronization

/// Works out who is calling (bearer token, the local account behind a Unix or loopback TCP
/// connection) before any route runs.
struct IdentityMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    let auth: AuthService
    /// Paths of public endpoints: nobody needs to be identified there.
    let publicPaths: Set<String>
    /// Who is on the other end of each open connection: asked of the kernel once per
    /// connection, not once per request.
    let peers = PeerCache()

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.method == .get, publicPaths.contains(request.uri.path) { return try await next(request, context) }
        var context = context
        let peer = await peers.peer(of: context.channel)
        switch auth.identify(authorization: request.headers[.authorization], peer: peer) {
        case .success(let identity): context.identity = identity
        case .failure(.unauthenticated(let message)), .failure(.forbidden(let message)): context.authFailure = message
        }
        return try await next(request, context)
    }
}

/// The peer of each open connection, forgotten when the connection closes (so an entry never
/// outlives its channel, and a new channel never sees an old one's peer).
final class PeerCache: Sendable {
    private let entries = Mutex([ObjectIdentifier: Peer]())

    func peer(of channel: any Channel) async -> Peer {
        let key = ObjectIdentifier(channel)
        if let known = entries.withLock({ $0[key] }) { return known }
        let peer = await Self.lookUp(channel)
        entries.withLock { $0[key] = peer }
        channel.closeFuture.whenComplete { [weak self] _ in
            _ = self?.entries.withLock { $0.removeValue(forKey: key) }
        }
        return peer
    }

    var count: Int { entries.withLock { $0.count } }

    /// `SO_PEERCRED` on a Unix socket, the kernel's owner of the client socket on loopback TCP.
    static func lookUp(_ channel: any Channel) async -> Peer {
        if channel.remoteAddress?.protocol == .unix || channel.localAddress?.protocol == .unix {
            return .unix(await channel.peerCredentials())
        }
        let remote = channel.remoteAddress
        return .tcp(address: remote?.ipAddress, uid: TCPPeerOwner.uid(remote: remote, local: channel.localAddress))
    }
}

/// Counts requests by route pattern and status.
struct MetricsMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    let metrics: DaemonMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let response = try await next(request, context)
        metrics.recordRequest(route: context.endpointPath ?? "unmatched", method: request.method.rawValue, status: response.status.code)
        return response
    }
}
