import Logging

/// Well-known metadata keys that become first-class journal fields.
///
/// `logger[metadataKey: LogKey.sessionID] = "…"` on a session's logger is what makes
/// `journalctl -u sre-diagnose SRE_SESSION_ID=…` follow one session.
public enum LogKey {
    public static let sessionID = "session_id"
    public static let domain = "domain"
    /// The probe request a runner-side line is about (`SRE_PROBE`).
    public static let probe = "probe"
    public static let messageID = "message_id"
}

/// Scrubs a log line before it is written (the daemon installs its redactor here).
public typealias LogScrubber = @Sendable (String) -> String

extension Logger.Level {
    /// syslog priority (`PRIORITY=` in the journal, `<N>` prefix on stderr).
    public var syslogPriority: Int {
        switch self {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }
}

enum JournalField {
    /// Journal field name for a metadata key: well-known keys map to `SRE_SESSION_ID`,
    /// `SRE_DOMAIN` and `MESSAGE_ID`; others to `SRE_<KEY>` with only `A-Z0-9_`.
    static func name(forMetadataKey key: String) -> String {
        switch key {
        case LogKey.sessionID: return "SRE_SESSION_ID"
        case LogKey.domain: return "SRE_DOMAIN"
        case LogKey.messageID: return "MESSAGE_ID"
        default:
            let cleaned = key.uppercased().map { ch -> Character in
                (ch.isASCII && (ch.isLetter || ch.isNumber)) ? ch : "_"
            }
            return "SRE_" + String(cleaned)
        }
    }
}

/// Merged metadata of a handler, its provider and the event, in a stable order.
func mergedMetadata(
    handler: Logger.Metadata,
    provider: Logger.MetadataProvider?,
    event: Logger.Metadata?
) -> [(String, String)] {
    var merged = handler
    if let provided = provider?.get() { merged.merge(provided) { _, new in new } }
    if let event { merged.merge(event) { _, new in new } }
    return merged.sorted { $0.key < $1.key }.map { ($0.key, "\($0.value)") }
}
