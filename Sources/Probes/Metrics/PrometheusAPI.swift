import DiagnosisModel
import Foundation

/// Read-only calls to a Prometheus-compatible HTTP API (`/api/v1/…`) through curl.
///
/// The URL, the credential and the TLS settings reach curl as a config file on its stdin — never
/// in argv, where any local user could read them. Every call is bounded: a timeout, and a byte
/// limit past which curl is stopped and the call fails as too large.
struct PrometheusAPI: Sendable {
    /// Why a call failed, in words that can be shown (the runner redacts them anyway).
    enum Failure: Error, Sendable, Equatable {
        /// No answer: DNS, refused, timed out, TLS.
        case unreachable(String)
        /// 401/403: the credential was refused or missing.
        case unauthorized(Int, String)
        /// Prometheus refused the query (bad PromQL, too many samples, timeout) — its own message.
        case query(type: String, message: String)
        case tooLarge(limit: Int)
        /// A non-JSON answer or an HTTP error without Prometheus' error body.
        case malformed(String)

        /// A refusal may quote what it was sent: the credential's values go before the text is
        /// shortened, so no cut-off piece of a secret escapes the runner's redaction.
        func scrubbing(_ credential: ResolvedCredential?) -> Failure {
            guard let credential else { return self }
            func scrub(_ text: String) -> String {
                credential.secretValues.filter { $0.count >= 4 }.reduce(text) { $0.replacingOccurrences(of: $1, with: "[REDACTED:\(credential.reference)]") }
            }
            switch self {
            case .unauthorized(let status, let body): return .unauthorized(status, String(scrub(body).prefix(300)))
            case .malformed(let detail): return .malformed(String(scrub(detail).prefix(300)))
            default: return self
            }
        }

        var message: String {
            switch self {
            case .unreachable(let detail): detail
            case .unauthorized(let status, let body): "HTTP \(status): \(body.isEmpty ? "the credential was refused" : body)"
            case .query(let type, let message): "\(type): \(message)"
            case .tooLarge(let limit): "the answer exceeded \(limit / 1024) KiB and was cut off"
            case .malformed(let detail): detail
            }
        }
    }

    let base: String
    let credential: ResolvedCredential?
    let caFile: String?
    let tools: ToolRunner
    let timeoutSeconds: Double
    let maxBytes: Int

    init(context: ProbeContext) throws {
        // `max_bytes` bounds one answer (4 MiB by default).
        let maxBytes = max(1024, context.int("max_bytes") ?? 4 << 20)
        guard let url = context.string("url"), url.hasPrefix("http://") || url.hasPrefix("https://") else {
            throw ProbeError("metrics probes need the Prometheus url (http:// or https://)")
        }
        base = url.hasSuffix("/") ? String(url.dropLast()) : url
        credential = context.credential
        caFile = context.string("ca_file")
        var tools = context.tools
        tools.maxOutputBytes = maxBytes + 16
        self.tools = tools
        timeoutSeconds = context.double("timeout_s") ?? 10
        self.maxBytes = maxBytes
    }

    /// GET `path` with `parameters` (URL-encoded by curl); the `data` member of the answer.
    func get(_ path: String, _ parameters: [(String, String)] = []) async throws(Failure) -> JSONValue {
        let result: ToolResult
        do {
            result = try await tools.run("curl", ["--config", "-"], timeout: .seconds(timeoutSeconds + 2), stdin: Data(config(path, parameters).utf8))
        } catch {
            throw .unreachable("\(error)")
        }
        if result.truncated { throw .tooLarge(limit: maxBytes) }
        guard result.exitCode == 0 else {
            throw .unreachable(Self.curlError(result))
        }
        do {
            return try Self.decode(result.stdout)
        } catch {
            throw error.scrubbing(credential)
        }
    }

    /// An instant query's result (`resultType` vector).
    func query(_ promQL: String, at time: Date? = nil) async throws(Failure) -> [JSONValue] {
        var parameters = [("query", promQL), ("timeout", "\(Int(timeoutSeconds))s")]
        if let time { parameters.append(("time", Self.seconds(time))) }
        return try await get("/api/v1/query", parameters).objectValue?["result"]?.arrayValue ?? []
    }

    /// A range query's series (`resultType` matrix).
    func queryRange(_ promQL: String, start: Date, end: Date, step: Int) async throws(Failure) -> [RangeSeries] {
        let data = try await get("/api/v1/query_range", [
            ("query", promQL), ("start", Self.seconds(start)), ("end", Self.seconds(end)), ("step", "\(step)"), ("timeout", "\(Int(timeoutSeconds))s"),
        ])
        return (data.objectValue?["result"]?.arrayValue ?? []).compactMap(RangeSeries.init)
    }

