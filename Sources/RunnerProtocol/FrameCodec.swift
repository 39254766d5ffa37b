/// Why a frame was rejected. Each closes only the connection it arrived on.
public enum FrameError: Error, Sendable, Equatable, CustomStringConvertible {
    case zeroLength
    case oversize(length: Int, max: Int)
    /// The stream ended inside a frame.
    case truncated(have: Int, need: Int)
    case notUTF8
    case notJSONObject
    case missingType
    case unsupportedVersion(Int?)
    case invalidBody(type: String, reason: String)

    /// Machine-readable code for the `error` frame.
    public var code: String {
        switch self {
        case .zeroLength: "zero_length"
        case .oversize: "oversize"
        case .truncated: "truncated"
        case .notUTF8: "not_utf8"
        case .notJSONObject: "not_json_object"
        case .missingType: "missing_type"
        case .unsupportedVersion: "unsupported_version"
        case .invalidBody: "invalid_body"
        }
    }

    public var description: String {
        switch self {
        case .zeroLength: "zero-length frame"
        case .oversize(let length, let max): "frame of \(length) bytes exceeds the \(max)-byte limit"
        case .truncated(let have, let need): "stream ended inside a frame (\(have) of \(need) bytes)"
        case .notUTF8: "frame is not UTF-8"
        case .notJSONObject: "frame is not a JSON object"
        case .missingType: "frame has no \"type\""
        case .unsupportedVersion(let version): "unsupported protocol version \(version.map(String.init) ?? "none")"
        case .invalidBody(let type, let reason): "invalid \(type) frame: \(reason)"
        }
    }
}

/// Default largest frame: 1 MiB.
public let defaultMaxFrameBytes = 1 << 20

/// Splits a byte stream into frames: 4-byte unsigned big-endian length N, then N bytes.
///
/// Incremental (any split of the stream yields the same frames) and never trusts the length: a
/// frame above `maxFrameBytes` is rejected from its header alone, before anything is buffered.
public struct FrameDecoder: Sendable {
    public let maxFrameBytes: Int
    private var buffer: [UInt8] = []
    private var readIndex = 0

    public init(maxFrameBytes: Int = defaultMaxFrameBytes) {
        self.maxFrameBytes = maxFrameBytes
    }

    /// Bytes received but not yet returned as a frame.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    /// The next complete frame's payload, or nil when more bytes are needed.
    public mutating func nextFrame() throws(FrameError) -> [UInt8]? {
        guard bufferedByteCount >= 4 else { compact(); return nil }
        let length = Int(buffer[readIndex]) << 24 | Int(buffer[readIndex + 1]) << 16
            | Int(buffer[readIndex + 2]) << 8 | Int(buffer[readIndex + 3])
        guard length > 0 else { throw .zeroLength }
        guard length <= maxFrameBytes else { throw .oversize(length: length, max: maxFrameBytes) }
        guard bufferedByteCount >= 4 + length else { compact(); return nil }
        let start = readIndex + 4
        let frame = Array(buffer[start..<start + length])
        readIndex = start + length
        compact()
        return frame
    }

    /// Call at end of stream: bytes left over mean the peer stopped inside a frame.
    public func finish() throws(FrameError) {
        let left = bufferedByteCount
        guard left > 0 else { return }
        var need = 4
        if left >= 4 {
            need = 4 + (Int(buffer[readIndex]) << 24 | Int(buffer[readIndex + 1]) << 16
                | Int(buffer[readIndex + 2]) << 8 | Int(buffer[readIndex + 3]))
        }
        throw .truncated(have: left, need: need)
    }

    private mutating func compact() {
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 65536)
            readIndex = 0
        } else if readIndex > 65536 {
            buffer.removeFirst(readIndex)
            readIndex = 0
        }
    }
}

/// Prefixes a payload with its 4-byte big-endian length.
public enum FrameEncoder {
    public static func frame(_ payload: [UInt8], maxFrameBytes: Int = defaultMaxFrameBytes) throws(FrameError) -> [UInt8] {
        guard !payload.isEmpty else { throw .zeroLength }
        guard payload.count <= maxFrameBytes else { throw .oversize(length: payload.count, max: maxFrameBytes) }
        let length = UInt32(payload.count)
        return [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)] + payload
    }
}
