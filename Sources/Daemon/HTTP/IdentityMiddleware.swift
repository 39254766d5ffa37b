import Hummingbird
import NIOCore

/// Works out who is calling (bearer token, the local account behind a Unix or loopback TCP
/// connection) before any route runs.
struct IdentityMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    let auth: AuthService
    /// Paths of public endpoints: nobody needs to be identified there.
    let publicPaths: Set<String>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.method == .get, publicPaths.contains(request.uri.path) { return try await next(request, context) }
        var context = context
        let peer: Peer
        if context.channel.remoteAddress?.protocol == .unix || context.channel.localAddress?.protocol == .unix {
            peer = .unix(await context.channel.peerCredentials())
        } else {
            let remote = context.channel.remoteAddress
            peer = .tcp(address: remote?.ipAddress, uid: TCPPeerOwner.uid(remote: remote, local: context.channel.localAddress))
        }
        switch auth.identify(authorization: request.headers[.authorization], peer: peer) {
        case .success(let identity): context.identity = identity
        case .failure(.unauthenticated(let message)), .failure(.forbidden(let message)): context.authFailure = message
        }
        return try await next(request, context)
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
