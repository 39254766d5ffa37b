import Foundation

/// A test-owned `NOTIFY_SOCKET`: a Unix datagram socket that records every sd_notify message.
public final class NotifySocket: @unchecked Sendable {
    public let path: String
    private let fd: Int32
    private let lock = NSLock()
    private var received: [String] = []
    private var thread: Thread?

    public init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in path.utf8.prefix(buffer.count - 1).enumerated() { buffer[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
        var tv = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let thread = Thread { [weak self] in self?.readLoop() }
        self.thread = thread
        thread.start()
    }

    private func readLoop() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !Thread.current.isCancelled {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count > 0 {
                let message = String(decoding: buffer[..<count], as: UTF8.self)
                lock.lock()
                received.append(message)
                lock.unlock()
            }
        }
    }

    /// Every message so far (each may hold several `KEY=VALUE` lines).
    public var messages: [String] {
        lock.lock()
        defer { lock.unlock() }
        return received
    }

    /// Every `KEY=VALUE` line so far, in order.
    public var assignments: [String] { messages.flatMap { $0.split(separator: "\n").map(String.init) } }

    public func close() {
        thread?.cancel()
        Thread.sleep(forTimeInterval: 0.15)
        Glibc.close(fd)
        unlink(path)
    }
}
