import Foundation
@testable import Probes
import Testing

/// A closed local port in the ephemeral range can become a probe socket's own source port; TCP
/// then connects the socket to itself and the port looks open. The probe treats that as refused.
@Suite struct SelfConnectTests {
    /// A socket bound to 127.0.0.1 on a kernel-chosen port, and that address as the probe sees it.
    static func boundSocket() throws -> (fd: Int32, address: Sockets.RawAddress) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sockaddr in
                bind(fd, sockaddr, length) == 0 && getsockname(fd, sockaddr, &length) == 0
            }
        }
        try #require(bound)
        let bytes = withUnsafeBytes(of: &address) { Array($0) }
        return (fd, Sockets.RawAddress(family: AF_INET, bytes: bytes, text: "127.0.0.1:\(UInt16(bigEndian: address.sin_port))"))
    }

    @Test func aSocketConnectedToItselfIsRecognized() throws {
        let (fd, own) = try Self.boundSocket()
        defer { close(fd) }
        // Connecting a socket to its own address succeeds on Linux (simultaneous open).
        let connected = own.bytes.withUnsafeBytes { buffer in
            connect(fd, buffer.baseAddress?.assumingMemoryBound(to: sockaddr.self), socklen_t(buffer.count))
        }
        try #require(connected == 0, "self-connect: \(String(cString: strerror(errno)))")
        #expect(Sockets.isConnectedToItself(fd, own))
    }

    @Test func anOrdinaryConnectionIsNot() async throws {
        let (listener, address) = try Self.boundSocket()
        defer { close(listener) }
        try #require(listen(listener, 4) == 0)
        guard case .success(let connected) = await Sockets.connect(address, timeout: .seconds(2)) else {
            Issue.record("could not connect to a listener")
            return
        }
        defer { close(connected.fd) }
        #expect(!Sockets.isConnectedToItself(connected.fd, address))
    }
}
