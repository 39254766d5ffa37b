import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// One HTTP/1.1 request the daemon sends out: a webhook or Slack notification, a 1Password
/// Connect call, an LLM completion, a Kubernetes API call for a runner Job.
public struct OutboundRequest: Sendable {
    public enum Method: String, Sendable { case get = "GET", post = "POST", patch = "PATCH", delete = "DELETE" }

    public var method: Method
    public var url: URL
    /// Sent as given; `Host`, `Content-Length`, `Connection` and a `User-Agent` are added.
    public var headers: [(name: String, value: String)]
    public var body: Data?
    /// For the whole exchange: connect, TLS, request and the complete answer.
    public var timeout: Duration

    public init(_ method: Method, _ url: URL, headers: [(name: String, value: String)] = [], body: Data? = nil, timeout: Duration) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}

public struct OutboundResponse: Sendable {
    public var status: Int
    public var body: Data
}

/// Why a request got no answer, in words that never contain the URL (a Slack webhook URL or a
/// query string can be a secret).
public enum OutboundHTTPError: Error, Equatable, CustomStringConvertible {
    case unsupportedURL
    case hostNotFound
    case cannotConnect
    case timedOut(Duration)
    case tls(String)
    case closedBeforeAnswer
    case answerTooLarge(limit: Int)
    case proxy(String)

    public var description: String {
        switch self {
        case .unsupportedURL: "not an http:// or https:// URL with a host"
        case .hostNotFound: "host not found"
        case .cannotConnect: "cannot connect"
        case .timedOut(let limit): "no answer within \(limit.components.seconds) s"
        case .tls(let reason): "TLS failed (\(reason))"
        case .closedBeforeAnswer: "the connection closed before a complete answer"
        case .answerTooLarge(let limit): "the answer is larger than \(limit / 1024) KiB"
        case .proxy(let reason): reason
        }
    }
}

/// HTTP/1.1 over SwiftNIO (and NIOSSL for https), one connection per request.
///
/// Why not URLSession: on Linux it is libcurl, whose TLS, Kerberos, LDAP and SSH libraries
/// (≈ 30 shared objects, ≈ 5 MB resident) the daemon loaded at start for three rare requests.
/// NIO and BoringSSL are linked in already (the HTTP server, the PostgreSQL store).
/// Requests are few (a notification, a secret resolved at approval, an LLM call, a handful of
/// Kubernetes API calls per runner Job), so no pool: each one connects, sends
/// `Connection: close` and reads to the end. No redirects (a 3xx is an
/// answer like any other: a credential must not follow one to another host). An egress proxy from
/// the environment as curl reads it (``OutboundProxy``): CONNECT for https, absolute URIs for http.
public struct OutboundHTTPClient: Sendable {
    /// The system's trust roots; the TLS context is built at the first https request, not at start.
    public static let shared = OutboundHTTPClient()

    let tlsContext: LazyTLSContext
    let maxAnswerBytes: Int
    let proxy: OutboundProxy
    let group: any EventLoopGroup

    /// - Parameters:
    ///   - tls: verification settings for https (default: full verification, system roots).
    ///   - maxAnswerBytes: a larger answer is an error, not a growing buffer.
    ///   - proxy: default: from the environment (`https_proxy`, `http_proxy`, `no_proxy`).
    public init(tls: TLSConfiguration = .makeClientConfiguration(), maxAnswerBytes: Int = 8 << 20, proxy: OutboundProxy = .fromEnvironment(), group: any EventLoopGroup = NIOSingletons.posixEventLoopGroup) {
        self.tlsContext = LazyTLSContext(configuration: tls)
        self.maxAnswerBytes = maxAnswerBytes
        self.proxy = proxy
        self.group = group
    }

