import DiagnosisModel
import Foundation

/// A decoded HTTP response from the daemon.
public struct APIResponse: Sendable {
    public let status: Int
    public let headers: [String: String]
    public let body: Data
}

/// Talks to sre-diagnosed's HTTP API (the CLI and the MCP server use it).
public struct APIClient: Sendable {
    public let address: DaemonAddress
    /// Approver bearer token, sent as `Authorization: Bearer …` when set.
    public var token: String?
    public var timeout: Double

    public init(address: DaemonAddress, token: String? = nil, timeout: Double = 30) {
        self.address = address
        self.token = token
        self.timeout = timeout
    }

    static let decoder: JSONDecoder = JSONCoding.decoder()

    /// Sends one request and reads the whole answer.
    public func send(_ method: String, _ path: String, body: Data? = nil, accept: String = "application/json") throws(ClientError) -> APIResponse {
        let connection = try Connection(to: address, timeout: timeout)
        try connection.write(requestHead(method, path, body: body, accept: accept) + (body ?? Data()))
        var raw = Data()
        while let chunk = try connection.read() { raw.append(chunk) }
        return try HTTPWire.parseResponse(raw)
    }

    /// Sends a request and decodes a 2xx JSON answer; API errors become `ClientError.api`.
    public func call<T: Decodable>(_ method: String, _ path: String, body: (some Encodable)? = Optional<String>.none, as type: T.Type) throws(ClientError) -> T {
        var data: Data?
        if let body {
            do { data = try JSONEncoder().encode(body) } catch { throw .malformed("cannot encode request: \(error)") }
        }
        return try Self.decode(T.self, from: send(method, path, body: data), path: path)
    }

    /// Decodes a 2xx JSON answer; API errors become `ClientError.api`.
    public static func decode<T: Decodable>(_ type: T.Type, from response: APIResponse, path: String = "") throws(ClientError) -> T {
        try check(response)
        do {
            return try decoder.decode(T.self, from: response.body)
        } catch {
            throw .malformed("\(path): \(error)")
        }
    }

    /// Throws the API error an error response carries.
    public static func check(_ response: APIResponse) throws(ClientError) {
        guard !(200..<300).contains(response.status) else { return }
        struct ErrorBody: Decodable {
            struct Detail: Decodable { let code: String; let message: String }
            let error: Detail
        }
        if let body = try? decoder.decode(ErrorBody.self, from: response.body) {
            throw .api(status: response.status, code: body.error.code, message: body.error.message)
        }
        throw .api(status: response.status, code: "http_\(response.status)", message: String(decoding: response.body.prefix(200), as: UTF8.self))
    }

    func requestHead(_ method: String, _ path: String, body: Data?, accept: String, extra: [String: String] = [:]) -> Data {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(address.hostHeader)\r\nConnection: close\r\nAccept: \(accept)\r\nUser-Agent: sre-diagnose/\(ProductInfo.version)\r\n"
        if let token { head += "Authorization: Bearer \(token)\r\n" }
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n" }
        for (name, value) in extra { head += "\(name): \(value)\r\n" }
        return Data((head + "\r\n").utf8)
    }

    // MARK: Endpoints

    public func health() throws(ClientError) -> HealthStatus {
        try call("GET", "/health", as: HealthStatus.self)
    }

    public func diagnose(_ request: DiagnoseRequest) throws(ClientError) -> DiagnoseAccepted {
        try call("POST", "/diagnose", body: request, as: DiagnoseAccepted.self)
    }

    public func status(_ id: String) throws(ClientError) -> SessionStatusView {
        try call("GET", "/status/\(try Self.pathSegment(id))", as: SessionStatusView.self)
    }

    public func approve(_ id: String, _ decision: ApprovalDecisionRequest) throws(ClientError) -> ApprovalDecision {
        try call("POST", "/approve/\(try Self.pathSegment(id))", body: decision, as: ApprovalDecision.self)
    }

    public func sessions(status: SessionStatus? = nil, limit: Int? = nil, cursor: String? = nil) throws(ClientError) -> SessionList {
        var query: [String] = []
        if let status { query.append("status=\(status.rawValue)") }
        if let limit { query.append("limit=\(limit)") }
        if let cursor { query.append("cursor=\(Self.queryValue(cursor))") }
        return try call("GET", "/sessions" + (query.isEmpty ? "" : "?" + query.joined(separator: "&")), as: SessionList.self)
    }

    /// `GET /alerts`: what the alert intake received, newest first.
    public func alerts(limit: Int) throws(ClientError) -> IntakeList {
        try call("GET", "/alerts?limit=\(limit)", as: IntakeList.self)
    }

    public func report(_ id: String) throws(ClientError) -> DiagnosisReport {
        try call("GET", "/sessions/\(try Self.pathSegment(id))/report", as: DiagnosisReport.self)
    }

    /// The report as the daemon renders it in Markdown.
    public func reportMarkdown(_ id: String) throws(ClientError) -> String {
        let response = try send("GET", "/sessions/\(try Self.pathSegment(id))/report", accept: "text/markdown")
        try Self.check(response)
        return String(decoding: response.body, as: UTF8.self)
    }

    public func cancel(_ id: String) throws(ClientError) -> SessionStatusView {
        _ = try send("POST", "/sessions/\(try Self.pathSegment(id))/cancel", body: Data("{}".utf8))
        return try status(id)
    }

    /// `GET /environments`, raw JSON (names, domains, targets and credential references).
    public func environments() throws(ClientError) -> Data {
        let response = try send("GET", "/environments")
        try Self.check(response)
        return response.body
    }

    /// Session ids are UUIDs; anything else is refused here rather than spliced into a path.
    static func pathSegment(_ id: String) throws(ClientError) -> String {
        guard !id.isEmpty, id.count <= 64, id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
            throw .invalidArgument("\(id.prefix(80)) is not a session id")
        }
        return id
    }

    static func queryValue(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
    }
}

/// HTTP/1.1 response parsing (Content-Length, chunked, or until close).
enum HTTPWire {
    static func parseResponse(_ raw: Data) throws(ClientError) -> APIResponse {
        guard let split = raw.range(of: Data("\r\n\r\n".utf8)) else { throw .malformed("incomplete HTTP response") }
        let (status, headers) = try parseHead(raw[..<split.lowerBound])
        var body = Data(raw[split.upperBound...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" { body = dechunk(body) }
        return APIResponse(status: status, headers: headers, body: body)
    }

    static func parseHead(_ data: Data) throws(ClientError) -> (Int, [String: String]) {
        var lines = String(decoding: data, as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines.removeFirst().split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw .malformed("bad status line") }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return (status, headers)
    }

    static func dechunk(_ data: Data) -> Data {
        var result = Data()
        var index = data.startIndex
        while index < data.endIndex, let lineEnd = data[index...].range(of: Data("\r\n".utf8)) {
            let sizeText = String(decoding: data[index..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16), size > 0 else { break }
            let end = min(data.endIndex, lineEnd.upperBound + size)
            result.append(data[lineEnd.upperBound..<end])
            index = min(data.endIndex, end + 2)
        }
        return result
    }
}
