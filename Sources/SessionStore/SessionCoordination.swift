import DiagnosisModel
import Foundation

/// What several daemons sharing one store coordinate through — the PostgreSQL store implements
/// it; a single daemon on SQLite needs none of it.
///
/// - A **lease** says which daemon runs a session. The owner renews it; when it lapses (the
///   owner died), another daemon takes it and continues the session. Times are the database's
///   clock, so hosts with skewed clocks agree.
/// - A **command** is a request for a session's owner made on another daemon (an approval, a
///   cancel); the owner carries it out and stores the answer for the daemon that asked.
/// - **Wake-ups** (`LISTEN/NOTIFY`) tell every daemon that a session has new events, a command
///   was posted or answered; they only wake readers — the rows are the truth.
public protocol SessionCoordination: Sendable {
    /// Takes `sessionID`'s lease for `owner` if nobody holds it, it lapsed, or `owner` holds it.
    func acquireLease(sessionID: String, owner: String, duration: Duration) async throws -> Bool
    /// Extends the leases `owner` holds among `sessionIDs`; returns the ones it no longer holds.
    func renewLeases(owner: String, sessionIDs: [String], duration: Duration) async throws -> [String]
    func releaseLease(sessionID: String, owner: String) async throws
    /// Unfinished sessions nobody holds: no lease, or one that lapsed. Oldest first.
    func orphanedSessions() async throws -> [SessionRecord]
    /// Unfinished sessions of `requester` (nil: of anyone), across every daemon.
    func unfinishedCount(requester: String?) async throws -> Int
    /// Sessions `requester` (nil: anyone) started since `date`, on any daemon (rate limits).
    func startedCount(since date: Date, requester: String?) async throws -> Int

    func submit(_ command: SessionCommand) async throws -> Int64
    /// Commands not yet answered for any of `sessionIDs`, oldest first.
    func openCommands(sessionIDs: [String]) async throws -> [SessionCommand]
    func answer(_ commandID: Int64, with answer: String) async throws
    func answer(of commandID: Int64) async throws -> String?

    /// Delivers wake-ups to `handler` until cancelled or the connection fails (then it throws;
    /// the caller listens again and meanwhile polls).
    func listen(_ handler: @escaping @Sendable (CoordinationWakeUp) -> Void) async throws
}

/// A request for a session's owner, posted on another daemon.
public struct SessionCommand: Sendable, Equatable {
    public var id: Int64 = 0
    public var sessionID: String
    /// What to do (`decide`, `cancel`); `body` is its JSON.
    public var kind: String
    public var body: String

    public init(sessionID: String, kind: String, body: String) {
        self.sessionID = sessionID
        self.kind = kind
        self.body = body
    }
}

/// Something changed somewhere in the cluster.
public enum CoordinationWakeUp: Sendable, Equatable {
    /// The session has new events.
    case events(sessionID: String)
    /// A command was posted for the session's owner.
    case command(sessionID: String)
    /// A command was answered.
    case answer(commandID: Int64)

    /// The NOTIFY payload: `e:<session>`, `c:<session>`, `a:<command id>`.
    public var payload: String {
        switch self {
        case .events(let id): "e:\(id)"
        case .command(let id): "c:\(id)"
        case .answer(let id): "a:\(id)"
        }
    }

    public init?(payload: String) {
        let parts = payload.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return nil }
        switch parts[0] {
        case "e": self = .events(sessionID: parts[1])
        case "c": self = .command(sessionID: parts[1])
        case "a":
            guard let id = Int64(parts[1]) else { return nil }
            self = .answer(commandID: id)
        default: return nil
        }
    }
}
