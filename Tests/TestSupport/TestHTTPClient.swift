import CShims
import Foundation

/// Where a test talks HTTP to: a loopback TCP port or a Unix socket path.
public enum HTTPTarget: Sendable, CustomStringConvertible {
    case tcp(port: Int)
    case unix(path: String)

    public var description: String {
        switch self {
        case .tcp(let port): "http://127.0.0.1:\(port)"
        case .unix(let path): "unix:\(path)"
        }
    }
}

/// A decoded HTTP response.
public struct HTTPResult: Sendable {
    public let status: Int
    /// Header names in lower case.
    public let headers: [String: String]
    public let body: Data

    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The body as a JSON object, or an empty one.
    public var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:]
    }

    /// `error.code` of an API error body.
    public var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String }
}

public enum TestHTTPError: Error, CustomStringConvertible {
    case connect(String), io(String), malformed(String)
    public var description: String {
        switch self {
        case .connect(let text), .io(let text), .malformed(let text): text
        }
    }
}

/// A minimal blocking HTTP/1.1 client over raw sockets (TCP and Unix), so black-box tests do not
/// depend on the daemon's own HTTP stack and can speak to Unix sockets.
public enum TestHTTPClient {
    public static func request(
        _ target: HTTPTarget,
        _ method: String,
        _ path: String,
        headers: [String: String] = [:],
        body: Data? = nil,
        timeout: Double = 20,
        uid: UInt32? = nil,
        source: String? = nil
    ) throws -> HTTPResult {
        let socket = try RawSocket.connect(target, timeout: timeout, uid: uid, source: source)
        defer { socket.close() }
        var head = "\(method) \(path) HTTP/1.1\r\nConnection: close\r\n"
        if !headers.keys.contains(where: { $0.lowercased() == "host" }) { head += "Host: localhost\r\n" }
        var allHeaders = headers
        if let body {
            allHeaders["Content-Length"] = String(body.count)
            if allHeaders.keys.first(where: { $0.lowercased() == "content-type" }) == nil {
                allHeaders["Content-Type"] = "application/json"
            }
        }
        for (name, value) in allHeaders { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        try socket.write(Data(head.utf8) + (body ?? Data()))
        let raw = try socket.readToEnd()
        return try parse(raw)
    }

    /// JSON-encodes `object` (a dictionary) as the body.
    public static func json(
        _ target: HTTPTarget, _ method: String, _ path: String, _ object: Any, headers: [String: String] = [:], uid: UInt32? = nil, source: String? = nil
    ) throws -> HTTPResult {
        let data = try JSONSerialization.data(withJSONObject: object)
        return try request(target, method, path, headers: headers, body: data, uid: uid, source: source)
    }

    static func parse(_ raw: Data) throws -> HTTPResult {
        guard let split = raw.range(of: Data("\r\n\r\n".utf8)) else { throw TestHTTPError.malformed("no header end in \(raw.count) bytes") }
        let headText = String(decoding: raw[..<split.lowerBound], as: UTF8.self)
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw TestHTTPError.malformed("bad status line") }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Data(raw[split.upperBound...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" { body = dechunk(body) }
        return HTTPResult(status: status, headers: headers, body: body)
    }

    static func dechunk(_ data: Data) -> Data {
        var result = Data()
        var index = data.startIndex
        while index < data.endIndex {
            guard let lineEnd = data[index...].range(of: Data("\r\n".utf8)) else { break }
            let sizeText = String(decoding: data[index..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16), size > 0 else { break }
            let start = lineEnd.upperBound
            let end = min(data.endIndex, start + size)
            result.append(data[start..<end])
            index = min(data.endIndex, end + 2)
        }
        return result
    }
}

/// A connected blocking stream socket.
public final class RawSocket: @unchecked Sendable {
    public let fd: Int32

    init(fd: Int32) { self.fd = fd }

    /// - Parameter uid: for TCP, the local account the kernel reports as the socket's owner
    ///   (the daemon's identity of the caller); nil is this process's own.
    /// - Parameter source: for TCP, a loopback address to connect from (127.0.0.2, …).
    public static func connect(_ target: HTTPTarget, timeout: Double = 20, uid: UInt32? = nil, source: String? = nil) throws -> RawSocket {
        let fd: Int32
        switch target {
        case .tcp(let port):
            fd = uid.map { sre_socket_as_uid(AF_INET, Int32(SOCK_STREAM.rawValue), $0) } ?? socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw TestHTTPError.connect("socket: \(String(cString: strerror(errno)))") }
            if let source {
                var local = sockaddr_in()
                local.sin_family = sa_family_t(AF_INET)
                local.sin_addr.s_addr = inet_addr(source)
                let bound = withUnsafePointer(to: &local) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
                guard bound == 0 else {
                    Glibc.close(fd)
                    throw TestHTTPError.connect("bind \(source): \(String(cString: strerror(errno)))")
                }
            }
            // connect(2) honours SO_SNDTIMEO: never block forever on a silent listener.
            var sendTimeout = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1_000_000))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &sendTimeout, socklen_t(MemoryLayout<timeval>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(port).bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if result != 0 {
                let reason = String(cString: strerror(errno))
                Glibc.close(fd)
                throw TestHTTPError.connect("connect 127.0.0.1:\(port): \(reason)")
            }
        case .unix(let path):
            fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { buffer in
                for (index, byte) in path.utf8.prefix(buffer.count - 1).enumerated() { buffer[index] = byte }
            }
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            if result != 0 {
                let reason = String(cString: strerror(errno))
                Glibc.close(fd)
                throw TestHTTPError.connect("connect \(path): \(reason)")
            }
        }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        return RawSocket(fd: fd)
    }

    public func write(_ data: Data) throws {
        try data.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let sent = send(fd, buffer.baseAddress! + offset, buffer.count - offset, Int32(MSG_NOSIGNAL))
                if sent <= 0 { throw TestHTTPError.io("send: \(String(cString: strerror(errno)))") }
                offset += sent
            }
        }
    }

    /// Reads what is available (blocking until something arrives, EOF or the timeout).
    public func readSome(max: Int = 65536) throws -> Data? {
        var buffer = [UInt8](repeating: 0, count: max)
        let count = recv(fd, &buffer, max, 0)
        if count == 0 { return nil }
        if count < 0 {
            if errno == EAGAIN || errno == EWOULDBLOCK { throw TestHTTPError.io("read timed out") }
            throw TestHTTPError.io("recv: \(String(cString: strerror(errno)))")
        }
        return Data(buffer[..<count])
    }

    public func readToEnd() throws -> Data {
        var result = Data()
        while let chunk = try readSome() { result.append(chunk) }
        return result
    }

    public func close() { Glibc.close(fd) }
}
