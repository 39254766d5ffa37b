import DiagnosisModel
import Foundation

/// Decides whether a signal changed materially, and when.
///
/// The recent window's median is compared with the baseline's (the stretch just before it);
/// medians, so one odd scrape in either window is not a change. A change is material when the
/// factor is at least `minFactor` *and* the difference stands out of the baseline's own noise
/// (three median absolute deviations), and — when a threshold is set — the recent level is past
/// it. A level signal (saturation) is reported past its threshold even when it did not change:
/// a disk at 97 % for a week still fills up today. The change point is the start of the run of
/// points on the new side of the midway level, walking back from the end and forgiving single
/// stray points, so it lands within one step of the real start.
public struct ChangeDetector: Sendable {
    public enum Direction: String, Sendable { case up, down, either }

    public struct Settings: Sendable {
        public var recent: TimeInterval
        public var baseline: TimeInterval
        public var minFactor: Double
        public var threshold: Double?
        public var direction: Direction
        /// Report at or past `threshold` whether or not it changed.
        public var level: Bool

        public init(recent: TimeInterval = 900, baseline: TimeInterval = 3600, minFactor: Double = 2, threshold: Double? = nil, direction: Direction = .up, level: Bool = false) {
            self.recent = recent
            self.baseline = baseline
            self.minFactor = minFactor
            self.threshold = threshold
            self.direction = direction
            self.level = level
        }
    }

    public struct Change: Sendable, Equatable {
        public var now: Double
        public var baseline: Double
        /// now / baseline (infinite from a zero baseline).
        public var factor: Double
        public var changePoint: Date
        /// The change started before the series does (a level that was always high).
        public var startedBeforeRange: Bool
        public var rising: Bool
    }

    public let settings: Settings

    public init(_ settings: Settings) { self.settings = settings }

    public func detect(_ points: [MetricSeries.Point], end: Date) -> Change? {
        let finite = points.filter { $0.value.isFinite }.sorted { $0.time < $1.time }
        let recentStart = end.addingTimeInterval(-settings.recent)
        let baselineStart = recentStart.addingTimeInterval(-settings.baseline)
        let recent = finite.filter { $0.time > recentStart }.map(\.value)
        let baseline = finite.filter { $0.time > baselineStart && $0.time <= recentStart }.map(\.value)
        guard recent.count >= 2, let now = Self.median(recent) else { return nil }

        if settings.level, let threshold = settings.threshold, now >= threshold {
            let start = Self.runStart(finite, onNewSide: { $0 >= threshold })
            let base = Self.median(baseline) ?? now
            return Change(now: now, baseline: base, factor: base == 0 ? .infinity : now / base, changePoint: start.time, startedBeforeRange: start.atBeginning, rising: now >= base)
        }
        guard baseline.count >= 3, let base = Self.median(baseline) else { return nil }
        let noise = 3 * Self.medianAbsoluteDeviation(baseline, around: base)
        let rising = now > base
        switch settings.direction {
        case .up where !rising, .down where rising: return nil
        default: break
        }
        let factor = base == 0 ? (now == 0 ? 1 : .infinity) : now / base
        let material = rising ? factor >= settings.minFactor : factor <= 1 / settings.minFactor
        guard material, abs(now - base) > noise else { return nil }
        if let threshold = settings.threshold, rising ? now < threshold : now > threshold { return nil }
        let midway = (now + base) / 2
        let start = Self.runStart(finite, onNewSide: { rising ? $0 > midway : $0 < midway })
        return Change(now: now, baseline: base, factor: factor, changePoint: start.time, startedBeforeRange: start.atBeginning, rising: rising)
    }

    /// The first point of the run that reaches the end on the new side, allowing one stray point.
    static func runStart(_ points: [MetricSeries.Point], onNewSide: (Double) -> Bool) -> (time: Date, atBeginning: Bool) {
        guard var index = points.indices.last else { return (Date(), true) }
        var start = index
        var strays = 0
        while index >= points.startIndex {
            if onNewSide(points[index].value) {
                start = index
                strays = 0
            } else {
                strays += 1
                if strays > 1 { break }
            }
            index -= 1
        }
        return (points[start].time, start == points.startIndex)
    }

    static func median(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    static func medianAbsoluteDeviation(_ values: [Double], around center: Double) -> Double {
        median(values.map { abs($0 - center) }) ?? 0
    }
}
