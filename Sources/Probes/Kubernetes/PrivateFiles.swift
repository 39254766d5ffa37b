import Foundation
import Synchronization

/// Private files that hold secrets (kubeconfigs): created 0600 in a 0700 directory, removed when
/// the probe is done — and, if the runner is stopped first, when it exits.
///
/// Stopping closes it: once `removeAll()` has run, no directory or file is created any more. A
/// runner whose daemon dies takes itself down while its probes still run; without the close, a
/// probe creating its directory (or writing its kubeconfig) just after the removal left it
/// behind in /tmp, credential and all.
public final class PrivateFiles: Sendable {
    /// The runner process's own: the probes create here, the runner's exit paths remove.
    public static let runner = PrivateFiles()

    private struct State {
        var directories: Set<String> = []
        var closed = false
    }

    private let state = Mutex(State())
    private let parent: String

    /// - Parameter parent: where the directories are made (tests use their own).
    public init(parent: String = "/tmp") {
        self.parent = parent
    }

    /// A new private directory; fails once the runner is stopping.
    public func makeDirectory() throws -> String {
        try state.withLock { state in
            guard !state.closed else { throw ProbeError("the runner is stopping: no private files are created any more") }
            var template = Array("\(parent)/sre-runner-XXXXXX".utf8CString)
            guard let pointer = mkdtemp(&template) else { throw ProbeError("cannot create a private directory: \(String(cString: strerror(errno)))") }
            let path = String(cString: pointer)
            _ = chmod(path, 0o700)
            state.directories.insert(path)
            return path
        }
    }

    /// Writes a 0600 file into one of the private directories; fails once the runner is stopping.
    public func write(_ content: Data, to path: String) throws {
        try state.withLock { state in
            guard !state.closed else { throw ProbeError("the runner is stopping: no private files are created any more") }
            guard FileManager.default.createFile(atPath: path, contents: content, attributes: [.posixPermissions: 0o600]) else {
                throw ProbeError("cannot write the private file \(URL(fileURLWithPath: path).lastPathComponent)")
            }
        }
    }

    public func remove(_ directory: String) {
        Self.removeTree(directory)
        state.withLock { _ = $0.directories.remove(directory) }
    }

    /// Removes every private directory and closes: nothing new is created after it (runner exit).
    public func removeAll() {
        let all = state.withLock { state in
            state.closed = true
            defer { state.directories = [] }
            return state.directories
        }
        for directory in all { Self.removeTree(directory) }
    }

    /// A recursive removal can lose a race with a file appearing meanwhile (kubectl's cache
    /// writes) and leave the directory behind; it held a secret, so try again.
    private static func removeTree(_ directory: String) {
        for _ in 0..<3 where FileManager.default.fileExists(atPath: directory) {
            try? FileManager.default.removeItem(atPath: directory)
        }
    }
}
