import DiagnosisModel
import Foundation

/// Runner → daemon, first frame: who I am and the one-time token I was given.
public struct Hello: Codable, Sendable, Equatable {
    public var runnerID: String
    public var token: String
    /// The domain it was started for; nil for a warm runner (started before any job).
    public var domain: Domain?
    public var pid: Int32
    public var version: String

    public init(runnerID: String, token: String, domain: Domain?, pid: Int32, version: String) {
        self.runnerID = runnerID
        self.token = token
        self.domain = domain
        self.pid = pid
        self.version = version
    }

    enum CodingKeys: String, CodingKey {
        case runnerID = "runner_id"
        case token, domain, pid, version
    }
}

public struct ProgressUpdate: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable { case started, finished }
    /// Probe request id.
    public var probe: String
    public var state: State
    /// Fraction of the job's probes finished, 0…1.
    public var fraction: Double

    public init(probe: String, state: State, fraction: Double) {
        self.probe = probe
        self.state = state
        self.fraction = fraction
    }
}

public struct LogLine: Codable, Sendable, Equatable {
    public enum Level: String, Codable, Sendable { case debug, info, warning, error }
    public var level: Level
    /// Already redacted by the runner.
    public var message: String
    /// The probe request it is about (`db.postgres#orders-db`), when a probe wrote it.
    public var probe: String?

    public init(level: Level, message: String, probe: String? = nil) {
        self.level = level
        self.message = message
        self.probe = probe
    }
}

public struct Done: Codable, Sendable, Equatable {
    public var outcomes: [ProbeOutcome]
    public var durationMs: Double

    public init(outcomes: [ProbeOutcome], durationMs: Double) {
        self.outcomes = outcomes
        self.durationMs = durationMs
    }

    enum CodingKeys: String, CodingKey {
        case outcomes
        case durationMs = "duration_ms"
    }
}

public struct Cancel: Codable, Sendable, Equatable {
    public var reason: String
    public init(reason: String) { self.reason = reason }
}

public struct ProtocolErrorBody: Codable, Sendable, Equatable {
    public var code: String
    public var message: String
    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }
}

/// Every message of the runner wire protocol (docs/DESIGN.md §3). On the wire each is one JSON object
/// with `"v": 1`, `"type"` and the body's fields.
public enum RunnerMessage: Sendable, Equatable {
    case hello(Hello)
    case job(RunnerJob)
    case progress(ProgressUpdate)
    case finding(Finding)
    case log(LogLine)
    case done(Done)
    case cancel(Cancel)
    case heartbeat
    case error(ProtocolErrorBody)
    /// A `type` this version does not know; ignored with a warning (forward compatibility).
    case unknown(type: String)

    public var type: String {
        switch self {
        case .hello: "hello"
        case .job: "job"
        case .progress: "progress"
        case .finding: "finding"
        case .log: "log"
        case .done: "done"
        case .cancel: "cancel"
        case .heartbeat: "heartbeat"
        case .error: "error"
        case .unknown(let type): type
        }
    }
}

/// JSON ⇄ `RunnerMessage`.
public enum MessageCodec {
    private struct Envelope: Decodable {
        let v: Int?
        let type: String?
    }

    private struct Header: Encodable {
        let v: Int
        let type: String
    }

    static func makeEncoder() -> JSONEncoder { JSONCoding.encoder() }

    static func makeDecoder() -> JSONDecoder { JSONCoding.decoder() }

    /// Encodes a message as a JSON object payload (no length prefix).
    public static func encode(_ message: RunnerMessage) throws -> [UInt8] {
        let encoder = makeEncoder()
        let body: Data
        switch message {
        case .hello(let value): body = try encoder.encode(value)
        case .job(let value): body = try encoder.encode(value)
        case .progress(let value): body = try encoder.encode(value)
        case .finding(let value): body = try encoder.encode(value)
        case .log(let value): body = try encoder.encode(value)
        case .done(let value): body = try encoder.encode(value)
        case .cancel(let value): body = try encoder.encode(value)
        case .error(let value): body = try encoder.encode(value)
        case .heartbeat, .unknown: body = Data("{}".utf8)
        }
        // Splice {"v":1,"type":"…"} in front of the body's own fields.
        var header = Array(try encoder.encode(Header(v: ProductInfo.protocolVersion, type: message.type)))
        let bodyBytes = Array(body)
        if bodyBytes.count > 2 {
            header.removeLast()  // "}"
            header.append(UInt8(ascii: ","))
            header.append(contentsOf: bodyBytes.dropFirst())
        }
        return header
    }

    /// Encodes a message as a complete frame (length prefix + JSON).
    public static func frame(_ message: RunnerMessage, maxFrameBytes: Int = defaultMaxFrameBytes) throws -> [UInt8] {
        try FrameEncoder.frame(encode(message), maxFrameBytes: maxFrameBytes)
    }

    /// Decodes one frame payload. Anything that is not a UTF-8 JSON object with `"v": 1` and a
    /// string `"type"` is a `FrameError`.
    public static func decode(_ payload: [UInt8]) throws(FrameError) -> RunnerMessage {
        guard String(validating: payload, as: UTF8.self) != nil else { throw .notUTF8 }
        let data = Data(payload)
        // Only an object may follow; check the first significant byte before parsing.
        guard payload.first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) == UInt8(ascii: "{") else {
            throw .notJSONObject
        }
        let decoder = makeDecoder()
        let envelope: Envelope
        do {
            envelope = try decoder.decode(Envelope.self, from: data)
        } catch {
            throw .notJSONObject
        }
        guard envelope.v == ProductInfo.protocolVersion else { throw .unsupportedVersion(envelope.v) }
        guard let type = envelope.type else { throw .missingType }
        do {
            switch type {
            case "hello": return .hello(try decoder.decode(Hello.self, from: data))
            case "job": return .job(try decoder.decode(RunnerJob.self, from: data))
            case "progress": return .progress(try decoder.decode(ProgressUpdate.self, from: data))
            case "finding": return .finding(try decoder.decode(Finding.self, from: data))
            case "log": return .log(try decoder.decode(LogLine.self, from: data))
            case "done": return .done(try decoder.decode(Done.self, from: data))
            case "cancel": return .cancel(try decoder.decode(Cancel.self, from: data))
            case "heartbeat": return .heartbeat
            case "error": return .error(try decoder.decode(ProtocolErrorBody.self, from: data))
            default: return .unknown(type: type)
            }
        } catch {
            throw .invalidBody(type: type, reason: Self.describe(error))
        }
    }

    private static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "malformed" }
        switch error {
        case .keyNotFound(let key, _): return "missing \(key.stringValue)"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return "bad value at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        @unknown default: return "malformed"
        }
    }
}
