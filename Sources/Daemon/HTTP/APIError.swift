import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// An API error: `{"error":{"code":…,"message":…}}` with its HTTP status.
public struct APIError: Error, HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, code: String, message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    public static func badRequest(_ message: String, code: String = "bad_request") -> APIError { .init(.badRequest, code: code, message: message) }
    public static func notFound(_ message: String) -> APIError { .init(.notFound, code: "not_found", message: message) }
    public static func conflict(_ message: String, code: String = "conflict") -> APIError { .init(.conflict, code: code, message: message) }
    public static func unprocessable(_ message: String, code: String = "invalid") -> APIError { .init(.unprocessableContent, code: code, message: message) }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        makeResponse()
    }

    func makeResponse() -> Response {
        struct Body: Encodable {
            struct Detail: Encodable { let code: String; let message: String }
            let error: Detail
        }
        var headers = self.headers
        headers[.contentType] = "application/json"
        let data = (try? JSONResponse.encoder.encode(Body(error: .init(code: code, message: message)))) ?? Data("{}".utf8)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The stable `code` for a status when nothing more specific is known.
    static func code(for status: HTTPResponse.Status) -> String {
        switch status.code {
        case 400: "bad_request"
        case 401: "unauthorized"
        case 403: "forbidden"
        case 404: "not_found"
        case 405: "method_not_allowed"
        case 409: "conflict"
        case 413: "body_too_large"
        case 415: "unsupported_media_type"
        case 422: "invalid"
        case 429: "rate_limited"
        default: status.code >= 500 ? "internal" : "error"
        }
    }
}
