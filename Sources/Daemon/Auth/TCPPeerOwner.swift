import CShims
import Glibc
import NIOCore

/// Which local account opened the client end of a loopback TCP connection.
///
/// The kernel knows the owner of every socket; `NETLINK_SOCK_DIAG` answers an exact lookup of
/// the client's 4-tuple with it, as `SO_PEERCRED` does for a Unix socket. That makes a person
/// the same identity whichever transport they use, so "request over TCP, approve over the Unix
/// socket" is still the same uid.
enum TCPPeerOwner {
    /// The uid, or nil when this is not a loopback connection or the kernel did not say.
    static func uid(remote: SocketAddress?, local: SocketAddress?) -> UInt32? {
        guard let remote, let local, let client = Endpoint(remote), let server = Endpoint(local),
              client.family == server.family, client.isLoopback else { return nil }
        var uid: UInt32 = 0
        let result = client.bytes.withUnsafeBufferPointer { clientBytes in
            server.bytes.withUnsafeBufferPointer { serverBytes in
                sre_tcp_socket_uid(client.family, clientBytes.baseAddress, client.port, serverBytes.baseAddress, server.port, &uid)
            }
        }
        return result == 0 ? uid : nil
    }

    /// An address as the kernel's diag request wants it; IPv4-mapped IPv6 becomes IPv4 (the
    /// client's socket is then an AF_INET one).
    struct Endpoint {
        var family: Int32
        var bytes: [UInt8]
        var port: UInt16

        init?(_ address: SocketAddress) {
            guard let port = address.port, let portNumber = UInt16(exactly: port) else { return nil }
            self.port = portNumber
            switch address {
            case .v4(let v4):
                var raw = v4.address.sin_addr
                family = AF_INET
                bytes = withUnsafeBytes(of: &raw) { Array($0) }
            case .v6(let v6):
                var raw = v6.address.sin6_addr
                let all = withUnsafeBytes(of: &raw) { Array($0) }
                if all.prefix(10).allSatisfy({ $0 == 0 }) && all[10] == 0xff && all[11] == 0xff {
                    family = AF_INET
                    bytes = Array(all.suffix(4))
                } else {
                    family = AF_INET6
                    bytes = all
                }
            default:
                return nil
            }
        }

        var isLoopback: Bool {
            family == AF_INET ? bytes.first == 127 : bytes == [UInt8](repeating: 0, count: 15) + [1]
        }
    }
}
