import DiagnosisModel
import Foundation
import Hummingbird
import NIOCore

/// Decoding and checking request input, shared by the harnesses.
enum HTTPInput {
    static let decoder = JSONCoding.decoder()

    /// Decodes a JSON body: 415 unless `Content-Type: application/json`, 413 above the body
    /// limit, 400 (naming the field) when malformed.
    static func json<T: Decodable>(_ type: T.Type, from request: Request, context: APIRequestContext) async throws -> T {
        let contentType = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        guard contentType == "application/json" else {
            throw APIError(.unsupportedMediaType, code: "unsupported_media_type", message: "send the body as Content-Type: application/json")
        }
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: context.maxUploadSize)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            throw APIError(.contentTooLarge, code: "body_too_large", message: "the body is larger than \(context.maxUploadSize) bytes (server.max_body_bytes)")
        } catch {
            // The client went away (or was cut off by the body deadline) mid-body: its business,
            // not the daemon's error.
            context.logger.debug("request body not received: \(error)")
            throw APIError.badRequest("the request body did not arrive completely", code: "incomplete_body")
        }
        guard buffer.readableBytes > 0 else { throw APIError.badRequest("the body is empty; expected a JSON object") }
        // Only a JSON object is a valid body (a number, string or array is not).
        guard buffer.readableBytesView.first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) == UInt8(ascii: "{") else {
            throw APIError.badRequest("the body must be a JSON object")
        }
        do {
            return try decoder.decode(T.self, from: Data(buffer.readableBytesView))
        } catch let error as DecodingError {
            throw APIError.badRequest("invalid request body: \(DecodingErrorText.describe(error))")
        }
    }

    /// A required path parameter.
    static func parameter(_ name: String, _ context: APIRequestContext) throws -> String {
        guard let value = context.parameters.get(name), !value.isEmpty else { throw APIError.badRequest("missing \(name)") }
        return value
    }

    /// The caller's identity, or 401.
    static func identity(_ context: APIRequestContext) throws -> Identity {
        if let failure = context.authFailure { throw APIError(.unauthorized, code: "unauthorized", message: failure, headers: [.wwwAuthenticate: "Bearer"]) }
        guard let identity = context.identity else {
            throw APIError(.unauthorized, code: "unauthorized", message: "authentication required: use the local Unix socket, loopback, or Authorization: Bearer <token>", headers: [.wwwAuthenticate: "Bearer"])
        }
        return identity
    }
}

extension SessionError {
    /// The API error for a service refusal.
    var apiError: APIError {
        switch self {
        case .notFound(let message): .notFound(message)
        case .invalid(let message): .unprocessable(message)
        case .unknownEnvironment(let name, let known):
            .unprocessable("unknown environment \"\(name)\"; known environments: \(known.joined(separator: ", "))", code: "unknown_environment")
        case .conflict(let message): .conflict(message)
        case .forbidden(let message): APIError(.forbidden, code: "forbidden", message: message)
        case .rateLimited(let seconds):
            APIError(.tooManyRequests, code: "rate_limited", message: "too many diagnoses started; retry in \(seconds) s", headers: [.retryAfter: String(seconds)])
        case .tooManyOpen(let message):
            APIError(.tooManyRequests, code: "too_many_sessions", message: message, headers: [.retryAfter: "60"])
        }
    }
}

/// Runs a service call, turning its refusals into API errors.
func serviceCall<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as SessionError {
        throw error.apiError
    }
}
