import DiagnosisModel
import Foundation
import SessionStore

/// A request for a session's owning daemon, made on another daemon: the owner alone holds the
/// session's pending approval and its runners, so it carries the request out — the
/// self-approval rule and every other check run where they always run.
enum OwnerCommand: Codable, Sendable, Equatable {
    case decide(ApprovalDecisionRequest, by: RemoteIdentity)
    case cancel(by: RemoteIdentity)
    /// Alerts of the session's group that arrived at another daemon's webhook.
    case alerts(SessionEvent.AlertsUpdate)

    var kind: String {
        switch self {
        case .decide: "decide"
        case .cancel: "cancel"
        case .alerts: "alerts"
        }
    }

    func stored(for sessionID: String) throws -> SessionCommand {
        SessionCommand(sessionID: sessionID, kind: kind, body: String(decoding: try JSONCoding.encoder().encode(self), as: UTF8.self))
    }

    init(_ command: SessionCommand) throws {
        self = try JSONCoding.decoder().decode(OwnerCommand.self, from: Data(command.body.utf8))
    }
}

/// An ``Identity`` as it travels between daemons.
struct RemoteIdentity: Codable, Sendable, Equatable {
    var name: String
    var role: String
    var uid: UInt32?
    var transport: String
    var byToken: Bool

    init(_ identity: Identity) {
        name = identity.name
        role = identity.role.rawValue
        uid = identity.uid
        transport = identity.transport.rawValue
        byToken = identity.byToken
    }

    var identity: Identity {
        Identity(name: name, role: Identity.Role(rawValue: role) ?? .requester, uid: uid, transport: Identity.Transport(rawValue: transport) ?? .tcp, byToken: byToken)
    }
}

/// The owner's answer: the outcome, or the refusal the caller's daemon turns into the same HTTP
/// error the owner would have answered.
struct OwnerAnswer: Codable, Sendable, Equatable {
    var decision: ApprovalDecision?
    var record: SessionRecord?
    var appended: Bool?
    var error: Refusal?

    struct Refusal: Codable, Sendable, Equatable {
        var kind: String
        var message: String
    }

    init(decision: ApprovalDecision? = nil, record: SessionRecord? = nil, appended: Bool? = nil, error: SessionError? = nil) {
        self.decision = decision
        self.record = record
        self.appended = appended
        self.error = error.map(Self.refusal)
    }

    static func refusal(_ error: SessionError) -> Refusal {
        switch error {
        case .notFound(let message): Refusal(kind: "not_found", message: message)
        case .invalid(let message): Refusal(kind: "invalid", message: message)
        case .conflict(let message): Refusal(kind: "conflict", message: message)
        case .forbidden(let message): Refusal(kind: "forbidden", message: message)
        case .tooManyOpen(let message): Refusal(kind: "too_many_open", message: message)
        case .unknownEnvironment(let name, let known): Refusal(kind: "invalid", message: "unknown environment \(name); known: \(known.joined(separator: ", "))")
        case .rateLimited: Refusal(kind: "conflict", message: "rate limited")
        }
    }

    /// The refusal as the error the caller's daemon throws.
    var sessionError: SessionError? {
        guard let error else { return nil }
        switch error.kind {
        case "not_found": return .notFound(error.message)
        case "invalid": return .invalid(error.message)
        case "forbidden": return .forbidden(error.message)
        case "too_many_open": return .tooManyOpen(error.message)
        default: return .conflict(error.message)
        }
    }

    var text: String { String(decoding: (try? JSONCoding.encoder().encode(self)) ?? Data("{}".utf8), as: UTF8.self) }
}
