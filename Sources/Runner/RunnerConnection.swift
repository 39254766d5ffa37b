import Foundation
import RunnerProtocol
import Synchronization

/// The runner's side of the Unix socket to the daemon: framed writes under a lock, and a reader
/// thread that decodes frames into an async stream. Blocking I/O on purpose: a runner is one
/// short-lived connection and should start fast and stay small.
final class RunnerConnection: Sendable {
    let fd: Int32
    private let writeLock = Mutex<Void>(())
    let maxFrameBytes: Int

    /// Messages from the daemon; finishes at end of stream, throws on a bad frame.
    let incoming: AsyncThrowingStream<RunnerMessage, any Error>
    private let continuation: AsyncThrowingStream<RunnerMessage, any Error>.Continuation

    init(path: String, maxFrameBytes: Int = defaultMaxFrameBytes) throws {
        self.maxFrameBytes = maxFrameBytes
        // CLOEXEC: tool subprocesses must never inherit the daemon connection.
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw RunnerFailure("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw RunnerFailure("socket path too long") }
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
        (incoming, continuation) = AsyncThrowingStream.makeStream()
    }

    /// Starts the reader thread.
    func startReading() {
        let fd = self.fd
        let continuation = self.continuation
        let max = maxFrameBytes
        Thread.detachNewThread {
            var decoder = FrameDecoder(maxFrameBytes: max)
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = recv(fd, &buffer, buffer.count, 0)
                if count < 0, errno == EINTR { continue }
                if count <= 0 {
                    do {
                        try decoder.finish()
                        continuation.finish()
                    } catch {
                        continuation.finish(throwing: error)
                    }
                    return
                }
                decoder.append(buffer[..<count])
                do {
                    while let frame = try decoder.nextFrame() {
                        continuation.yield(try MessageCodec.decode(frame))
                    }
                } catch {
                    continuation.finish(throwing: error)
                    return
                }
            }
        }
    }

    /// Sends one message. Never raises SIGPIPE (MSG_NOSIGNAL).
    func send(_ message: RunnerMessage) throws {
        let frame = try MessageCodec.frame(message, maxFrameBytes: maxFrameBytes)
        try writeLock.withLock { _ in
            var offset = 0
            while offset < frame.count {
                let sent = frame.withUnsafeBytes { buffer in
                    Glibc.send(fd, buffer.baseAddress.map { $0 + offset }, buffer.count - offset, Int32(MSG_NOSIGNAL))
                }
                if sent < 0, errno == EINTR { continue }
                guard sent > 0 else { throw RunnerFailure("send: \(String(cString: strerror(errno)))") }
                offset += sent
            }
        }
    }

    func close() {
        shutdown(fd, Int32(SHUT_RDWR))
        Glibc.close(fd)
    }
}

struct RunnerFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
