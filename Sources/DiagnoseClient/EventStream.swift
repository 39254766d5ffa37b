import DiagnosisModel
import Foundation

/// One connection to `GET /sessions/{id}/events`: reads Server-Sent Events as they arrive and
/// decodes each into a ``SessionEvent``. Blocking; one reader.
public final class EventStream {
    private let connection: Connection
    private var raw = Data()
    private var body = Data()
    private var chunked = false
    private var finished = false

    /// Connects and reads the response head. `after` is the last sequence already seen
    /// (sent as `Last-Event-ID`, so nothing is repeated or lost). `idleTimeout` must be longer than
    /// the daemon's heartbeat interval (15 s).
    public init(client: APIClient, sessionID: String, after: Int? = nil, idleTimeout: Double = 45) throws(ClientError) {
        connection = try Connection(to: client.address, timeout: idleTimeout)
        let path = "/sessions/\(try APIClient.pathSegment(sessionID))/events"
        try connection.write(client.requestHead("GET", path, body: nil, accept: "text/event-stream", extra: after.map { ["Last-Event-ID": String($0)] } ?? [:]))
        while true {
            guard let chunk = try connection.read() else { throw .io("the daemon closed the event stream before answering") }
            raw.append(chunk)
            guard let split = raw.range(of: Data("\r\n\r\n".utf8)) else { continue }
            let (status, headers) = try HTTPWire.parseHead(raw[..<split.lowerBound])
            let rest = Data(raw[split.upperBound...])
            raw = Data()
            guard status == 200 else {
                var remaining = rest
                while let more = try? connection.read() { remaining.append(more) }
                try APIClient.check(APIResponse(status: status, headers: headers, body: headers["transfer-encoding"] == "chunked" ? HTTPWire.dechunk(remaining) : remaining))
                throw .malformed("event stream answered HTTP \(status)")
            }
            chunked = headers["transfer-encoding"]?.lowercased() == "chunked"
            feed(rest)
            return
        }
    }

    /// The next event, or nil when the daemon ended the stream (after the session's last event).
    public func next() throws(ClientError) -> SessionEvent? {
        while true {
            if let split = body.range(of: Data("\n\n".utf8)) {
                let block = String(decoding: body[body.startIndex..<split.lowerBound], as: UTF8.self)
                body = Data(body[split.upperBound...])
                var data: [String] = []
                for line in block.split(separator: "\n", omittingEmptySubsequences: false) where line.hasPrefix("data:") {
                    data.append(String(line.dropFirst(5).drop { $0 == " " }))
                }
                // Heartbeats are comment-only blocks.
                guard !data.isEmpty else { continue }
                do {
                    return try APIClient.decoder.decode(SessionEvent.self, from: Data(data.joined(separator: "\n").utf8))
                } catch {
                    throw .malformed("event: \(error)")
                }
            }
            if finished { return nil }
            guard let chunk = try connection.read() else {
                finished = true
                continue
            }
            feed(chunk)
        }
    }

    private func feed(_ data: Data) {
        guard chunked else {
            body.append(data)
            return
        }
        raw.append(data)
        while let lineEnd = raw.range(of: Data("\r\n".utf8)) {
            let sizeText = String(decoding: raw[raw.startIndex..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else {
                finished = true
                return
            }
            if size == 0 {
                finished = true
                raw = Data()
                return
            }
            guard raw.distance(from: lineEnd.upperBound, to: raw.endIndex) >= size + 2 else { return }
            let start = lineEnd.upperBound
            let end = raw.index(start, offsetBy: size)
            body.append(raw[start..<end])
            raw = Data(raw[raw.index(end, offsetBy: 2)...])
        }
    }
}

/// Follows a session's events to its end, reconnecting with `Last-Event-ID` when the connection
/// drops (a daemon restart, a proxy timeout), so every event is delivered once, in order.
public struct SessionWatcher {
    public let client: APIClient
    public let sessionID: String
    /// How long to keep trying to reconnect before giving up.
    public var reconnectFor: Double
    /// Called with a human message when the stream dropped and is being resumed.
    public var onReconnect: (String) -> Void = { _ in }

    public init(client: APIClient, sessionID: String, reconnectFor: Double = 30) {
        self.client = client
        self.sessionID = sessionID
        self.reconnectFor = reconnectFor
    }

    /// Delivers events after `after` until the session's report (or its terminal status when it
    /// ended without one). `handle` returns false to stop early.
    public func run(after: Int? = nil, _ handle: (SessionEvent) throws -> Bool) throws {
        var last = after
        var failingSince: Date?
        // A daemon that is down from the start is reported at once; only a drop is retried.
        var connectedOnce = false
        while true {
            do {
                let stream = try EventStream(client: client, sessionID: sessionID, after: last)
                failingSince = nil
                connectedOnce = true
                while let event = try stream.next() {
                    last = event.sequence
                    guard try handle(event) else { return }
                    if case .report = event.body { return }
                }
                // The daemon closes the stream after the last event; a terminal session is done.
                if try client.status(sessionID).status.isTerminal { return }
                onReconnect("the event stream ended early; resuming after event \(last ?? 0)")
            } catch let error as ClientError {
                switch error {
                case .api, .invalidArgument, .malformed: throw error
                case .daemonDown, .io:
                    guard connectedOnce else { throw error }
                    let since = failingSince ?? Date()
                    failingSince = since
                    guard Date().timeIntervalSince(since) < reconnectFor else { throw error }
                    onReconnect("lost the event stream (\(error)); resuming after event \(last ?? 0)")
                    Thread.sleep(forTimeInterval: 0.5)
                }
            }
        }
    }
}
