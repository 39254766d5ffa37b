import Foundation

/// Blocking socket helpers for probes, run off the cooperative pool.
public enum Sockets {
    public enum ConnectFailure: Error, Sendable, Equatable {
        case dns(String)
        case refused
        case timedOut
        case unreachable(String)
    }

    public struct Resolved: Sendable {
        public var addresses: [String]
        public var duration: Duration
        let raw: [RawAddress]
    }

    struct RawAddress: Sendable {
        var family: Int32
        var bytes: [UInt8]
        var text: String
    }

    /// Runs blocking work on its own thread so slow DNS never stalls the concurrency pool.
    public static func offPool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: work()) }
        }
    }

    /// Resolves `host` (getaddrinfo), IPv4 first.
    public static func resolve(_ host: String, port: Int, timeout: Duration) async -> Result<Resolved, ConnectFailure> {
        let started = ContinuousClock.now
        let work: @Sendable () -> Result<[RawAddress], ConnectFailure> = {
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var list: UnsafeMutablePointer<addrinfo>?
            let status = getaddrinfo(host, String(port), &hints, &list)
            guard status == 0 else { return .failure(.dns(String(cString: gai_strerror(status)))) }
            defer { freeaddrinfo(list) }
            var result: [RawAddress] = []
            var cursor = list
            while let entry = cursor {
                let length = Int(entry.pointee.ai_addrlen)
                if let address = entry.pointee.ai_addr {
                    let bytes = Array(UnsafeRawBufferPointer(start: address, count: length))
                    var text = [CChar](repeating: 0, count: Int(NI_MAXHOST))
                    getnameinfo(address, entry.pointee.ai_addrlen, &text, socklen_t(text.count), nil, 0, NI_NUMERICHOST)
                    let item = RawAddress(family: entry.pointee.ai_family, bytes: bytes, text: CText.string(text))
                    if !result.contains(where: { $0.text == item.text }) { result.append(item) }
                }
                cursor = entry.pointee.ai_next
            }
            result.sort { $0.family == AF_INET && $1.family != AF_INET }
            return .success(result)
        }
        let outcome = await withTaskGroup(of: Result<[RawAddress], ConnectFailure>?.self) { group in
            group.addTask { await offPool(work) }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        guard let outcome else { return .failure(.dns("resolution timed out after \(timeout)")) }
        return outcome.map { Resolved(addresses: $0.map(\.text), duration: .now - started, raw: $0) }
    }

    /// Opens a TCP connection to the first resolved address; returns the connected fd and the time
    /// it took. The caller closes the fd.
    static func connect(_ address: RawAddress, timeout: Duration) async -> Result<(fd: Int32, duration: Duration), ConnectFailure> {
        await offPool {
            let started = ContinuousClock.now
            let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            guard fd >= 0 else { return .failure(.unreachable(String(cString: strerror(errno)))) }
            let status = address.bytes.withUnsafeBytes { buffer in
                Glibc.connect(fd, buffer.baseAddress?.assumingMemoryBound(to: sockaddr.self), socklen_t(buffer.count))
            }
            if status != 0 && errno != EINPROGRESS {
                let code = errno
                close(fd)
                return code == ECONNREFUSED ? .failure(.refused) : .failure(.unreachable(String(cString: strerror(code))))
            }
            let ms = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
            var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let ready = poll(&entry, 1, max(ms, 1))
            if ready == 0 {
                close(fd)
                return .failure(.timedOut)
            }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
            if error != 0 {
                close(fd)
                if error == ECONNREFUSED { return .failure(.refused) }
                if error == ETIMEDOUT { return .failure(.timedOut) }
                return .failure(.unreachable(String(cString: strerror(error))))
            }
            // A local port with no listener, in the ephemeral range, can be picked as this
            // socket's own source port: TCP then connects the socket to itself ("simultaneous
            // open") and a closed port looks open. Nothing listens there: refused.
            if isConnectedToItself(fd, address) {
                close(fd)
                return .failure(.refused)
            }
            // Back to blocking for callers that speak a protocol over it.
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
            return .success((fd, .now - started))
        }
    }

    /// Whether the socket's own address is the one it connected to.
    static func isConnectedToItself(_ fd: Int32, _ address: RawAddress) -> Bool {
        var local = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutablePointer(to: &local) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard status == 0, Int(length) == address.bytes.count else { return false }
        return withUnsafeBytes(of: &local) { Array($0.prefix(Int(length))) } == Array(address.bytes)
    }

    /// Resolves and connects; the fd is closed before returning.
    public static func probeTCP(host: String, port: Int, timeout: Duration) async -> (resolved: Resolved?, result: Result<Duration, ConnectFailure>) {
        switch await resolve(host, port: port, timeout: timeout) {
        case .failure(let failure):
            return (nil, .failure(failure))
        case .success(let resolved):
            guard let first = resolved.raw.first else { return (resolved, .failure(.dns("no addresses"))) }
            switch await connect(first, timeout: timeout) {
            case .success(let connected):
                close(connected.fd)
                return (resolved, .success(connected.duration))
            case .failure(let failure):
                return (resolved, .failure(failure))
            }
        }
    }
}

/// NUL-terminated C buffers to Swift strings.
enum CText {
    static func string(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
