import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// The byte stream between a runner and its daemon: the local Unix socket, or — for a runner
/// started elsewhere (a Kubernetes Job) — TCP with TLS to the daemon's runner endpoint, whose
/// CA the runner pins. Framing and messages are the same over both (``RunnerConnection``).
protocol RunnerLink: Sendable {
    /// Blocks until bytes arrive; 0 at the end of the stream.
    func receive(into buffer: inout [UInt8]) throws -> Int
    func send(_ bytes: [UInt8]) throws
    func close()
}

/// Where the daemon is, from `SRE_RUNNER_SOCKET`: a path, or `tls://HOST:PORT`.
enum RunnerEndpoint: Equatable {
    case unix(String)
    case tls(host: String, port: Int)

    init(_ text: String) throws {
        guard text.hasPrefix("tls://") else {
            self = .unix(text)
            return
        }
        let address = text.dropFirst("tls://".count)
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]), (1...65535).contains(port) else {
            throw RunnerFailure("the daemon's runner endpoint must be tls://HOST:PORT, not \(text)")
        }
        self = .tls(host: String(address[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port: port)
    }
}

/// The local Unix socket (blocking I/O: a runner is one short-lived connection).
final class UnixLink: RunnerLink {
    let fd: Int32

    init(path: String) throws {
        // CLOEXEC: tool subprocesses must never inherit the daemon connection.
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw RunnerFailure("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            Glibc.close(fd)
            throw RunnerFailure("socket path too long")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in bytes.enumerated() { buffer[index] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(fd)
            throw RunnerFailure("connect \(path): \(reason)")
        }
        self.fd = fd
    }

    func receive(into buffer: inout [UInt8]) throws -> Int {
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { throw RunnerFailure("recv: \(String(cString: strerror(errno)))") }
            return count
        }
    }

    /// Never raises SIGPIPE (MSG_NOSIGNAL).
    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { buffer in
                Glibc.send(fd, buffer.baseAddress.map { $0 + offset }, buffer.count - offset, Int32(MSG_NOSIGNAL))
            }
            if sent < 0, errno == EINTR { continue }
            guard sent > 0 else { throw RunnerFailure("send: \(String(cString: strerror(errno)))") }
            offset += sent
        }
    }

    func close() {
        shutdown(fd, Int32(SHUT_RDWR))
        Glibc.close(fd)
    }
}

/// TCP with TLS to the daemon's runner endpoint, verified against the daemon's CA only (and its
/// name, when the endpoint is a name). SwiftNIO on one thread; each send waits until it was
/// written, so nothing is lost when the runner exits after `done`.
final class TLSLink: RunnerLink, @unchecked Sendable {
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    private let inbox: Inbox

    init(host: String, port: Int, caPEM: String, serverName: String?) throws {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(caPEM.utf8)))
        let context = try NIOSSLContext(configuration: configuration)
        // A name is checked against the certificate; an IP address is not a TLS server name, and
        // the pinned CA alone then vouches for the peer.
        let candidate = serverName ?? host
        let name = candidate.contains(":") || candidate.allSatisfy({ $0.isNumber || $0 == "." }) ? nil : candidate
        let inbox = Inbox()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            channel = try ClientBootstrap(group: group)
                .connectTimeout(.seconds(10))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: name))
                        try channel.pipeline.syncOperations.addHandler(InboxHandler(inbox: inbox))
                    }
                }
                .connect(host: host, port: port).wait()
        } catch {
            try? group.syncShutdownGracefully()
            throw RunnerFailure("connect tls://\(host):\(port): \(error)")
        }
        self.group = group
        self.inbox = inbox
    }

    func receive(into buffer: inout [UInt8]) throws -> Int {
        try inbox.take(into: &buffer)
    }

    func send(_ bytes: [UInt8]) throws {
        do {
            try channel.writeAndFlush(ByteBuffer(bytes: bytes)).wait()
        } catch {
            throw RunnerFailure("send: \(error)")
        }
    }

    func close() {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }

    /// Decrypted bytes for the blocking reader; the end of the stream or an error last.
    final class Inbox: @unchecked Sendable {
        private let condition = NSCondition()
        private var chunks: [[UInt8]] = []
        private var ended = false
        private var failure: (any Error)?

        func put(_ bytes: [UInt8]) {
            condition.lock()
            chunks.append(bytes)
            condition.signal()
            condition.unlock()
        }

        func end(_ error: (any Error)?) {
            condition.lock()
            if !ended { failure = error }
            ended = true
            condition.broadcast()
            condition.unlock()
        }

        func take(into buffer: inout [UInt8]) throws -> Int {
            condition.lock()
            defer { condition.unlock() }
            while chunks.isEmpty, !ended { condition.wait() }
            guard !chunks.isEmpty else {
                if let failure { throw RunnerFailure("\(failure)") }
                return 0
            }
            let chunk = chunks[0]
            let count = min(chunk.count, buffer.count)
            buffer.replaceSubrange(0..<count, with: chunk[0..<count])
            if count == chunk.count { chunks.removeFirst() } else { chunks[0] = Array(chunk[count...]) }
            return count
        }
    }

    final class InboxHandler: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let inbox: Inbox

        init(inbox: Inbox) { self.inbox = inbox }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            inbox.put(buffer.readBytes(length: buffer.readableBytes) ?? [])
        }

        func channelInactive(context: ChannelHandlerContext) { inbox.end(nil) }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            inbox.end(error)
            context.close(promise: nil)
        }
    }
}
