import DiagnosisModel
import Foundation
@testable import RunnerProtocol
import Testing

@Suite struct FrameCodecTests {
    static let sample: [RunnerMessage] = [
        .hello(Hello(runnerID: "r-1", token: "abc", domain: .database, pid: 42, version: "0.1.0")),
        .job(RunnerJob(
            sessionID: "s-1", domain: .network,
            probes: [ProbeRequest(id: "p1", probe: "net.tcp_connect", target: "127.0.0.1:5432", params: ["connect_timeout_s": 2])],
            credentials: ["op://v/i/f": ResolvedCredential(reference: "op://v/i/f", fields: ["value": "s3cr3t"])],
            deadline: Date(timeIntervalSince1970: 1_800_000_000)
        )),
        .progress(ProgressUpdate(probe: "p1", state: .started, fraction: 0.5)),
        .finding(Finding(
            id: "network-1", domain: .network, probe: "net.tcp_connect",
            draft: FindingDraft(code: .netTCPRefused, severity: .high, target: "x:1", title: "refused", evidence: [.text("connect", "ECONNREFUSED"), .table("t", columns: ["a"], rows: [["1"]])]),
            observedAt: Date(timeIntervalSince1970: 1_800_000_000)
        )),
        .log(LogLine(level: .warning, message: "héllo ✓")),
        .done(Done(outcomes: [ProbeOutcome(id: "p1", probe: "net.tcp_connect", status: .timedOut, durationMs: 12.5, error: "slow")], durationMs: 13)),
        .cancel(Cancel(reason: "deadline")),
        .heartbeat,
        .error(ProtocolErrorBody(code: "oversize", message: "too big")),
    ]

    static func stream(_ messages: [RunnerMessage]) throws -> [UInt8] {
        try messages.flatMap { try MessageCodec.frame($0) }
    }