    public func send(_ request: OutboundRequest) async throws(OutboundHTTPError) -> OutboundResponse {
        let target = try Target(request.url)
        let timeout = request.timeout
        do {
            return try await withThrowingTaskGroup(of: OutboundResponse?.self) { group in
                group.addTask { try await self.exchange(request, target) }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return nil
                }
                defer { group.cancelAll() }
                guard let answer = try await group.next() ?? nil else { throw OutboundHTTPError.timedOut(timeout) }
                return answer
            }
        } catch let error as OutboundHTTPError {
            throw error
        } catch {
            throw Self.classify(error, proxied: proxy.endpoint(host: target.host, tls: target.tls) != nil)
        }
    }

    func exchange(_ request: OutboundRequest, _ target: Target) async throws -> OutboundResponse {
        let ssl = target.tls ? try tlsContext.get() : nil
        let connectTimeout = min(request.timeout, .seconds(10))
        let via = proxy.endpoint(host: target.host, tls: target.tls)
        let tunnel = ProxyTunnelHandler.Outcome()
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(.milliseconds(Int64(connectTimeout / .milliseconds(1))))
            .connect(host: via?.host ?? target.host, port: via?.port ?? target.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let via, ssl != nil {
                        try channel.pipeline.syncOperations.addHandler(ProxyTunnelHandler(host: target.host, port: target.port, authorization: via.authorization, outcome: tunnel))
                    }
                    if let ssl {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: ssl, serverHostname: target.sniHostname))
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                }
            }
        let limit = maxAnswerBytes
        do {
            return try await converse(request, target, via: via, limit: limit, on: channel)
        } catch {
            throw tunnel.failure.withLock { $0 } ?? error
        }
    }

    /// One request and its answer on a connected channel, which it closes.
    func converse(_ request: OutboundRequest, _ target: Target, via: OutboundProxy.Endpoint?, limit: Int, on channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>) async throws -> OutboundResponse {
        try await channel.executeThenClose { inbound, outbound in
            var headers = HTTPHeaders()
            headers.add(name: "Host", value: target.hostHeader)
            for header in request.headers { headers.add(name: header.name, value: header.value) }
            if !headers.contains(name: "User-Agent") { headers.add(name: "User-Agent", value: "sre-diagnose") }
            headers.add(name: "Content-Length", value: String(request.body?.count ?? 0))
            headers.add(name: "Connection", value: "close")
            // Plain http through a proxy: the absolute URI, and the proxy's credentials in the clear
            // as with curl (https goes through the CONNECT tunnel instead).
            var uri = target.requestURI
            if let via, !target.tls {
                uri = "http://\(target.hostHeader)\(target.requestURI)"
                if let authorization = via.authorization { headers.add(name: "Proxy-Authorization", value: authorization) }
            }
            // A write that fails does not end the exchange: a server may answer and close before the
            // last bytes are written, and a refused TLS handshake closes the connection with its
            // reason on the inbound side. Either way the answer, or the reason, is read below.
            var writeError: (any Error)?
            do {
                try await outbound.write(.head(HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: request.method.rawValue), uri: uri, headers: headers)))
                if let body = request.body, !body.isEmpty {
                    try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body))))
                }
                try await outbound.write(.end(nil))
            } catch {
                writeError = error
            }

            var status: Int?
            var body = ByteBuffer()
            for try await part in inbound {
                switch part {
                case .head(let head):
                    // 1xx answers (100 Continue) precede the real one.
                    if head.status.code >= 200 { status = Int(head.status.code) }
                case .body(var chunk):
                    guard body.readableBytes + chunk.readableBytes <= limit else { throw OutboundHTTPError.answerTooLarge(limit: limit) }
                    body.writeBuffer(&chunk)
                case .end:
                    if let status { return OutboundResponse(status: status, body: Data(body.readableBytesView)) }
                }
            }
            throw writeError ?? OutboundHTTPError.closedBeforeAnswer
        }
    }

    /// NIO's and BoringSSL's errors in the words above (never their text with addresses in it).
    static func classify(_ error: any Error, proxied: Bool) -> OutboundHTTPError {
        switch error {
        case let error as NIOConnectionError:
            if proxied { return .proxy("cannot connect to the proxy") }
            return error.connectionErrors.isEmpty && (error.dnsAError != nil || error.dnsAAAAError != nil) ? .hostNotFound : .cannotConnect
        case ChannelError.connectTimeout:
            return proxied ? .proxy("cannot connect to the proxy") : .cannotConnect
        case let error as NIOSSLError:
            return .tls(Self.tlsReason(String(describing: error)))
        case let error as BoringSSLError:
            return .tls(Self.tlsReason(String(describing: error)))
        case let error as NIOSSLExtraError:
            return .tls(Self.tlsReason(String(describing: error)))
        default:
            return .closedBeforeAnswer
        }
    }

    /// The verification failure's kind, from BoringSSL's text (names no host or URL).
    static func tlsReason(_ text: String) -> String {
        let lowered = text.lowercased()
        if lowered.contains("certificate verify failed") || lowered.contains("certificate_verify_failed") { return "certificate not trusted" }
        if lowered.contains("hostname") || lowered.contains("invalidhostname") { return "certificate is for another name" }
        if lowered.contains("expired") { return "certificate expired" }
        return "handshake failed"
    }
}

/// Where a URL goes: host, port, whether TLS, and the request line's target.
struct Target: Sendable {
    var host: String
    var port: Int
    var tls: Bool
    var requestURI: String

    init(_ url: URL) throws(OutboundHTTPError) {
        guard let components = URLComponents(url: url, resolvingAgainstBaseURL: false),
              let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = components.host, !host.isEmpty else { throw .unsupportedURL }
        self.tls = scheme == "https"
        // URLComponents keeps an IPv6 literal's brackets out of `host` on Linux but not everywhere.
        self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        self.port = components.port ?? (tls ? 443 : 80)
        let path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        self.requestURI = components.percentEncodedQuery.map { "\(path)?\($0)" } ?? path
    }

    var isIPLiteral: Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    /// SNI carries names only; for an address NIOSSL checks the certificate against the peer's IP.
    var sniHostname: String? { isIPLiteral ? nil : host }

    var hostHeader: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return port == (tls ? 443 : 80) ? name : "\(name):\(port)"
    }
}

/// Loading the trust store costs time and memory; only a daemon that sends https pays it, once.
final class LazyTLSContext: Sendable {
    let configuration: TLSConfiguration
    let context = Mutex<NIOSSLContext?>(nil)

    init(configuration: TLSConfiguration) { self.configuration = configuration }

    func get() throws -> NIOSSLContext {
        try context.withLock { context in
            if let context { return context }
            let made = try NIOSSLContext(configuration: configuration)
            context = made
            return made
        }
    }
}
