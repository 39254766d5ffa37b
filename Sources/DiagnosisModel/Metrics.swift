import Foundation

/// `environments.<name>.metrics`: where the environment's metrics live. Names, queries and a
/// credential *reference* only.
public struct MetricsInventory: Codable, Sendable, Equatable {
    public var prometheus: PrometheusSource

    public init(prometheus: PrometheusSource) { self.prometheus = prometheus }
}

/// Any backend that speaks the Prometheus HTTP API (Prometheus, Thanos, Mimir, VictoriaMetrics).
public struct PrometheusSource: Codable, Sendable, Equatable {
    public var url: String
    /// A bearer token (`token`/`value` field) or `username` + `password`.
    public var credential: String?
    public var caFile: String?
    /// Per service name, the PromQL of its signals.
    public var services: [ServiceSignals]
    /// Whether the well-known exporters' signals (node, postgres, kube-state-metrics) are tried.
    public var builtinSignals: Bool
    public var window: SignalWindow

    public init(url: String, credential: String? = nil, caFile: String? = nil, services: [ServiceSignals] = [], builtinSignals: Bool = true, window: SignalWindow = SignalWindow()) {
        self.url = url
        self.credential = credential
        self.caFile = caFile
        self.services = services
        self.builtinSignals = builtinSignals
        self.window = window
    }

    enum CodingKeys: String, CodingKey {
        case url, credential, services, window
        case caFile = "ca_file"
        case builtinSignals = "builtin_signals"
    }
}

/// How far back a signal is read and which stretches are compared: the recent window against
/// the baseline just before it (and, optionally, the same window a day earlier).
public struct SignalWindow: Codable, Sendable, Equatable {
    public var rangeSeconds: Int
    public var recentSeconds: Int
    public var baselineSeconds: Int
    public var compareDayBefore: Bool

    public init(rangeSeconds: Int = 3 * 3600, recentSeconds: Int = 900, baselineSeconds: Int = 3600, compareDayBefore: Bool = false) {
        self.rangeSeconds = rangeSeconds
        self.recentSeconds = recentSeconds
        self.baselineSeconds = baselineSeconds
        self.compareDayBefore = compareDayBefore
    }

    enum CodingKeys: String, CodingKey {
        case rangeSeconds = "range_s", recentSeconds = "recent_s", baselineSeconds = "baseline_s", compareDayBefore = "day_before"
    }
}

/// One service's signals.
public struct ServiceSignals: Codable, Sendable, Equatable {
    public var service: String
    public var signals: [SignalQuery]

    public init(service: String, signals: [SignalQuery]) {
        self.service = service
        self.signals = signals
    }
}

/// The four golden signals.
public enum SignalKind: String, Codable, Sendable, CaseIterable {
    case errorRatio = "error_ratio", latencyP99 = "latency_p99", saturation, traffic

    /// How people say it.
    public var label: String {
        switch self {
        case .errorRatio: "error ratio"
        case .latencyP99: "p99 latency"
        case .saturation: "saturation"
        case .traffic: "traffic"
        }
    }
}

/// A PromQL query for one signal. Placeholders `{service}`, `{namespace}`, `{instance}` are
/// filled from the request's context; one that the context does not give becomes `.*`, so write
/// them inside regex matchers (`instance=~"{instance}"`).
public struct SignalQuery: Codable, Sendable, Equatable {
    public var kind: SignalKind
    public var query: String
    /// The level that matters (an error ratio of 0.01): a change is reported only beyond it, and
    /// saturation is reported beyond it even when it did not change.
    public var threshold: Double?
    /// What the numbers are: `ratio`, `seconds`, `bytes`, `per_second`, or empty.
    public var unit: String?

    public init(kind: SignalKind, query: String, threshold: Double? = nil, unit: String? = nil) {
        self.kind = kind
        self.query = query
        self.threshold = threshold
        self.unit = unit
    }

