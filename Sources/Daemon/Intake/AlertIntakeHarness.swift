import DiagnosisModel
import Foundation
import Hummingbird
import NIOCore

/// `POST /webhooks/alertmanager` (Alertmanager's and Grafana's webhook) and `GET /alerts` (what
/// the intake received and did). Authentication of the webhook is its own: Alertmanager's
/// bearer token or basic auth, not a person's identity.
struct AlertIntakeHarness {
    let service: AlertIntakeService?
    let maxBodyBytes: Int

    var endpoints: [APIEndpoint] {
        [
            APIEndpoint(.post, "/webhooks/alertmanager", public: true, receive),
            APIEndpoint(.get, "/alerts", list),
        ]
    }

    struct Receipt: Encodable {
        let id: Int64
        let status = "stored"
        let alerts: Int
    }

    @Sendable func receive(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        guard let service else {
            throw APIError(.notFound, code: "intake_not_configured", message: "the Alertmanager intake is not configured (intake.alertmanager)")
        }
        guard service.authorize(request.headers[.authorization]) else {
            throw APIError(.unauthorized, code: "unauthorized", message: "missing or wrong credentials for the Alertmanager webhook", headers: [.wwwAuthenticate: "Bearer"])
        }
        let contentType = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        guard contentType == "application/json" else {
            throw APIError(.unsupportedMediaType, code: "unsupported_media_type", message: "send the body as Content-Type: application/json")
        }
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: maxBodyBytes)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            throw APIError(.contentTooLarge, code: "body_too_large", message: "the notification is larger than \(maxBodyBytes) bytes")
        } catch {
            throw APIError.badRequest("the request body did not arrive completely", code: "incomplete_body")
        }
        let body = Data(buffer.readableBytesView)
        let payload: AlertmanagerPayload
        do {
            payload = try JSONDecoder().decode(AlertmanagerPayload.self, from: body)
        } catch let error as DecodingError {
            throw APIError.badRequest("not an Alertmanager webhook payload: \(DecodingErrorText.describe(error))")
        } catch {
            throw APIError.badRequest("the body is not JSON")
        }
        if let problem = payload.problem { throw APIError.unprocessable(problem) }
        let record = try await service.receive(payload, body: body, source: "alertmanager")
        return try JSONResponse.make(Receipt(id: record.id, alerts: record.alerts.count))
    }

    @Sendable func list(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        _ = try HTTPInput.identity(context)
        var limit = 100
        if let text = request.uri.queryParameters.get("limit") {
            guard let parsed = Int(text), (1...1000).contains(parsed) else { throw APIError.badRequest("limit must be an integer from 1 to 1000") }
            limit = parsed
        }
        let records = try await service?.recent(limit: limit) ?? []
        return try JSONResponse.make(IntakeList(records: records))
    }
}
