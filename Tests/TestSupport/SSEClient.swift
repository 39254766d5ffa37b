import Foundation

/// One Server-Sent Event.
public struct SSEEvent: Sendable {
    public var id: Int?
    public var event: String
    public var data: String
    public var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: Any] ?? [:] }
}

/// Reads an SSE stream incrementally over a raw socket (handles chunked transfer encoding),
/// so tests can stop mid-stream and resume with `Last-Event-ID`.
public final class SSEClient: @unchecked Sendable {
    let socket: RawSocket
    public private(set) var status = 0
    public private(set) var headers: [String: String] = [:]
    public private(set) var comments = 0
    private var raw = Data()
    private var body = Data()
    private var headerDone = false
    private var chunked = false
    private var ended = false

    public init(_ target: HTTPTarget, path: String, lastEventID: Int? = nil, headers extra: [String: String] = [:], timeout: Double = 20) throws {
        socket = try RawSocket.connect(target, timeout: timeout)
        var head = "GET \(path) HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n"
        if let lastEventID { head += "Last-Event-ID: \(lastEventID)\r\n" }
        for (name, value) in extra { head += "\(name): \(value)\r\n" }
        try socket.write(Data((head + "\r\n").utf8))
        while !headerDone {
            guard let chunk = try socket.readSome() else { throw TestHTTPError.malformed("closed before headers") }
            raw.append(chunk)
            try parseHead()
        }
    }

    private func parseHead() throws {
        guard let split = raw.range(of: Data("\r\n\r\n".utf8)) else { return }
        let text = String(decoding: raw[..<split.lowerBound], as: UTF8.self)
        var lines = text.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        status = statusLine.count > 1 ? Int(statusLine[1]) ?? 0 : 0
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        chunked = headers["transfer-encoding"]?.lowercased() == "chunked"
        raw = Data(raw[split.upperBound...])
        headerDone = true
        decodeBody()
    }

    private func decodeBody() {
        guard chunked else {
            body.append(raw)
            raw.removeAll()
            return
        }
        while let lineEnd = raw.range(of: Data("\r\n".utf8)) {
            let sizeText = String(decoding: raw[raw.startIndex..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else { return }
            if size == 0 {
                ended = true
                raw.removeAll()
                return
            }
            let start = lineEnd.upperBound
            guard raw.distance(from: start, to: raw.endIndex) >= size + 2 else { return }
            let end = raw.index(start, offsetBy: size)
            body.append(raw[start..<end])
            raw = Data(raw[raw.index(end, offsetBy: 2)...])
        }
    }

    /// The next event, or nil when the server ended the stream.
    public func next() throws -> SSEEvent? {
        while true {
            if let split = body.range(of: Data("\n\n".utf8)) {
                let block = String(decoding: body[body.startIndex..<split.lowerBound], as: UTF8.self)
                body = Data(body[split.upperBound...])
                var event = SSEEvent(id: nil, event: "message", data: "")
                var sawField = false
                for line in block.split(separator: "\n", omittingEmptySubsequences: false) {
                    if line.hasPrefix(":") { comments += 1; continue }
                    if line.hasPrefix("id: ") { event.id = Int(line.dropFirst(4)); sawField = true }
                    if line.hasPrefix("event: ") { event.event = String(line.dropFirst(7)); sawField = true }
                    if line.hasPrefix("data: ") { event.data += String(line.dropFirst(6)); sawField = true }
                    if line.hasPrefix("retry: ") { sawField = true }
                }
                if sawField, event.id != nil || !event.data.isEmpty { return event }
                continue
            }
            if ended { return nil }
            guard let chunk = try socket.readSome() else { return nil }
            raw.append(chunk)
            decodeBody()
        }
    }

    /// Every remaining event until the stream ends.
    public func rest() throws -> [SSEEvent] {
        var events: [SSEEvent] = []
        while let event = try next() { events.append(event) }
        return events
    }

    public func close() { socket.close() }
}
