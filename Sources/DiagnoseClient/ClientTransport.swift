import Foundation

/// Where the daemon's API is: `http://host:port` or `unix:/path/to/api.sock`.
public enum DaemonAddress: Sendable, Equatable, CustomStringConvertible {
    case tcp(host: String, port: Int)
    case unix(path: String)

    public static let defaultURL = "http://127.0.0.1:32100"

    /// Parses `SRE_DIAGNOSE_URL` forms: `http://127.0.0.1:32100`, `unix:/run/sre-diagnose/api.sock`.
    public init?(_ text: String) {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5).drop(while: { $0 == "/" && false }))
            guard path.hasPrefix("/") else { return nil }
            self = .unix(path: path)
            return
        }
        guard let url = URL(string: text), url.scheme == "http", let host = url.host else { return nil }
        self = .tcp(host: host, port: url.port ?? 80)
    }

    /// The address to use: an explicit `--url`, else `$SRE_DIAGNOSE_URL`, else the default.
    public static func resolve(_ explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws(ClientError) -> DaemonAddress {
        let text = explicit ?? environment["SRE_DIAGNOSE_URL"] ?? defaultURL
        guard let address = DaemonAddress(text) else { throw .invalidArgument("\(text) is not http://HOST:PORT or unix:/path") }
        return address
    }

    /// Where a person opens a session in the dashboard (served at `/` of the TCP address).
    public func dashboardURL(session id: String) -> String {
        switch self {
        case .tcp(let host, let port): "http://\(host):\(port)/#session=\(id)"
        case .unix(let path): "the sre-diagnose dashboard (API socket \(path)), #session=\(id)"
        }
    }

    /// The `Host` header: the daemon answers only to names it knows (localhost, its
    /// addresses, `server.allowed_hosts`).
    public var hostHeader: String {
        switch self {
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unix: "localhost"
        }
    }

    public var description: String {
        switch self {
        case .tcp(let host, let port): "http://\(host):\(port)"
        case .unix(let path): "unix:\(path)"
        }
    }
}

/// Why talking to the daemon failed.
public enum ClientError: Error, CustomStringConvertible, Sendable {
    /// Nothing listens at the address.
    case daemonDown(DaemonAddress, String)
    case io(String)
    case malformed(String)
    /// The daemon answered with an API error.
    case api(status: Int, code: String, message: String)
    /// The caller passed something unusable (not sent).
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .daemonDown(let address, let reason):
            "cannot reach sre-diagnosed at \(address) (\(reason)). Is sre-diagnose.socket enabled? systemctl status sre-diagnose"
        case .io(let text): "connection to sre-diagnosed failed: \(text)"
        case .malformed(let text): "unexpected answer from sre-diagnosed: \(text)"
        case .api(let status, let code, let message): "\(message) (HTTP \(status), \(code))"
        case .invalidArgument(let text): text
        }
    }
}

/// A blocking stream connection to the daemon (TCP or Unix). The CLI is a short-lived program:
/// plain sockets keep it small and quick to start.
final class Connection: @unchecked Sendable {
    let fd: Int32

    init(to address: DaemonAddress, timeout: Double) throws(ClientError) {
        switch address {
        case .tcp(let host, let port):
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var result: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(host, String(port), &hints, &result) == 0, let first = result else {
                throw .daemonDown(address, "cannot resolve \(host)")
            }
            defer { freeaddrinfo(result) }
            fd = socket(first.pointee.ai_family, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw .io("socket: \(String(cString: strerror(errno)))") }
            if Glibc.connect(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) != 0 {
                let reason = String(cString: strerror(errno))
                Glibc.close(fd)
                throw .daemonDown(address, reason)
            }
        case .unix(let path):
            fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw .io("socket: \(String(cString: strerror(errno)))") }
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { throw .io("socket path too long") }
            withUnsafeMutableBytes(of: &addr.sun_path) { buffer in
                for (index, byte) in bytes.enumerated() { buffer[index] = byte }
            }
            let connected = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            if connected != 0 {
                let reason = String(cString: strerror(errno))
                Glibc.close(fd)
                throw .daemonDown(address, reason)
            }
        }
        if timeout > 0 {
            var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        }
    }

    func write(_ data: Data) throws(ClientError) {
        var offset = 0
        while offset < data.count {
            let sent = data.withUnsafeBytes { buffer in
                send(fd, buffer.baseAddress.map { $0 + offset }, buffer.count - offset, Int32(MSG_NOSIGNAL))
            }
            guard sent > 0 else { throw .io("send: \(String(cString: strerror(errno)))") }
            offset += sent
        }
    }

    /// Next bytes, or nil at end of stream.
    func read() throws(ClientError) -> Data? {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = recv(fd, &buffer, buffer.count, 0)
        if count == 0 { return nil }
        guard count > 0 else {
            if errno == EAGAIN { throw .io("timed out waiting for the daemon") }
            throw .io("recv: \(String(cString: strerror(errno)))")
        }
        return Data(buffer[..<count])
    }

    deinit { Glibc.close(fd) }
}
