import DiagnosisModel
import Foundation
@testable import Probes
import Testing

/// Change detection on synthetic series, without Prometheus: what counts as material, where the
/// change point lands, and the red herrings that must not count.
@Suite struct ChangeDetectorTests {
    static let end = Date(timeIntervalSince1970: 1_800_000_000)

    /// 3 h of points every 36 s, valued by `value(secondsBeforeEnd)`.
    static func series(_ value: (Double) -> Double) -> [MetricSeries.Point] {
        stride(from: 10800.0, through: 0, by: -36).map { before in MetricSeries.Point(time: end.addingTimeInterval(-before), value: value(before)) }
    }

    @Test func stepUpIsFoundWithinOneStep() throws {
        let points = Self.series { $0 <= 1200 ? 0.08 : 0.002 + ($0.truncatingRemainder(dividingBy: 3)) * 0.0005 }
        let change = try #require(ChangeDetector(.init(threshold: 0.01)).detect(points, end: Self.end))
        #expect(abs(change.changePoint.timeIntervalSince(Self.end.addingTimeInterval(-1200))) <= 36)
        #expect(change.rising && change.factor > 10 && !change.startedBeforeRange)
    }

    @Test func redHerringsAreNotChanges() {
        let detector = ChangeDetector(.init(threshold: 0.01))
        // One odd sample in the baseline, one in the recent window.
        #expect(detector.detect(Self.series { [3000, 3036].contains($0) ? 0.5 : 0.003 }, end: Self.end) == nil)
        #expect(detector.detect(Self.series { $0 == 180 ? 0.5 : 0.003 }, end: Self.end) == nil)
        // A tenfold rise that stays under the threshold (0.01 % → 0.1 % errors).
        #expect(detector.detect(Self.series { $0 <= 600 ? 0.001 : 0.0001 }, end: Self.end) == nil)
        // A noisy flat series.
        #expect(ChangeDetector(.init()).detect(Self.series { 100 + ($0.truncatingRemainder(dividingBy: 7)) * 10 }, end: Self.end) == nil)
    }

    @Test func dropsAreFoundOnlyWhenAsked() throws {
        let points = Self.series { $0 <= 900 ? 5 : 100 }
        #expect(ChangeDetector(.init(direction: .up)).detect(points, end: Self.end) == nil)
        let drop = try #require(ChangeDetector(.init(direction: .either)).detect(points, end: Self.end))
        #expect(!drop.rising && drop.factor < 0.1)
    }

    @Test func levelPastThresholdIsReportedWithoutChange() throws {
        let always = try #require(ChangeDetector(.init(threshold: 0.9, level: true)).detect(Self.series { _ in 0.97 }, end: Self.end))
        #expect(always.startedBeforeRange)
        let crossed = try #require(ChangeDetector(.init(threshold: 0.9, level: true)).detect(Self.series { $0 <= 3600 ? 0.95 : 0.85 }, end: Self.end))
        #expect(!crossed.startedBeforeRange && abs(crossed.changePoint.timeIntervalSince(Self.end.addingTimeInterval(-3600))) <= 36)
        #expect(ChangeDetector(.init(threshold: 0.9, level: true)).detect(Self.series { _ in 0.5 }, end: Self.end) == nil)
    }

    @Test func downsamplingKeepsTheSpike() {
        let points = Self.series { $0 == 5040 ? 9 : 1 }
        let small = MetricSeries.downsample(points)
        #expect(small.count <= 120 && small.contains { $0.value == 9 })
        #expect(MetricSeries(name: "x", points: small).sparkline.count == small.count)
    }

    @Test func alertNamesBecomeTags() {
        #expect(AlertTags.tags(name: "PostgresTooManyConnections", text: "") == ["too_many_clients"])
        #expect(AlertTags.tags(name: "NodeFilesystemAlmostOutOfSpace", text: "") == ["disk_full"])
        #expect(AlertTags.tags(name: "InstanceDown", text: "") == ["connection_refused"])
        #expect(AlertTags.tags(name: "KubePodCrashLooping", text: "").isEmpty)
        #expect(AlertTags.tags(name: "KubeContainerOOMKilled", text: "") == ["oom"])
        #expect(AlertTags.words("OOMKilled") == "oom killed")
        #expect(AlertTags.tags(name: "HighErrorRate", text: "5xx above 5 %").isEmpty)
    }
}
