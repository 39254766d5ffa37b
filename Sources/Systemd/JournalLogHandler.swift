import CSystemd
import Foundation
import Logging

/// Sends each log event to the journal as structured fields through `sd_journal_sendv(3)`:
/// `MESSAGE`, `PRIORITY`, `SYSLOG_IDENTIFIER`, `CODE_FILE`, `CODE_LINE`, `CODE_FUNC`, and every
/// metadata key (`SRE_SESSION_ID`, `SRE_DOMAIN`, `MESSAGE_ID`, `SRE_<KEY>`).
public struct JournalLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level
    private let identifier: String
    private let scrub: LogScrubber

    public init(identifier: String, level: Logger.Level = .info, scrub: @escaping LogScrubber = { $0 }) {
        self.identifier = identifier
        self.logLevel = level
        self.scrub = scrub
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = [
            "MESSAGE=\(scrub(event.message.description))",
            "PRIORITY=\(event.level.syslogPriority)",
            "SYSLOG_IDENTIFIER=\(identifier)",
            "CODE_FILE=\(event.file)",
            "CODE_LINE=\(event.line)",
            "CODE_FUNC=\(event.function)",
        ]
        for (key, value) in mergedMetadata(handler: metadata, provider: metadataProvider, event: event.metadata) {
            fields.append("\(JournalField.name(forMetadataKey: key))=\(scrub(value))")
        }
        Self.send(fields)
    }

    /// Sends one entry; values may contain newlines (the native protocol is binary-safe).
    static func send(_ fields: [String]) {
        let buffers = fields.map { Array($0.utf8) }
        var pinned: [UnsafeMutableRawBufferPointer] = []
        defer { pinned.forEach { $0.deallocate() } }
        var vectors: [iovec] = []
        for bytes in buffers {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
            buffer.copyBytes(from: bytes)
            pinned.append(buffer)
            vectors.append(iovec(iov_base: buffer.baseAddress, iov_len: bytes.count))
        }
        _ = vectors.withUnsafeBufferPointer { sd_journal_sendv($0.baseAddress, Int32($0.count)) }
    }
}

/// Where log lines go.
public enum LogTarget: String, Sendable, CaseIterable {
    case journal, stderr

    /// The journal when stderr is connected to it (`JOURNAL_STREAM` names stderr's device and
    /// inode, as systemd sets for `StandardError=journal`), stderr otherwise.
    public static func detect(environment: [String: String] = ProcessInfo.processInfo.environment) -> LogTarget {
        guard let stream = environment["JOURNAL_STREAM"] else { return .stderr }
        let parts = stream.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return .stderr }
        var info = stat()
        guard fstat(STDERR_FILENO, &info) == 0 else { return .stderr }
        return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode ? .journal : .stderr
    }
}

/// Installs the process-wide log handler for `target`.
public enum DaemonLogging {
    public static func bootstrap(
        target: LogTarget,
        identifier: String,
        level: Logger.Level,
        scrub: @escaping LogScrubber
    ) {
        LoggingSystem.bootstrap { _ in
            switch target {
            case .journal: JournalLogHandler(identifier: identifier, level: level, scrub: scrub)
            case .stderr: StderrLogHandler(level: level, scrub: scrub)
            }
        }
    }
}
