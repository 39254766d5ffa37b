/// Why a session operation was refused; the HTTP layer maps each case to a status.
public enum SessionError: Error, Sendable, Equatable {
    case notFound(String)
    case invalid(String)
    case unknownEnvironment(String, known: [String])
    /// The session is not in a state that allows this (409).
    case conflict(String)
    /// Not allowed for this identity (403).
    case forbidden(String)
    case rateLimited(retryAfterSeconds: Int)
    /// Too many unfinished sessions for this person (or in total) (429).
    case tooManyOpen(String)
}
