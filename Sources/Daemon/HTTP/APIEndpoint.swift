import Hummingbird

/// One route of the API: what the controller lists and the router registers.
public struct APIEndpoint: Sendable {
    public typealias Handler = @Sendable (Request, APIRequestContext) async throws -> Response
    public let method: HTTPRequest.Method
    /// Hummingbird path pattern, e.g. `/status/:id`.
    public let path: String
    public let handler: Handler
    /// Open to anyone (health, metrics, the dashboard's files): the caller's identity is not
    /// worked out for it, which spares a kernel query on the hottest paths.
    public let isPublic: Bool

    public init(_ method: HTTPRequest.Method, _ path: String, public isPublic: Bool = false, _ handler: @escaping Handler) {
        self.method = method
        self.path = path
        self.isPublic = isPublic
        self.handler = handler
    }
}
