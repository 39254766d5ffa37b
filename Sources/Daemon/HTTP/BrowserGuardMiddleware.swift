import Hummingbird
import NIOCore

/// Keeps web pages from using the browser as a way into the local API.
///
/// - `Host` must be `localhost`, an IP literal, or a name in `server.allowed_hosts`: a page that
///   rebinds its own DNS name to 127.0.0.1 still sends its own name and is refused (421).
/// - A state-changing request that carries `Origin` must come from this same origin (403), so a
///   foreign page can neither start a diagnosis nor approve one.
/// The Unix socket is not reachable from a browser and is not checked.
struct BrowserGuardMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    let policy: HostPolicy

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if context.channel.localAddress?.protocol != .unix {
            if let authority = request.head.authority, !policy.allows(authority: authority) {
                throw APIError(
                    .misdirectedRequest, code: "host_not_allowed",
                    message: "Host \"\(authority.prefix(100))\" is not served here; use localhost or an address of this host, or add the name to server.allowed_hosts"
                )
            }
            if ![.get, .head, .options].contains(request.method), let origin = request.headers[.origin],
               !HostPolicy.sameOrigin(origin, authority: request.head.authority) {
                throw APIError(.forbidden, code: "origin_not_allowed", message: "cross-origin \(request.method) from \(origin.prefix(100)) is refused")
            }
        }
        return try await next(request, context)
    }
}

/// Which `Host` names the API answers to.
public struct HostPolicy: Sendable {
    /// Lower-cased extra names (`server.allowed_hosts`).
    let names: Set<String>

    public init(allowedHosts: [String]) {
        names = Set(allowedHosts.map { $0.lowercased() })
    }

    func allows(authority: String) -> Bool {
        guard let host = Self.host(of: authority) else { return false }
        return host == "localhost" || names.contains(host) || Self.isIPLiteral(host)
    }

    /// The host part of `host[:port]` or `[v6]:port`, lower-cased.
    static func host(of authority: String) -> String? {
        let text = authority.lowercased()
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            return String(text[text.index(after: text.startIndex)..<close])
        }
        return text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init)
    }

    static func isIPLiteral(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    /// `Origin` (`scheme://host[:port]`) names the authority the request was sent to.
    static func sameOrigin(_ origin: String, authority: String?) -> Bool {
        guard let authority, let range = origin.range(of: "://") else { return false }
        let scheme = origin[..<range.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { return false }
        return origin[range.upperBound...].lowercased() == authority.lowercased()
    }
}

import Glibc