    /// The query with its placeholders filled (`values` by placeholder name, without braces).
    public func filled(_ values: [String: String]) -> SignalQuery {
        var copy = self
        for name in ["service", "namespace", "instance"] {
            copy.query = copy.query.replacingOccurrences(of: "{\(name)}", with: values[name].map(Self.escapeLabelValue) ?? ".*")
        }
        return copy
    }

    /// A context value inside a PromQL string literal: quotes and backslashes escaped.
    public static func escapeLabelValue(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }
}

/// A time series a finding carries so people can look rather than read: at most 120 points,
/// with the change point and the threshold.
public struct MetricSeries: Codable, Sendable, Equatable {
    public struct Point: Codable, Sendable, Equatable {
        public var time: Date
        public var value: Double

        public init(time: Date, value: Double) {
            self.time = time
            self.value = value
        }

        enum CodingKeys: String, CodingKey { case time = "t", value = "v" }
    }

    /// What is drawn, e.g. `error ratio of checkout`.
    public var name: String
    public var unit: String?
    public var points: [Point]
    public var changePoint: Date?
    public var threshold: Double?
    public var baseline: Double?

    public init(name: String, unit: String? = nil, points: [Point], changePoint: Date? = nil, threshold: Double? = nil, baseline: Double? = nil) {
        self.name = name
        self.unit = unit
        self.points = points
        self.changePoint = changePoint
        self.threshold = threshold
        self.baseline = baseline
    }

    enum CodingKeys: String, CodingKey {
        case name, unit, points, threshold, baseline
        case changePoint = "change_point"
    }

    public static let maxPoints = 120

    /// Every `n`-th point's bucket reduced to its extreme (the point farthest from the bucket's
    /// mean), so a spike survives downsampling; at most ``maxPoints``.
    public static func downsample(_ points: [Point], to limit: Int = maxPoints) -> [Point] {
        guard points.count > limit, limit > 0 else { return points }
        let size = Int((Double(points.count) / Double(limit)).rounded(.up))
        return stride(from: 0, to: points.count, by: size).compactMap { start in
            let bucket = points[start..<min(start + size, points.count)]
            let mean = bucket.map(\.value).reduce(0, +) / Double(bucket.count)
            guard let extreme = bucket.max(by: { abs($0.value - mean) < abs($1.value - mean) }) else { return nil }
            return Point(time: bucket[bucket.startIndex].time, value: extreme.value)
        }
    }

    /// A Unicode sparkline of the points (`▁▂▃▅▇█`).
    public var sparkline: String {
        let values = points.map(\.value).filter(\.isFinite)
        guard let low = values.min(), let high = values.max() else { return "" }
        let bars = Array("▁▂▃▄▅▆▇█")
        return String(values.map { value in
            high == low ? bars[0] : bars[min(bars.count - 1, Int((value - low) / (high - low) * Double(bars.count - 1) + 0.5))]
        })
    }

    public func mapStrings(_ transform: (String) -> String) -> MetricSeries {
        var copy = self
        copy.name = transform(name)
        copy.unit = unit.map(transform)
        return copy
    }

    /// A value in its unit, for people: 8.3 %, 420 ms, 1.2 GB, 35/s.
    public static func format(_ value: Double, unit: String?) -> String {
        guard value.isFinite else { return String(value) }
        switch unit {
        case "ratio": return String(format: value < 0.1 ? "%.2f %%" : "%.1f %%", value * 100)
        case "seconds": return value < 1 ? String(format: "%.0f ms", value * 1000) : String(format: "%.2f s", value)
        case "bytes":
            let units = ["B", "KB", "MB", "GB", "TB"]
            var scaled = value
            var index = 0
            while abs(scaled) >= 1000, index < units.count - 1 {
                scaled /= 1000
                index += 1
            }
            return String(format: index == 0 ? "%.0f " : "%.1f ", scaled) + units[index]
        case "per_second": return String(format: abs(value) < 10 ? "%.2f/s" : "%.0f/s", value)
        default: return abs(value) >= 100 || value == value.rounded() ? String(format: "%.0f", value) : String(format: "%.3g", value)
        }
    }
}
