import Hummingbird
import Logging

/// Turns every failure into the API's JSON error shape with the right status, answers 405 for a
/// known path with the wrong method, and never lets a client's input become a 5xx.
struct JSONErrorMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    /// Path patterns (`/status/:id`) and the methods each one answers.
    let routes: [(pattern: [Substring], methods: [HTTPRequest.Method])]

    init(endpoints: [APIEndpoint]) {
        var table: [(pattern: [Substring], methods: [HTTPRequest.Method])] = []
        for endpoint in endpoints {
            let pattern = endpoint.path.split(separator: "/")
            if let index = table.firstIndex(where: { $0.pattern == pattern }) {
                table[index].methods.append(endpoint.method)
            } else {
                table.append((pattern, [endpoint.method]))
            }
        }
        routes = table
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return error.makeResponse()
        } catch let error as any HTTPResponseError {
            if error.status == .notFound, let allowed = allowedMethods(for: request.uri.path) {
                return APIError(
                    .methodNotAllowed, code: "method_not_allowed",
                    message: "\(request.method) is not allowed on \(request.uri.path); use \(allowed.map(\.rawValue).joined(separator: ", "))",
                    headers: [.allow: allowed.map(\.rawValue).joined(separator: ", ")]
                ).makeResponse()
            }
            let message = error.status == .notFound
                ? "no route \(request.method) \(request.uri.path)"
                : (error as? HTTPError)?.body ?? error.status.reasonPhrase
            return APIError(error.status, code: APIError.code(for: error.status), message: message).makeResponse()
        } catch let error as DecodingError {
            return APIError.badRequest("request body is not valid: \(DecodingErrorText.describe(error))").makeResponse()
        } catch {
            // Reflecting: PostgresNIO describes its errors generically, the detail only so.
            context.logger.error("internal error on \(request.method) \(request.uri.path): \(String(reflecting: error))")
            return APIError(.internalServerError, code: "internal", message: "internal error; see the daemon's journal").makeResponse()
        }
    }

    private func allowedMethods(for path: String) -> [HTTPRequest.Method]? {
        let parts = path.split(separator: "/")
        for route in routes where route.pattern.count == parts.count {
            let matches = zip(route.pattern, parts).allSatisfy { pattern, part in pattern.hasPrefix(":") || pattern == part }
            if matches { return route.methods }
        }
        return nil
    }
}

/// Human text for a `DecodingError`, naming the field.
enum DecodingErrorText {
    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            return keys.isEmpty ? "body" : keys.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = path(context)
            return "missing field \(parent == "body" ? key.stringValue : "\(parent).\(key.stringValue)")"
        case .typeMismatch(let type, let context): return "\(path(context)) should be \(typeName(type))"
        case .valueNotFound(let type, let context): return "\(path(context)) should be \(typeName(type)), got null"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not valid JSON" : "\(path(context)): \(context.debugDescription)"
        @unknown default: return "not valid JSON"
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is Int.Type, is Double.Type: "a number"
        default: type is any Collection.Type ? "a list" : "an object"
        }
    }
}
