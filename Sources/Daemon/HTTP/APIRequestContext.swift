import Hummingbird
import Logging
import NIOCore

/// Request context of every API route: the connection, which tells who is asking (loopback
/// address, or Unix socket peer uid), and the body limit from config.
///
/// Built from Hummingbird's own `ApplicationRequestContextSource`, so the in-process router
/// tests (HummingbirdTesting) can make one; the daemon sets the body limit as it builds each
/// request's context.
public struct APIRequestContext: RequestContext {
    public typealias Source = ApplicationRequestContextSource
    public var coreContext: CoreRequestContextStorage
    public var maxUploadSize: Int = 65536
    public let channel: any Channel
    /// Set by ``IdentityMiddleware``.
    public var identity: Identity?
    /// Why the presented credentials were rejected (401), if they were.
    public var authFailure: String?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }
}