    @Test func everyMessageRoundTrips() throws {
        for message in Self.sample {
            let payload = try MessageCodec.encode(message)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any])
            #expect(object["v"] as? Int == 1)
            #expect(object["type"] as? String == message.type)
            #expect(try MessageCodec.decode(payload) == message)
        }
    }

    @Test func splitReadsAtEveryByteBoundaryYieldTheSameFrames() throws {
        let bytes = try Self.stream(Self.sample)
        for split in 0...bytes.count {
            var decoder = FrameDecoder()
            var decoded: [RunnerMessage] = []
            decoder.append(bytes[..<split])
            while let frame = try decoder.nextFrame() { decoded.append(try MessageCodec.decode(frame)) }
            decoder.append(bytes[split...])
            while let frame = try decoder.nextFrame() { decoded.append(try MessageCodec.decode(frame)) }
            try decoder.finish()
            #expect(decoded == Self.sample, "split at \(split)")
        }
    }

    @Test func byteByByteAndManyFramesInOneRead() throws {
        let many = Array(repeating: Self.sample, count: 50).flatMap { $0 }
        let bytes = try Self.stream(many)
        var whole = FrameDecoder()
        whole.append(bytes)
        var count = 0
        while try whole.nextFrame() != nil { count += 1 }
        #expect(count == many.count)

        var trickle = FrameDecoder()
        var trickled = 0
        for byte in bytes.prefix(4096) {
            trickle.append([byte])
            while try trickle.nextFrame() != nil { trickled += 1 }
        }
        #expect(trickled > 0)
    }

    @Test func zeroLengthFrameIsAnError() {
        var decoder = FrameDecoder()
        decoder.append([0, 0, 0, 0])
        #expect(throws: FrameError.zeroLength) { try decoder.nextFrame() }
    }

    @Test func oversizeIsRejectedFromTheHeaderWithoutBuffering() {
        var decoder = FrameDecoder(maxFrameBytes: 1024)
        decoder.append([0x7F, 0xFF, 0xFF, 0xFF])
        #expect(throws: FrameError.oversize(length: 0x7FFF_FFFF, max: 1024)) { try decoder.nextFrame() }
        #expect(decoder.bufferedByteCount == 4)
        #expect(throws: FrameError.oversize(length: 2000, max: 1024)) { try FrameEncoder.frame(Array(repeating: 1, count: 2000), maxFrameBytes: 1024) }
    }

    @Test func truncatedStreamIsAnErrorAtEnd() throws {
        let frame = try MessageCodec.frame(.heartbeat)
        var decoder = FrameDecoder()
        decoder.append(frame.dropLast())
        #expect(try decoder.nextFrame() == nil)
        #expect(throws: FrameError.truncated(have: frame.count - 1, need: frame.count)) { try decoder.finish() }
        var header = FrameDecoder()
        header.append([0, 0])
        #expect(throws: FrameError.truncated(have: 2, need: 4)) { try header.finish() }
    }

    @Test(arguments: [
        ([0xFF, 0xFE, 0x7B], FrameError.notUTF8),
        (Array("[1,2,3]".utf8), FrameError.notJSONObject),
        (Array("\"hello\"".utf8), FrameError.notJSONObject),
        (Array("{not json".utf8), FrameError.notJSONObject),
        (Array("{\"type\":\"hello\"}".utf8), FrameError.unsupportedVersion(nil)),
        (Array("{\"v\":2,\"type\":\"hello\"}".utf8), FrameError.unsupportedVersion(2)),
        (Array("{\"v\":1}".utf8), FrameError.missingType),
        (Array("{\"v\":1,\"type\":\"hello\",\"token\":\"x\"}".utf8), FrameError.invalidBody(type: "hello", reason: "missing runner_id")),
    ] as [([UInt8], FrameError)])
    func badPayloadsAreErrors(payload: [UInt8], expected: FrameError) {
        #expect(throws: expected) { try MessageCodec.decode(payload) }
    }

    @Test func unknownTypesDecodeAsUnknown() throws {
        #expect(try MessageCodec.decode(Array("{\"v\":1,\"type\":\"telemetry\",\"x\":1}".utf8)) == .unknown(type: "telemetry"))
    }

    /// Random and mutated input never crashes the decoder or makes it buffer past the limit.
    /// Seeded, bounded in iterations (and so in time).
    @Test func fuzzDecoderWithRandomAndMutatedInput() throws {
        var random = SplitMix64(seed: 0x5EED)
        let valid = try Self.stream(Self.sample)
        let limit = 4096
        for iteration in 0..<3000 {
            var bytes: [UInt8]
            if iteration % 2 == 0 {
                bytes = valid
                for _ in 0..<(1 + Int(random.next() % 8)) {
                    let index = Int(random.next() % UInt64(bytes.count))
                    bytes[index] = UInt8(truncatingIfNeeded: random.next())
                }
            } else {
                bytes = (0..<Int(random.next() % 512)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            }
            var decoder = FrameDecoder(maxFrameBytes: limit)
            var offset = 0
            decoding: while offset < bytes.count {
                let chunk = 1 + Int(random.next() % 64)
                decoder.append(bytes[offset..<min(bytes.count, offset + chunk)])
                offset += chunk
                do {
                    while let frame = try decoder.nextFrame() {
                        #expect(frame.count <= limit)
                        _ = try? MessageCodec.decode(frame)
                    }
                } catch {
                    break decoding
                }
                #expect(decoder.bufferedByteCount <= limit + 4 + 64)
            }
        }
    }
}

/// Deterministic generator for reproducible fuzzing.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct JSONCodingTests {
    @Test func datesRoundTripStablyAtMillisecondPrecision() throws {
        var random = SplitMix64(seed: 7)
        for _ in 0..<2000 {
            let date = Date(timeIntervalSince1970: Double(random.next() % 4_000_000_000_000) / 1000 + Double(random.next() % 1000) / 1e6)
            let text = JSONCoding.format(date)
            let parsed = try #require(JSONCoding.parseDate(text))
            #expect(JSONCoding.format(parsed) == text)
            #expect(abs(parsed.timeIntervalSince1970 - date.timeIntervalSince1970) <= 0.0005 + 1e-6)
        }
        #expect(JSONCoding.format(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(JSONCoding.parseDate("2026-11-27T14:02:03Z") == Date(timeIntervalSince1970: 1_795_788_123))
        #expect(JSONCoding.parseDate("yesterday") == nil)
    }
}
