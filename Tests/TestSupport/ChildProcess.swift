import Foundation

/// A real child process with its output captured to files, for black-box tests.
public final class ChildProcess: @unchecked Sendable {
    public let process = Process()
    public let stdoutPath: String
    public let stderrPath: String

    /// Starts `executable` with `arguments`; `environment` is added to (or, with `inherit`
    /// false, replaces) this process's environment.
    public init(
        _ executable: String,
        _ arguments: [String] = [],
        environment: [String: String] = [:],
        inheritEnvironment: Bool = true,
        removingEnvironment: [String] = [],
        directory: TemporaryDirectory,
        name: String? = nil,
        stdin: FileHandle? = nil
    ) throws {
        let label = name ?? (executable as NSString).lastPathComponent
        stdoutPath = directory.file("\(label).\(UUID().uuidString.prefix(6)).stdout")
        stderrPath = directory.file("\(label).\(UUID().uuidString.prefix(6)).stderr")
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = inheritEnvironment ? ProcessInfo.processInfo.environment : [:]
        for key in removingEnvironment { env.removeValue(forKey: key) }
        env.merge(environment) { _, new in new }
        process.environment = env
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        if let stdin { process.standardInput = stdin }
        try process.run()
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    public var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    public var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    public func signal(_ signal: Int32) { kill(pid, signal) }

    /// Waits for exit; returns the exit status (or 128+signal), nil on timeout.
    @discardableResult
    public func wait(timeout: Double = 15) -> Int32? {
        guard TestEnvironment.waitUntil(timeout: timeout, { !process.isRunning }) else { return nil }
        process.waitUntilExit()
        return process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    }

    /// SIGKILLs the process if it still runs (test clean-up).
    public func stop() {
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
    }
}
