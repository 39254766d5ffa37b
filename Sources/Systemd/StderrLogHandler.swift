import Foundation
import Logging

/// Writes `<N>message key=value…` lines to stderr, `N` being the syslog priority, which
/// systemd's `SyslogLevelPrefix=` (on by default) turns into the journal priority.
public struct StderrLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level
    private let scrub: LogScrubber

    public init(level: Logger.Level = .info, scrub: @escaping LogScrubber = { $0 }) {
        self.logLevel = level
        self.scrub = scrub
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = "<\(event.level.syslogPriority)>\(event.message)"
        for (key, value) in mergedMetadata(handler: metadata, provider: metadataProvider, event: event.metadata) {
            line += " \(key)=\(value.contains(" ") ? "\"\(value)\"" : value)"
        }
        let text = scrub(line).replacingOccurrences(of: "\n", with: "\\n") + "\n"
        FileHandle.standardError.write(Data(text.utf8))
    }
}
