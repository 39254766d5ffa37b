import DiagnosisModel
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SessionStore

/// The session routes: decode, validate, call ``SessionService``, encode.
struct SessionsHarness {
    let service: SessionService
    /// Diagnoses started per minute, per person (token or local account, whatever address or
    /// transport it uses) and in total.
    let rateLimiter: RateLimiter
    let totalRateLimiter: RateLimiter
    let heartbeat: Duration
    /// Finished sessions' status and report, encoded once.
    let finished: ResponseCache

    var endpoints: [APIEndpoint] {
        [
            APIEndpoint(.post, "/diagnose", diagnose),
            APIEndpoint(.get, "/status/:id", status),
            APIEndpoint(.get, "/sessions", list),
            APIEndpoint(.get, "/sessions/:id/report", report),
            APIEndpoint(.get, "/sessions/:id/events", events),
            APIEndpoint(.get, "/sessions/:id/audit", audit),
            APIEndpoint(.post, "/sessions/:id/cancel", cancel),
            APIEndpoint(.post, "/approve/:id", approve),
        ]
    }

    @Sendable func diagnose(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let identity = try HTTPInput.identity(context)
        let body = try await HTTPInput.json(DiagnoseRequest.self, from: request, context: context)
        if let retryAfter = await rateLimiter.take(identity.uid.map { "uid:\($0)" } ?? identity.name) {
            throw SessionError.rateLimited(retryAfterSeconds: retryAfter).apiError
        }
        if let retryAfter = await totalRateLimiter.take("all") {
            throw SessionError.rateLimited(retryAfterSeconds: retryAfter).apiError
        }
        let record = try await serviceCall {
            try await service.admitStart(by: identity)
            return try await service.start(body, requester: identity)
        }
        var response = try JSONResponse.make(DiagnoseAccepted(sessionID: record.id, status: .analyzing, message: "Diagnosis started"), status: .accepted)
        response.headers[.location] = "/status/\(record.id)"
        return response
    }

    @Sendable func status(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        _ = try HTTPInput.identity(context)
        let id = try HTTPInput.parameter("id", context)
        if let cached = finished.get("status:\(id)") { return JSONResponse.make(data: cached) }
        let view = try await serviceCall { try await service.status(id: id) }
        let data = try JSONResponse.encoder.encode(view)
        if view.status.isTerminal { finished.put("status:\(id)", data) }
        return JSONResponse.make(data: data)
    }

    @Sendable func list(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        _ = try HTTPInput.identity(context)
        let query = request.uri.queryParameters
        var status: SessionStatus?
        if let text = query["status"].map(String.init) {
            guard let parsed = SessionStatus(rawValue: text) else {
                throw APIError.badRequest("status must be one of \(SessionStatus.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            status = parsed
        }
        var limit = 50
        if let text = query["limit"].map(String.init) {
            guard let parsed = Int(text), (1...200).contains(parsed) else { throw APIError.badRequest("limit must be an integer from 1 to 200") }
            limit = parsed
        }
        let cursor = query["cursor"].map(String.init)
        if let cursor, !SQLiteSessionStore.isValidCursor(cursor) { throw APIError.badRequest("cursor must be a next_cursor from a previous page") }
        return try JSONResponse.make(try await serviceCall { try await service.list(status: status, limit: limit, cursor: cursor) })
    }

    @Sendable func report(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        _ = try HTTPInput.identity(context)
        let id = try HTTPInput.parameter("id", context)
        let markdown = (request.headers[.accept] ?? "").contains("text/markdown")
        let key = "report:\(markdown ? "md" : "json"):\(id)"
        let contentType = markdown ? "text/markdown; charset=utf-8" : "application/json"
        let data: Data
        if let cached = finished.get(key) {
            data = cached
        } else {
            // A report exists only once the session has finished, so it never changes.
            let report = try await serviceCall { try await service.report(id: id) }
            data = markdown ? Data(ReportMarkdown.render(report).utf8) : try JSONResponse.encoder.encode(report)
            finished.put(key, data)
        }
        return Response(status: .ok, headers: [.contentType: contentType], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    @Sendable func audit(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        _ = try HTTPInput.identity(context)
        let id = try HTTPInput.parameter("id", context)
        struct AuditList: Encodable { let entries: [AuditEntry] }
        return try JSONResponse.make(AuditList(entries: try await serviceCall { try await service.audit(id: id) }))
    }

    @Sendable func cancel(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let identity = try HTTPInput.identity(context)
        let id = try HTTPInput.parameter("id", context)
        let record = try await serviceCall { try await service.cancel(id: id, by: identity) }
        return try JSONResponse.make(SessionSummary(record))
    }

    @Sendable func approve(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let identity = try HTTPInput.identity(context)
        let id = try HTTPInput.parameter("id", context)
        let body = try await HTTPInput.json(ApprovalDecisionRequest.self, from: request, context: context)
        return try JSONResponse.make(try await serviceCall { try await service.decide(id: id, body, by: identity) })
    }

    /// Server-Sent Events: one `event:` per session event (`id:` = sequence), resumable with
    /// `Last-Event-ID` (or `?after=`), heartbeat comments, closed after the terminal event.
    @Sendable func events(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        _ = try HTTPInput.identity(context)
        let id = try HTTPInput.parameter("id", context)
        // Both forms are checked even when both are sent; the header wins (it is what an
        // EventSource sends when it reconnects).
        func sequence(_ text: String?, _ name: String) throws -> Int? {
            guard let text else { return nil }
            guard text.count <= 15, let parsed = Int(text), parsed >= 0 else { throw APIError.badRequest("\(name) must be an event sequence number") }
            return parsed
        }
        let header = try sequence(request.headers[.lastEventID], "Last-Event-ID")
        let query = try sequence(request.uri.queryParameters["after"].map(String.init), "after")
        let after = header ?? query ?? 0
        let events = try await serviceCall { try await service.subscribe(id: id, after: after) }
        let chunks = SSEStream.make(events: events, heartbeat: heartbeat)
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache", HTTPField.Name("X-Accel-Buffering")!: "no"],
            body: ResponseBody(asyncSequence: chunks)
        )
    }
}

extension HTTPField.Name {
    static let lastEventID = HTTPField.Name("Last-Event-ID")!
}

/// Turns session events into SSE text, with a heartbeat comment while nothing happens.
enum SSEStream {
    static func make(events: AsyncStream<SessionEvent>, heartbeat: Duration) -> AsyncStream<ByteBuffer> {
        let (stream, continuation) = AsyncStream<ByteBuffer>.makeStream()
        let encoder = JSONCoding.encoder()
        continuation.yield(ByteBuffer(string: "retry: 2000\n\n"))
        let pump = Task {
            for await event in events {
                guard let data = try? encoder.encode(event) else { continue }
                continuation.yield(ByteBuffer(string: "id: \(event.sequence)\nevent: \(event.type)\ndata: \(String(decoding: data, as: UTF8.self))\n\n"))
            }
            continuation.finish()
        }
        let beat = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: heartbeat)
                if Task.isCancelled { break }
                continuation.yield(ByteBuffer(string: ": heartbeat\n\n"))
            }
        }
        continuation.onTermination = { _ in
            pump.cancel()
            beat.cancel()
        }
        return stream
    }
}
