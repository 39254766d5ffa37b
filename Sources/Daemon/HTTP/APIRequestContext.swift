import Hummingbird
import Logging
import NIOCore

/// What the daemon knows about a request's connection when it builds the context.
public struct APIContextSource: RequestContextSource {
    public let channel: any Channel
    public let logger: Logger
    public let maxBodyBytes: Int
}

/// Request context of every API route: the body limit from config and the connection, which
/// tells who is asking (loopback address, or Unix socket peer uid).
public struct APIRequestContext: RequestContext {
    public typealias Source = APIContextSource
    public var coreContext: CoreRequestContextStorage
    public let maxUploadSize: Int
    public let channel: any Channel
    /// Set by ``IdentityMiddleware``.
    public var identity: Identity?
    /// Why the presented credentials were rejected (401), if they were.
    public var authFailure: String?

    public init(source: APIContextSource) {
        self.coreContext = .init(source: source)
        self.maxUploadSize = source.maxBodyBytes
        self.channel = source.channel
    }
}