    static func seconds(_ date: Date) -> String { String(format: "%.3f", date.timeIntervalSince1970) }

    /// curl's config: quoted values with `\` and `"` escaped. The credential goes in here.
    func config(_ path: String, _ parameters: [(String, String)]) -> String {
        func quoted(_ value: String) -> String {
            "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                .replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\r", with: "\\r") + "\""
        }
        var lines = [
            "url = \(quoted(base + path))", "get", "silent", "show-error", "compressed",
            "max-time = \(timeoutSeconds)", "connect-timeout = \(min(timeoutSeconds, 5))",
            "user-agent = \(quoted("sre-diagnose/\(ProductInfo.version)"))",
            // The status on a line of its own after the body.
            "write-out = \(quoted("\n%{http_code}"))",
        ]
        for (name, value) in parameters { lines.append("data-urlencode = \(quoted("\(name)=\(value)"))") }
        if let caFile {
            lines.append("cacert = \(quoted(caFile))")
            if FileManager.default.fileExists(atPath: "/etc/ssl/certs") { lines.append("capath = \"/etc/ssl/certs\"") }
        }
        if let credential {
            if let user = credential.field("username", "user"), let password = credential.field("password") {
                lines.append("user = \(quoted("\(user):\(password)"))")
            } else if let token = credential.field("token", "bearer_token", "value", "password") {
                lines.append("header = \(quoted("Authorization: Bearer \(token)"))")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Body and status from curl's output; Prometheus' own error body when there is one.
    static func decode(_ output: Data) throws(Failure) -> JSONValue {
        guard let newline = output.lastIndex(of: UInt8(ascii: "\n")), let status = Int(String(decoding: output[(newline + 1)...], as: UTF8.self)) else {
            throw .malformed("no HTTP status in curl's output")
        }
        let body = output[..<newline]
        let json = try? JSONDecoder().decode(JSONValue.self, from: body)
        let object = json?.objectValue
        if status == 401 || status == 403 {
            throw .unauthorized(status, String(decoding: body.prefix(4096), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        if let object, object["status"]?.stringValue == "error" {
            throw .query(type: object["errorType"]?.stringValue ?? "error", message: object["error"]?.stringValue ?? "unknown error")
        }
        guard (200..<300).contains(status) else {
            throw .malformed("HTTP \(status): \(String(decoding: body.prefix(4096), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        guard let object, object["status"]?.stringValue == "success", let data = object["data"] else {
            throw .malformed("the answer is not a Prometheus API response")
        }
        return data
    }

    static func curlError(_ result: ToolResult) -> String {
        let message = result.stderrText.trimmingCharacters(in: .whitespacesAndNewlines)
        if result.timedOut { return "no answer in time" }
        let detail = message.isEmpty ? "curl exit \(result.exitCode.map(String.init) ?? "?")" : message.replacingOccurrences(of: "curl: ", with: "")
        let plain: String? = switch result.exitCode ?? -1 {
        case 6: "the host name does not resolve"
        case 7: "connection refused: nothing listens at the URL"
        case 28: "no answer in time"
        case 35, 51, 58, 59, 60, 77, 80, 82, 83, 90, 91: "TLS verification failed"
        default: nil
        }
        return plain.map { "\($0) (\(detail))" } ?? detail
    }
}

/// One series of a range query: its labels and its (time, value) points.
struct RangeSeries: Sendable {
    var labels: [String: String]
    var points: [MetricSeries.Point]

    init?(_ json: JSONValue) {
        guard let object = json.objectValue, let values = object["values"]?.arrayValue else { return nil }
        labels = (object["metric"]?.objectValue ?? [:]).compactMapValues(\.stringValue)
        points = values.compactMap { pair in
            // NaN and ±Inf (a division by zero) are gaps, not values: JSON cannot carry them either.
            guard let items = pair.arrayValue, items.count == 2, let time = items[0].doubleValue, let value = items[1].doubleValue, value.isFinite else { return nil }
            return MetricSeries.Point(time: Date(timeIntervalSince1970: time), value: value)
        }
    }

    init(labels: [String: String], points: [MetricSeries.Point]) {
        self.labels = labels
        self.points = points
    }

    /// `{instance="db:9187", job="postgres"}` without `__name__`.
    var labelText: String {
        let pairs = labels.filter { $0.key != "__name__" }.sorted { $0.key < $1.key }.map { "\($0.key)=\"\($0.value)\"" }
        return pairs.isEmpty ? "" : "{\(pairs.joined(separator: ", "))}"
    }
}
