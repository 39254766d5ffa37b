import CSystemd
import Foundation

/// A socket inherited from the service manager through socket activation.
public struct InheritedSocket: Sendable, Equatable {
    /// The file descriptor, starting at `SD_LISTEN_FDS_START` (3).
    public let fd: Int32
    /// `FileDescriptorName=` of the socket unit, or `"unknown"`.
    public let name: String
    /// Whether the socket is a listening Unix-domain stream socket (otherwise TCP or other).
    public let isUnix: Bool

    public init(fd: Int32, name: String, isUnix: Bool) {
        self.fd = fd
        self.name = name
        self.isUnix = isUnix
    }
}

/// Socket activation (`sd_listen_fds_with_names(3)`).
public enum ListenFDs {
    /// Takes the sockets passed by systemd (or `systemd-socket-activate`) and unsets
    /// `LISTEN_FDS`/`LISTEN_PID`/`LISTEN_FDNAMES`, so child processes never believe they were
    /// activated. Sockets are marked close-on-exec. Returns an empty array when not activated.
    public static func take() -> [InheritedSocket] {
        var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        let count = sd_listen_fds_with_names(1, &names)
        guard count > 0 else { return [] }
        defer {
            if let names {
                for index in 0..<Int(count) { free(names[index]) }
                free(names)
            }
        }
        return (0..<count).map { offset in
            let fd = SD_LISTEN_FDS_START + offset
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            let name = names?[Int(offset)].map { String(cString: $0) } ?? "unknown"
            let isUnix = sd_is_socket(fd, AF_UNIX, Int32(SOCK_STREAM.rawValue), 1) > 0
            return InheritedSocket(fd: fd, name: name, isUnix: isUnix)
        }
    }
}
