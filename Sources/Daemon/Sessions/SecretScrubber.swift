import DiagnosisModel
import Redaction
import Synchronization

/// Every secret the daemon currently holds (the sessions' resolved credentials and its own
/// tokens), so log lines can be scrubbed before they are written — docs/DESIGN.md §6's "the daemon
/// scrubs again before logging".
public final class SecretScrubber: Sendable {
    private struct Entry { var session: String; var reference: String; var values: [String] }
    private let state = Mutex<(entries: [Entry], redactor: Redactor)>(([], Redactor()))

    public init() {}

    /// Adds a daemon-wide secret (approver tokens, provider tokens) that is never removed.
    public func addPermanent(_ values: [String], reference: String) {
        state.withLock { state in
            state.entries.append(Entry(session: "", reference: reference, values: values))
            state.redactor = Self.build(state.entries)
        }
    }

    func add(_ credential: ResolvedCredential, session: String) {
        state.withLock { state in
            state.entries.append(Entry(session: session, reference: credential.reference, values: credential.secretValues))
            state.redactor = Self.build(state.entries)
        }
    }

    /// Forgets a session's secret once the session has ended.
    func remove(reference: String, session: String) {
        state.withLock { state in
            state.entries.removeAll { $0.session == session && $0.reference == reference }
            state.redactor = Self.build(state.entries)
        }
    }

    public func scrub(_ text: String) -> String {
        let redactor = state.withLock { $0.redactor }
        return redactor.redact(text)
    }

    private static func build(_ entries: [Entry]) -> Redactor {
        var secrets: [String: [String]] = [:]
        for entry in entries { secrets[entry.reference, default: []].append(contentsOf: entry.values) }
        return Redactor(secrets: secrets)
    }
}
