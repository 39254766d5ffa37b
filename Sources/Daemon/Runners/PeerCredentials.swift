import NIOCore

/// Who is on the other end of a Unix-domain socket (`SO_PEERCRED`).
public struct PeerCredentials: Sendable, Equatable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32
}

/// Layout of `struct ucred` (pid, uid, gid), which Swift's Glibc module does not export.
private struct UCred: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}

extension Channel {
    /// The peer's credentials when this is a Unix-domain socket, else nil.
    func peerCredentials() async -> PeerCredentials? {
        guard let provider = self as? any SocketOptionProvider else { return nil }
        do {
            let credentials: UCred = try await provider.unsafeGetSocketOption(
                level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED)
            ).get()
            return PeerCredentials(pid: credentials.pid, uid: credentials.uid, gid: credentials.gid)
        } catch {
            return nil
        }
    }
}

import Glibc
