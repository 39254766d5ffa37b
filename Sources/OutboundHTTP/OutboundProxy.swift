import Foundation
import NIOCore
import Synchronization

/// The egress proxy, read from the environment as curl (and so the `URLSession` this client
/// replaced) reads it: `https_proxy`/`HTTPS_PROXY` for https, `http_proxy` for http (not
/// `HTTP_PROXY`, which a CGI request can set), `all_proxy`/`ALL_PROXY` for both, and
/// `no_proxy`/`NO_PROXY` for hosts to reach directly. Under systemd: `Environment=` in a drop-in.
public struct OutboundProxy: Sendable, Equatable {
    /// `http://[user:password@]host:port` — a proxy spoken to in plain HTTP (CONNECT for https).
    public struct Endpoint: Sendable, Equatable {
        public var host: String
        public var port: Int
        /// `Basic …` for `Proxy-Authorization`, from the URL's user and password.
        var authorization: String?

        public init?(_ text: String) {
            let withScheme = text.contains("://") ? text : "http://\(text)"
            guard let components = URLComponents(string: withScheme), components.scheme?.lowercased() == "http",
                  let host = components.host, !host.isEmpty else { return nil }
            self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
            self.port = components.port ?? 80
            if let user = components.user {
                let credentials = "\(user.removingPercentEncoding ?? user):\(components.password.map { $0.removingPercentEncoding ?? $0 } ?? "")"
                self.authorization = "Basic \(Data(credentials.utf8).base64EncodedString())"
            }
        }
    }

    public var http: Endpoint?
    public var https: Endpoint?
    /// Host names (and their subdomains) and addresses reached directly; `*` means every host.
    public var noProxy: [String]

    public init(http: Endpoint? = nil, https: Endpoint? = nil, noProxy: [String] = []) {
        self.http = http
        self.https = https
        self.noProxy = noProxy
    }

    public static let none = OutboundProxy()

    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> OutboundProxy {
        func first(_ names: String...) -> Endpoint? {
            for name in names {
                if let value = environment[name], !value.isEmpty { return Endpoint(value) }
            }
            return nil
        }
        let noProxy = (environment["no_proxy"] ?? environment["NO_PROXY"] ?? "")
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }
        return OutboundProxy(
            http: first("http_proxy", "all_proxy", "ALL_PROXY"),
            https: first("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"),
            noProxy: noProxy
        )
    }

    /// The proxy for a request to `host`, or nil to connect directly.
    func endpoint(host: String, tls: Bool) -> Endpoint? {
        guard let proxy = tls ? https : http else { return nil }
        let host = host.lowercased()
        for entry in noProxy {
            if entry == "*" { return nil }
            let name = entry.hasPrefix(".") ? String(entry.dropFirst()) : entry
            if host == name || host.hasSuffix(".\(name)") { return nil }
        }
        return proxy
    }
}

/// Opens a CONNECT tunnel through the proxy before anything above it (TLS) sees the connection:
/// it holds back `channelActive` until the proxy answers 2xx, then leaves the pipeline.
final class ProxyTunnelHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// Why the tunnel failed, for the request to report rather than whatever its own write or read
    /// ran into once the connection was closed.
    final class Outcome: Sendable {
        let failure = Mutex<OutboundHTTPError?>(nil)
    }

    let authority: String
    let authorization: String?
    let outcome: Outcome
    private var answer = ByteBuffer()

    init(host: String, port: Int, authorization: String?, outcome: Outcome) {
        self.authority = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        self.authorization = authorization
        self.outcome = outcome
    }

    func channelActive(context: ChannelHandlerContext) {
        var request = "CONNECT \(authority) HTTP/1.1\r\nHost: \(authority)\r\n"
        if let authorization { request += "Proxy-Authorization: \(authorization)\r\n" }
        request += "\r\n"
        context.writeAndFlush(NIOAny(context.channel.allocator.buffer(string: request)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        answer.writeBuffer(&chunk)
        let bytes = answer.readableBytesView
        guard let end = bytes.firstRange(of: Array("\r\n\r\n".utf8)) else {
            if answer.readableBytes > 16 * 1024 { fail(context, .proxy("the proxy's answer to CONNECT is not HTTP")) }
            return
        }
        let head = String(decoding: bytes[bytes.startIndex..<end.lowerBound], as: UTF8.self)
        let statusLine = head.split(separator: "\r\n", maxSplits: 1).first ?? ""
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            fail(context, .proxy("the proxy's answer to CONNECT is not HTTP"))
            return
        }
        guard (200..<300).contains(status) else {
            fail(context, .proxy("the proxy refused the tunnel (HTTP \(status))"))
            return
        }
        answer.moveReaderIndex(to: answer.readerIndex + (end.upperBound - bytes.startIndex))
        let rest = answer
        context.fireChannelActive()
        if rest.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(rest)) }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        let error = OutboundHTTPError.proxy("the proxy closed the connection before the tunnel was open")
        outcome.failure.withLock { $0 = $0 ?? error }
        context.fireErrorCaught(error)
        context.fireChannelInactive()
    }

    private func fail(_ context: ChannelHandlerContext, _ error: OutboundHTTPError) {
        outcome.failure.withLock { $0 = $0 ?? error }
        context.fireErrorCaught(error)
        context.close(promise: nil)
    }
}
