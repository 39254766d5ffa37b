import Foundation

/// Paths and scratch space for tests that run the real executables.
public enum TestEnvironment {
    /// The package root (found from this file's location).
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Directory holding the built executables: `$SRE_TEST_BIN_DIR`, else `.build/debug`.
    public static var binDirectory: URL {
        if let dir = ProcessInfo.processInfo.environment["SRE_TEST_BIN_DIR"], !dir.isEmpty {
            return URL(fileURLWithPath: dir)
        }
        return packageRoot.appendingPathComponent(".build/debug")
    }

    public static func binary(_ name: String) -> String {
        binDirectory.appendingPathComponent(name).path
    }

    /// `executable arguments` run as the developer account (``TestAccount/developerUID``,
    /// `nobody`), for a client that must not be the same person as the test's approver.
    public static func asDeveloper(_ executable: String, _ arguments: [String]) -> (executable: String, arguments: [String]) {
        let uid = TestAccount.developerUID
        return ("/usr/bin/setpriv", ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", "--", executable] + arguments)
    }

    /// A fresh private directory under /tmp with a short path (Unix socket paths must stay
    /// under 108 bytes). Removed by `TemporaryDirectory.remove()`.
    public static func makeTemporaryDirectory(_ prefix: String = "sre") throws -> TemporaryDirectory {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        guard let pointer = mkdtemp(&template) else { throw POSIXError(.EIO) }
        return TemporaryDirectory(path: String(cString: pointer))
    }

    /// A TCP port that was free a moment ago on 127.0.0.1.
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Waits until `condition` holds or `timeout` passes.
    @discardableResult
    public static func waitUntil(timeout: Double = 10, interval: Double = 0.02, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: interval)
        }
        return try condition()
    }

    /// Waits until the async `condition` holds or `timeout` passes.
    @discardableResult
    public static func waitUntilAsync(timeout: Double = 10, interval: Double = 0.02, _ condition: () async -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(Int64(interval * 1000)))
        }
        return await condition()
    }
}

/// A scratch directory that tests remove when done.
public struct TemporaryDirectory: Sendable {
    public let path: String

    public func file(_ name: String) -> String { "\(path)/\(name)" }

    @discardableResult
    public func write(_ name: String, _ text: String, mode: Int = 0o644) throws -> String {
        let target = file(name)
        try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: target, atomically: true, encoding: .utf8)
        _ = chmod(target, mode_t(mode))
        return target
    }

    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

extension TestEnvironment {
    /// `Tests/Fixtures/<name>`.
    public static func fixture(_ name: String) -> String {
        packageRoot.appendingPathComponent("Tests/Fixtures/\(name)").path
    }

    /// A TCP listener on 127.0.0.1 that accepts and closes connections (a healthy port).
    public static func listeningSocket() throws -> (fd: Int32, port: Int) {
        let listener = try boundSocket()
        let fd = listener.fd
        Thread.detachNewThread {
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 {
                    if errno == EINTR { continue }
                    return
                }
                Glibc.close(client)
            }
        }
        return listener
    }

    /// A TCP socket on 127.0.0.1 that listens but never accepts (its backlog fills up).
    public static func boundSocket(backlog: Int32 = 16) throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, backlog) == 0 else { throw POSIXError(.EADDRINUSE) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    /// Whether a process exists (and is not a zombie).
    public static func processAlive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        return !status.contains("State:\tZ")
    }

    /// `/proc/PID/environ` and `/proc/PID/cmdline` as text (NULs become newlines).
    public static func processEnvironmentAndCommandLine(_ pid: Int32) -> String {
        let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ") ?? Data()
        let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") ?? Data()
        return String(decoding: (environ + Data([0]) + cmdline).map { $0 == 0 ? 10 : $0 }, as: UTF8.self)
    }
}

extension TestEnvironment {
    /// environ+cmdline of every direct child of `pid`.
    public static func childProcesses(of pid: Int32) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.compactMap { candidate in
            guard let stat = try? String(contentsOfFile: "/proc/\(candidate)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, Int32(fields[1]) == pid else { return nil }
            return processEnvironmentAndCommandLine(candidate)
        }
    }
}

extension TestEnvironment {
    /// Command lines (NUL → newline) of every process.
    public static func commandLines() -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.compactMap { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), !data.isEmpty else { return nil }
            return String(decoding: data.map { $0 == 0 ? 10 : $0 }, as: UTF8.self)
        }
    }
}
