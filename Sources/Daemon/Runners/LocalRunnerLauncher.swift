import Foundation
import RunnerProtocol

/// Runs `sre-diagnose-runner` on this host with `Foundation.Process`.
///
/// The runner gets a minimal environment — never the daemon's, which may hold development
/// secrets, `NOTIFY_SOCKET` or `CREDENTIALS_DIRECTORY` — plus the socket path and its one-time
/// token. Secrets travel only in the `job` frame, never in argv or the environment.
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
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["--runner-id", request.runnerID] + (request.domain.map { ["--domain", $0.rawValue] } ?? [])
        let inherited = ProcessInfo.processInfo.environment
        var environment: [String: String] = [:]
        for name in Self.passthrough { environment[name] = inherited[name] }
        environment[RunnerEnvironment.socket] = request.socketPath
        environment[RunnerEnvironment.token] = request.token
        environment[RunnerEnvironment.runnerID] = request.runnerID
        environment[RunnerEnvironment.domain] = request.domain?.rawValue
        environment[RunnerEnvironment.maxFrameBytes] = String(request.maxFrameBytes)
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.terminationHandler = { finished in
            // corelibs-foundation's Process and its run-loop source retain each other until
            // `waitUntilExit()` clears the source; without this call every runner's Process —
            // and the `onExit` closure it holds — stayed alive (≈11 KB per session under the soak).
            // The process has exited here, so this returns at once.
            finished.waitUntilExit()
            // Whatever the runner left behind (a tool mid-run when it was SIGKILLed) goes too.
            kill(-finished.processIdentifier, SIGKILL)
            onExit(finished.terminationReason == .uncaughtSignal ? .signaled(finished.terminationStatus) : .exited(finished.terminationStatus))
        }
        try process.run()
        return LocalRunner(pid: process.processIdentifier)
    }
}

struct LocalRunner: LaunchedRunner {
    let pid: Int32
    var expectedPeerPID: Int32? { pid }
    func signal(_ signal: Int32) { kill(pid, signal) }
}
