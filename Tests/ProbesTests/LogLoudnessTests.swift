import DiagnosisModel
import Foundation
import Probes
import TestSupport
import Testing

/// Log severity comes from evidence — the level the lines state and whether they started
/// recently — not from the words in them: a chatty steady WARN background never reads `high`,
/// a fresh burst of FATAL lines naming a known failure does.
@Suite struct LogLoudnessTests {
    /// `count` lines spread evenly over the last `minutes` (newest last), ISO timestamps.
    static func lines(_ text: String, count: Int, overMinutes minutes: Double, endingSecondsAgo: Double = 5) -> [String] {
        let now = Date()
        return (0..<count).map { index in
            let age = endingSecondsAgo + minutes * 60 * Double(count - 1 - index) / Double(max(1, count - 1))
            return "\(JSONCoding.format(now.addingTimeInterval(-age))) \(text) request=\(index)"
        }
    }

    static func run(_ lines: [String]) async throws -> ProbeRun {
        let directory = try TestEnvironment.makeTemporaryDirectory("loud")
        defer { directory.remove() }
        _ = try directory.write("app.log", lines.joined(separator: "\n") + "\n")
        return await ProbeHarness.run(LogFileProbe(), target: directory.file("*.log"), params: ["lookback_s": 1800])
    }

    @Test func aSteadyWarningBackgroundIsNoise() async throws {
        // Every half minute for 30 minutes, mentioning a timeout (a known-cause word).
        let run = try await Self.run(Self.lines("WARN cache refresh timeout after 250ms, using stale entry", count: 60, overMinutes: 29))
        let signature = try #require(run.first("logs.error_signature"), "\(run.codes)")
        #expect(signature.severity == .info, "\(signature.severity): \(signature.detail)")
        #expect(signature.detail.contains("steady background"))
        #expect(run.first("logs.error_spike") == nil)
    }

    @Test func aNewBurstOfErrorsNamingAKnownFailureIsHigh() async throws {
        let quiet = Self.lines("INFO request served", count: 20, overMinutes: 25, endingSecondsAgo: 400)
        let burst = Self.lines("FATAL: sorry, too many clients already", count: 40, overMinutes: 3)
        let run = try await Self.run(quiet + burst)
        let signature = try #require(run.first("logs.error_signature"), "\(run.codes)")
        #expect(signature.severity == .high, "\(signature.severity): \(signature.detail)")
        #expect(signature.tags.contains("too_many_clients"))
        #expect(run.first("logs.error_spike")?.severity == .high)
    }

    @Test func aSteadyErrorBackgroundIsLowOrMedium() async throws {
        let steadyUnknown = try await Self.run(Self.lines("ERROR thumbnail generation failed for image", count: 60, overMinutes: 29))
        #expect(steadyUnknown.first("logs.error_signature")?.severity == .low)
        let steadyKnown = try await Self.run(Self.lines("ERROR upstream connection refused by 10.0.0.7:8080", count: 60, overMinutes: 29))
        #expect(steadyKnown.first("logs.error_signature")?.severity == .medium)
    }
}
