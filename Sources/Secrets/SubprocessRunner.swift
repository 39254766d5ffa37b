import Foundation
import Synchronization

/// Runs a helper program (the `op` CLI) with an explicit environment — never the daemon's —
/// and a timeout. Secrets go in through the environment only, never argv.
enum SubprocessRunner {
    struct Output: Sendable {
        var status: Int32
        var stdout: Data
        var stderr: Data
        var timedOut: Bool
    }

    static func run(_ executable: String, _ arguments: [String], environment: [String: String], timeout: Duration) async throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let killed = Mutex(false)
        let timer = Task {
            try await Task.sleep(for: timeout)
            killed.withLock { $0 = true }
            if process.isRunning { process.terminate() }
            try await Task.sleep(for: .seconds(1))
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        async let stdout = Self.readAll(out.fileHandleForReading)
        async let stderr = Self.readAll(err.fileHandleForReading)
        let (stdoutData, stderrData) = await (stdout, stderr)
        process.waitUntilExit()
        timer.cancel()
        let timedOut = killed.withLock { $0 }
        return Output(status: process.terminationStatus, stdout: stdoutData, stderr: stderrData, timedOut: timedOut)
    }

    private static func readAll(_ handle: FileHandle) async -> Data {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(returning: handle.readDataToEndOfFile())
            }
        }
    }

    /// Finds `name` on PATH (absolute paths are returned as they are).
    static func locate(_ name: String) -> String? {
        if name.hasPrefix("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
