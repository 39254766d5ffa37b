import CShims
import Foundation
import Synchronization

/// Result of one tool run.
public struct ToolResult: Sendable {
    public var exitCode: Int32?
    public var signal: Int32?
    public var stdout: Data
    public var stderr: Data
    public var timedOut: Bool
    public var truncated: Bool
    public var duration: Duration

    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
    public var succeeded: Bool { exitCode == 0 && !timedOut }
}

/// Runs diagnostic tools (psql, aws, kubectl, journalctl, …) as child processes.
///
/// Each child gets exactly the environment given here — the runner's own environment is not
/// inherited apart from `PATH`, `LANG` and `HOME` — so a credential placed in `environment`
/// reaches only that tool — and no descriptor beyond stdin/stdout/stderr. Children are killed on
/// timeout, on cancellation and when the runner exits.
public struct ToolRunner: Sendable {
    /// Live children, killed by ``killAll()``.
    static let live = Mutex<Set<pid_t>>([])

    let baseEnvironment: [String: String]
    public var maxOutputBytes: Int

    public init(baseEnvironment: [String: String] = ToolRunner.defaultBaseEnvironment(), maxOutputBytes: Int = 64 << 20) {
        self.baseEnvironment = baseEnvironment
        self.maxOutputBytes = maxOutputBytes
    }

    public static func defaultBaseEnvironment() -> [String: String] {
        let env = ProcessInfo.processInfo.environment
        var base = ["PATH": env["PATH"] ?? "/usr/local/bin:/usr/bin:/bin", "LANG": env["LANG"] ?? "C.UTF-8"]
        if let home = env["HOME"] { base["HOME"] = home }
        return base
    }

    /// Kills every live child (runner shutdown).
    public static func killAll() {
        let children = live.withLock { $0 }
        for child in children { kill(child, SIGKILL) }
    }

    /// Finds `name` on the tool PATH.
    public func locate(_ name: String) -> String? {
        if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
        for directory in (baseEnvironment["PATH"] ?? "").split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// Runs `executable` with `arguments` and `environment` (added to the base), waiting at most
    /// `timeout`. Throws only when the tool cannot be started.
    public func run(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String] = [:],
        timeout: Duration,
        stdin: Data? = nil
    ) async throws -> ToolResult {
        guard let path = locate(executable) else {
            throw ProbeError("\(executable) is not installed (not found on PATH \(baseEnvironment["PATH"] ?? ""))")
        }
        let env = baseEnvironment.merging(environment) { _, new in new }
        let spawned = try Spawned.start(path: path, arguments: arguments, environment: env, stdin: stdin)
        Self.live.withLock { _ = $0.insert(spawned.pid) }
        defer { Self.live.withLock { _ = $0.remove(spawned.pid) } }
        let limit = maxOutputBytes
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                Thread.detachNewThread {
                    continuation.resume(returning: spawned.collect(timeout: timeout, maxOutputBytes: limit))
                }
            }
        } onCancel: {
            spawned.terminate()
        }
    }
}

/// A spawned child with pipes for stdout and stderr.
final class Spawned: Sendable {
    let pid: pid_t
    let stdoutFD: Int32
    let stderrFD: Int32
    private let cancelled = Atomic<Bool>(false)
    let started = ContinuousClock.now

    private init(pid: pid_t, stdoutFD: Int32, stderrFD: Int32) {
        self.pid = pid
        self.stdoutFD = stdoutFD
        self.stderrFD = stderrFD
    }

    static func start(path: String, arguments: [String], environment: [String: String], stdin: Data?) throws -> Spawned {
        var outPipe: [Int32] = [0, 0]
        var errPipe: [Int32] = [0, 0]
        var inPipe: [Int32] = [0, 0]
        guard sre_pipe_cloexec(&outPipe) == 0, sre_pipe_cloexec(&errPipe) == 0, sre_pipe_cloexec(&inPipe) == 0 else {
            throw ProbeError("cannot create pipes: \(String(cString: strerror(errno)))")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        sre_spawn_add_closefrom(&actions, 3)

        // Default signal dispositions (the runner ignores SIGPIPE; tools must not inherit that)
        // and an empty mask. Tools stay in the runner's process group, so whatever a tool starts
        // dies with the runner's group when the daemon cleans up after it.
        var attributes = posix_spawnattr_t()
        let prepared = sre_spawnattr_init_clean(&attributes, 0)
        guard prepared == 0 else {
            close(outPipe[0]); close(outPipe[1]); close(errPipe[0]); close(errPipe[1]); close(inPipe[0]); close(inPipe[1])
            throw ProbeError("cannot start \(path): \(String(cString: strerror(prepared)))")
        }
        defer { posix_spawnattr_destroy(&attributes) }

        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.sorted(by: { $0.key < $1.key }).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        close(outPipe[1])
        close(errPipe[1])
        close(inPipe[0])
        guard status == 0 else {
            close(outPipe[0]); close(errPipe[0]); close(inPipe[1])
            throw ProbeError("cannot start \(path): \(String(cString: strerror(status)))")
        }
        if let stdin, !stdin.isEmpty {
            let writer = inPipe[1]
            Thread.detachNewThread {
                stdin.withUnsafeBytes { buffer in
                    var offset = 0
                    while offset < buffer.count {
                        let written = write(writer, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
                        if written <= 0 { break }
                        offset += written
                    }
                }
                close(writer)
            }
        } else {
            close(inPipe[1])
        }
        return Spawned(pid: pid, stdoutFD: outPipe[0], stderrFD: errPipe[0])
    }

    /// SIGTERM, SIGKILL shortly after.
    func terminate() {
        guard !cancelled.exchange(true, ordering: .relaxed) else { return }
        kill(pid, SIGTERM)
        let pid = self.pid
        Thread.detachNewThread {
            Thread.sleep(forTimeInterval: 0.5)
            kill(pid, SIGKILL)
        }
    }

    /// Reads both pipes until the child closes them, enforcing the timeout, then reaps it.
    func collect(timeout: Duration, maxOutputBytes: Int) -> ToolResult {
        var out = Data()
        var err = Data()
        var truncated = false
        var timedOut = false
        var open: [Int32] = [stdoutFD, stderrFD]
        let deadline = started + timeout
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !open.isEmpty {
            let left = deadline - .now
            if left <= .zero {
                timedOut = true
                terminate()
                break
            }
            let ms = Int32(min(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000, 500))
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&fds, nfds_t(fds.count), max(ms, 1))
            if ready <= 0 { continue }
            for entry in fds where entry.revents != 0 {
                let count = read(entry.fd, &buffer, buffer.count)
                if count <= 0 {
                    open.removeAll { $0 == entry.fd }
                    continue
                }
                if entry.fd == stdoutFD {
                    let room = maxOutputBytes - out.count
                    out.append(contentsOf: buffer[..<min(count, max(room, 0))])
                    if count > room {
                        // Past the limit the rest is of no use: stop the tool rather than drain it.
                        truncated = true
                        kill(pid, SIGKILL)
                        open.removeAll()
                        break
                    }
                } else {
                    if err.count < 1 << 20 { err.append(contentsOf: buffer[..<count]) } else { truncated = true }
                }
            }
        }
        close(stdoutFD)
        close(stderrFD)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exited = status & 0x7f == 0
        return ToolResult(
            exitCode: exited ? (status >> 8) & 0xff : nil,
            signal: exited ? nil : status & 0x7f,
            stdout: out, stderr: err,
            timedOut: timedOut || cancelled.load(ordering: .relaxed),
            truncated: truncated,
            duration: .now - started
        )
    }
}
