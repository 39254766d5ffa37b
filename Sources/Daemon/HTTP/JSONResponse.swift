import DiagnosisModel
import Foundation
import Hummingbird
import NIOCore

/// Encodes API answers: ISO 8601 dates, sorted keys (stable output for diffs and tests).
enum JSONResponse {
    static let encoder: JSONEncoder = JSONCoding.encoder()

    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        make(data: try encoder.encode(value), status: status)
    }

    static func make(data: Data, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }
}
