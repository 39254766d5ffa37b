import CShims
import Foundation
import RunnerProtocol

/// Runs `sre-diagnose-runner` on this host with `posix_spawn`.
///
/// The runner gets a minimal environment — never the daemon's, which may hold development
/// secrets, `NOTIFY_SOCKET` or `CREDENTIALS_DIRECTORY` — plus the socket path and its one-time
/// token. Secrets travel only in the `job` frame, never in argv or the environment.
///
/// Not `Foundation.Process`: it enumerates the daemon's open descriptors into one close action
/// each, keeps a run-loop source per child and runs on the supervisor's actor — 0.4–4.7 ms per
/// launch, measured while a session's report was being stored. Here the child closes every
/// descriptor above stderr itself (`closefrom`), starts in its own process group (so the group
/// kill after it ends can never miss a child that had not yet called `setpgid`), with default
/// signal dispositions and an empty mask, and one thread per child waits for its exit.
public struct LocalRunnerLauncher: RunnerLauncher {
    public let executable: String
    /// Variables passed through from the daemon's environment.
    static let passthrough = ["PATH", "LANG", "LC_ALL", "TZ", "HOME", "TMPDIR"]

    public init(executable: String) {
        self.executable = executable
    }

    /// `sre-diagnose-runner` next to the running daemon executable.
    public static func defaultExecutable() -> String {
        let daemon = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let sibling = daemon.deletingLastPathComponent().appendingPathComponent("sre-diagnose-runner").path
        if FileManager.default.isExecutableFile(atPath: sibling) { return sibling }
        if let procPath = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            return URL(fileURLWithPath: procPath).deletingLastPathComponent().appendingPathComponent("sre-diagnose-runner").path
        }
        return sibling
    }

    public func launch(_ request: RunnerLaunchRequest, onExit: @escaping @Sendable (RunnerExit) -> Void) throws -> any LaunchedRunner {
        let arguments = ["--runner-id", request.runnerID] + (request.domain.map { ["--domain", $0.rawValue] } ?? [])
        var environment: [String: String] = [:]
        for name in Self.passthrough { environment[name] = getenv(name).map { String(cString: $0) } }
        environment[RunnerEnvironment.socket] = request.socketPath
        environment[RunnerEnvironment.token] = request.token
        environment[RunnerEnvironment.runnerID] = request.runnerID
        environment[RunnerEnvironment.domain] = request.domain?.rawValue
        environment[RunnerEnvironment.maxFrameBytes] = String(request.maxFrameBytes)

        let pid = try Self.spawn(executable, arguments: arguments, environment: environment)
        Thread.detachNewThread {
            // Wait for the exit without reaping: while the runner is a zombie its process group
            // id cannot be reused, so the group kill below reaches only what the runner left
            // behind (a tool mid-run when it was SIGKILLed), and it is done before the runner
            // is seen gone.
            var info = siginfo_t()
            while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR {}
            kill(-pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            let signal = status & 0x7f
            onExit(signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal))
        }
        return LocalRunner(pid: pid)
    }

    /// Starts `path` with stdin and stdout on /dev/null, stderr shared with the daemon (the
    /// journal), no other descriptor, in a process group of its own.
    static func spawn(_ path: String, arguments: [String], environment: [String: String]) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        sre_spawn_add_closefrom(&actions, 3)

        var attributes = posix_spawnattr_t()
        let prepared = sre_spawnattr_init_clean(&attributes, 1)
        guard prepared == 0 else { throw LaunchError(path: path, code: prepared) }
        defer { posix_spawnattr_destroy(&attributes) }

        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        guard status == 0 else { throw LaunchError(path: path, code: status) }
        return pid
    }

    struct LaunchError: Error, CustomStringConvertible {
        let path: String
        let code: Int32
        var description: String { "cannot start \(path): \(String(cString: strerror(code)))" }
    }
}

struct LocalRunner: LaunchedRunner {
    let pid: Int32
    var expectedPeerPID: Int32? { pid }
    func signal(_ signal: Int32) { kill(pid, signal) }
}
