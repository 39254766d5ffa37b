import Foundation
import RunnerProtocol
import Synchronization

/// The runner's side of its connection to the daemon: framed writes under a lock, and a reader
/// thread that decodes frames into an async stream. Blocking I/O on purpose: a runner is one
/// short-lived connection and should start fast and stay small.
final class RunnerConnection: Sendable {
    private let link: any RunnerLink
    private let writeLock = Mutex<Void>(())
    let maxFrameBytes: Int

    /// Messages from the daemon; finishes at end of stream, throws on a bad frame.
    let incoming: AsyncThrowingStream<RunnerMessage, any Error>
    private let continuation: AsyncThrowingStream<RunnerMessage, any Error>.Continuation

    /// Connects to `endpoint`: a Unix socket path, or `tls://HOST:PORT` with the daemon's CA
    /// (PEM) to pin.
    init(endpoint: String, caPEM: String?, serverName: String?, maxFrameBytes: Int = defaultMaxFrameBytes) throws {
        self.maxFrameBytes = maxFrameBytes
        switch try RunnerEndpoint(endpoint) {
        case .unix(let path):
            link = try UnixLink(path: path)
        case .tls(let host, let port):
            guard let caPEM, !caPEM.isEmpty else { throw RunnerFailure("a tls:// endpoint needs the daemon's CA (\(RunnerEnvironment.caPEM))") }
            link = try TLSLink(host: host, port: port, caPEM: caPEM, serverName: serverName)
        }
        (incoming, continuation) = AsyncThrowingStream.makeStream()
    }

    /// Starts the reader thread.
    func startReading() {
        let link = self.link
        let continuation = self.continuation
        let max = maxFrameBytes
        Thread.detachNewThread {
            var decoder = FrameDecoder(maxFrameBytes: max)
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = (try? link.receive(into: &buffer)) ?? 0
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

    /// Sends one message.
    func send(_ message: RunnerMessage) throws {
        let frame = try MessageCodec.frame(message, maxFrameBytes: maxFrameBytes)
        try writeLock.withLock { _ in try link.send(frame) }
    }

    func close() { link.close() }
}

struct RunnerFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
