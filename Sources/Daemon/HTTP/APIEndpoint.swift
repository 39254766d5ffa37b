import Hummingbird

/// One route of the API: what the controller lists and the router registers.
public struct APIEndpoint: Sendable {
    public typealias Handler = @Sendable (Request, APIRequestContext) async throws -> Response
    public let method: HTTPRequest.Method
    /// Hummingbird path pattern, e.g. `/status/:id`.
    public let path: String
    public let handler: Handler

    public init(_ method: HTTPRequest.Method, _ path: String, _ handler: @escaping Handler) {
        self.method = method
        self.path = path
        self.handler = handler
    }
}
