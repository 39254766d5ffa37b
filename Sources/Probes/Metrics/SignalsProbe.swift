import DiagnosisModel
import Foundation

/// A signal to read: a configured one (PromQL from the inventory) or a well-known exporter's.
struct SignalSpec: Sendable {
    var name: String
    var kind: SignalKind
    var query: String
    var unit: String?
    var threshold: Double?
    /// Reported past the threshold whether or not it changed (saturation).
    var level: Bool
    var direction: ChangeDetector.Direction
    var code: FindingCode
    var tags: [String]
    /// The service it belongs to (configured), or nil: the series' labels name the subject.
    var service: String?
    /// Built-in: absent series are normal (the exporter is not deployed), not worth a word.
    var builtin: Bool
    /// Labels that name a series' subject, in order of preference.
    var subjectLabels: [String]

    static func configured(_ object: [String: JSONValue]) -> SignalSpec? {
        guard let kindName = object["kind"]?.stringValue, let kind = SignalKind(rawValue: kindName), let query = object["query"]?.stringValue else { return nil }
        let service = object["service"]?.stringValue
        let threshold = object["threshold"]?.doubleValue
        let code: FindingCode
        let unit: String?
        let direction: ChangeDetector.Direction
        switch kind {
        case .errorRatio: (code, unit, direction) = (.metricsErrorRatio, "ratio", .up)
        case .latencyP99: (code, unit, direction) = (.metricsLatency, "seconds", .up)
        case .saturation: (code, unit, direction) = (.metricsSaturation, "ratio", .up)
        case .traffic: (code, unit, direction) = (.metricsTraffic, "per_second", .either)
        }
        return SignalSpec(
            name: "\(kind.label) of \(service ?? "the service")", kind: kind, query: query,
            unit: object["unit"]?.stringValue ?? unit,
            // An error ratio under 1 % is rarely the incident, however much it grew.
            threshold: threshold ?? (kind == .errorRatio ? 0.01 : kind == .saturation ? 0.9 : nil),
            level: kind == .saturation, direction: direction, code: code, tags: [], service: service, builtin: false,
            subjectLabels: ["service", "instance", "pod", "job"]
        )
    }

    /// Signals of exporters most installations run; used when their series exist.
    static let builtins: [SignalSpec] = [
        SignalSpec(
            name: "file system used", kind: .saturation,
            query: #"1 - min by (instance, mountpoint) (node_filesystem_avail_bytes{fstype!~"tmpfs|ramfs|overlay|squashfs|nsfs|fuse.*"} / node_filesystem_size_bytes{fstype!~"tmpfs|ramfs|overlay|squashfs|nsfs|fuse.*"})"#,
            unit: "ratio", threshold: 0.9, level: true, direction: .up, code: .metricsSaturation, tags: ["disk_full"], service: nil, builtin: true,
            subjectLabels: ["instance", "mountpoint"]
        ),
        SignalSpec(
            name: "memory used", kind: .saturation,
            query: "1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes",
            unit: "ratio", threshold: 0.9, level: true, direction: .up, code: .metricsSaturation, tags: ["memory"], service: nil, builtin: true,
            subjectLabels: ["instance"]
        ),
        SignalSpec(
            name: "CPU pressure (time runnable tasks waited)", kind: .saturation,
            query: "rate(node_pressure_cpu_waiting_seconds_total[5m])",
            unit: "ratio", threshold: 0.5, level: true, direction: .up, code: .metricsSaturation, tags: ["cpu"], service: nil, builtin: true,
            subjectLabels: ["instance"]
        ),
        SignalSpec(
            name: "I/O pressure (time tasks waited for I/O)", kind: .saturation,
            query: "rate(node_pressure_io_waiting_seconds_total[5m])",
            unit: "ratio", threshold: 0.5, level: true, direction: .up, code: .metricsSaturation, tags: ["io"], service: nil, builtin: true,
            subjectLabels: ["instance"]
        ),
        SignalSpec(
            name: "PostgreSQL connections in use", kind: .saturation,
            query: "sum by (instance) (pg_stat_activity_count) / max by (instance) (pg_settings_max_connections)",
            unit: "ratio", threshold: 0.9, level: true, direction: .up, code: .metricsSaturation, tags: ["too_many_clients"], service: nil, builtin: true,
            subjectLabels: ["instance"]
        ),
        SignalSpec(
            name: "PostgreSQL reachable from its exporter (pg_up)", kind: .saturation,
            query: "1 - pg_up",
            unit: nil, threshold: 1, level: true, direction: .up, code: .metricsTargetDown, tags: ["connection_refused"], service: nil, builtin: true,
            subjectLabels: ["instance"]
        ),
        SignalSpec(
            name: "container restarts in 10 min", kind: .saturation,
            query: "sum by (namespace, pod) (increase(kube_pod_container_status_restarts_total[10m]))",
            unit: nil, threshold: 3, level: true, direction: .up, code: .metricsRestarts, tags: [], service: nil, builtin: true,
            subjectLabels: ["namespace", "pod"]
        ),
        SignalSpec(
            name: "containers last terminated OOMKilled", kind: .saturation,
            query: #"max by (namespace, pod) (kube_pod_container_status_last_terminated_reason{reason="OOMKilled"})"#,
            unit: nil, threshold: 1, level: true, direction: .up, code: .metricsRestarts, tags: ["oom"], service: nil, builtin: true,
            subjectLabels: ["namespace", "pod"]
        ),
    ]
}

/// `metrics.signals`: golden signals with change detection — the recent window against the
/// baseline before it, reported only when the change is material, with its change point (the
/// finding's first-seen time) and the series for a chart.
public struct MetricsSignalsProbe: Probe {
    public static let name = "metrics.signals"
    public init() {}

    /// At most this many series of one query are examined; the rest are counted.
    static let maxSeries = 20
    static let maxPointsPerQuery = 300
    static let parallelQueries = 6

    struct Outcome: Sendable {
        var spec: SignalSpec
        var series: [RangeSeries] = []
        var dropped = 0
        var dayBefore: [String: Double] = [:]
        var failure: PrometheusAPI.Failure?
    }

    public func run(_ context: ProbeContext) async throws {
        let api = try PrometheusAPI(context: context)
        var specs = (context.request.params["signals"]?.arrayValue ?? []).compactMap(\.objectValue).compactMap(SignalSpec.configured)
        if context.bool("builtin") ?? true { specs += SignalSpec.builtins }
        guard !specs.isEmpty else {
            await context.report(FindingDraft(code: .metricsOK, severity: .ok, target: context.target, title: "No signal is configured and built-in signals are off"))
            return
        }
        let window = Window(context)
        let outcomes = await Self.read(specs, api: api, window: window)
        if let failure = outcomes.lazy.compactMap(\.failure).first(where: \.stopsEverything) {
            await MetricsFailure.report(failure, query: "/api/v1/query_range", context: context)
            return
        }
        var reported = 0
        var examined: [[String]] = []
        for outcome in outcomes {
            if let failure = outcome.failure {
                await MetricsFailure.report(failure, query: outcome.spec.query, context: context)
                reported += 1
                continue
            }
            if outcome.series.isEmpty {
                if !outcome.spec.builtin { examined.append([outcome.spec.name, "no data", outcome.spec.query]) }
                continue
            }
            let detector = ChangeDetector(window.settings(for: outcome.spec, minFactor: context.double("min_factor") ?? 2))
            for series in outcome.series {
                let last = series.points.last.map { MetricSeries.format($0.value, unit: outcome.spec.unit) } ?? "–"
                examined.append([Self.subject(outcome.spec, series), last, outcome.spec.name])
                guard let change = detector.detect(series.points, end: window.end) else { continue }
                await context.report(Self.finding(outcome.spec, series, change, window: window, dayBefore: outcome.dayBefore[series.labelText]))
                reported += 1
            }
            if outcome.dropped > 0 {
                examined.append([outcome.spec.name, "\(outcome.dropped) more series not examined (limit \(Self.maxSeries))", outcome.spec.query])
            }
        }
        if reported == 0 {
            await context.report(FindingDraft(
                code: .metricsOK, severity: .ok, target: context.target,
                title: "No material change in \(examined.count) signal series over the last \(window.recent / 60) min",
                evidence: examined.isEmpty ? [] : [.table("signals", columns: ["series", "now", "signal"], rows: Array(examined.prefix(40)))]
            ))
        }
    }

    /// The range and windows, from the parameters.
    struct Window: Sendable {
        var end: Date
        var range: Int
        var recent: Int
        var baseline: Int
        var step: Int
        var dayBefore: Bool

        init(_ context: ProbeContext) {
            range = max(context.int("range_s") ?? 10800, 300)
            recent = max(context.int("recent_s") ?? 900, 60)
            baseline = max(context.int("baseline_s") ?? 3600, 60)
            dayBefore = context.bool("day_before") ?? false
            // At most 300 points per series, never finer than 5 s.
            step = max(5, Int((Double(range) / Double(MetricsSignalsProbe.maxPointsPerQuery)).rounded(.up)))
            // Aligned to the step, so repeated runs ask for the same points (and caches help).
            let now = Date().timeIntervalSince1970
            end = Date(timeIntervalSince1970: (now / Double(step)).rounded(.down) * Double(step))
        }

        var start: Date { end.addingTimeInterval(-Double(range)) }

        func settings(for spec: SignalSpec, minFactor: Double) -> ChangeDetector.Settings {
            ChangeDetector.Settings(recent: Double(recent), baseline: Double(baseline), minFactor: minFactor, threshold: spec.threshold, direction: spec.direction, level: spec.level)
        }
    }

    /// Runs the range queries a few at a time — after the first alone, so a backend that is down
    /// or refuses the credential is asked once, not once per signal.
    static func read(_ specs: [SignalSpec], api: PrometheusAPI, window: Window) async -> [Outcome] {
        guard let first = specs.first else { return [] }
        let probe = await read(first, api: api, window: window)
        if probe.failure?.stopsEverything == true { return [probe] }
        let rest = await withTaskGroup(of: (Int, Outcome).self) { group in
            var next = 1
            var results: [Int: Outcome] = [:]
            func add() {
                guard next < specs.count else { return }
                let index = next
                next += 1
                group.addTask { (index, await Self.read(specs[index], api: api, window: window)) }
            }
            for _ in 0..<parallelQueries { add() }
            for await (index, outcome) in group {
                results[index] = outcome
                add()
            }
            return specs.indices.compactMap { results[$0] }
        }
        return [probe] + rest
    }

    static func read(_ spec: SignalSpec, api: PrometheusAPI, window: Window) async -> Outcome {
        var outcome = Outcome(spec: spec)
        do {
            let series = try await api.queryRange(spec.query, start: window.start, end: window.end, step: window.step)
            outcome.series = Array(series.prefix(maxSeries))
            outcome.dropped = max(0, series.count - maxSeries)
            if window.dayBefore, !outcome.series.isEmpty {
                let day = 86400.0
                let earlier = try await api.queryRange(spec.query, start: window.end.addingTimeInterval(-day - Double(window.recent)), end: window.end.addingTimeInterval(-day), step: window.step)
                for series in earlier.prefix(maxSeries) {
                    outcome.dayBefore[series.labelText] = ChangeDetector.median(series.points.map(\.value).filter(\.isFinite))
                }
            }
        } catch {
            outcome.failure = error
        }
        return outcome
    }

    /// Who the series is about: the configured service, or its identifying labels.
    static func subject(_ spec: SignalSpec, _ series: RangeSeries) -> String {
        let parts = spec.subjectLabels.compactMap { series.labels[$0] }
        if let service = spec.service { return parts.isEmpty || spec.subjectLabels.first.flatMap({ series.labels[$0] }) == service ? service : "\(service) \(parts.joined(separator: " "))" }
        return parts.isEmpty ? series.labelText : parts.joined(separator: " ")
    }

    static func finding(_ spec: SignalSpec, _ series: RangeSeries, _ change: ChangeDetector.Change, window: Window, dayBefore: Double?) -> FindingDraft {
        let subject = subject(spec, series)
        let unit = spec.unit
        let now = MetricSeries.format(change.now, unit: unit)
        let base = MetricSeries.format(change.baseline, unit: unit)
        let start = change.startedBeforeRange ? "before \(TimeText.clock(window.start))" : "started \(TimeText.clock(change.changePoint))"
        let factor = change.factor.isFinite ? String(format: "×%.1f", change.factor) : "from zero"
        let title: String
        if spec.level, let threshold = spec.threshold, change.now >= threshold, change.factor < 2 || !change.rising {
            title = "\(spec.name) of \(subject) at \(now) (threshold \(MetricSeries.format(threshold, unit: unit))), \(start)"
        } else {
            title = "\(spec.name.prefix(1).uppercased() + spec.name.dropFirst()) \(spec.service == nil ? "of \(subject) " : "")\(now) vs \(base) baseline (\(factor)), \(start)"
        }
        var rows = [[subject, now, base, factor, JSONCoding.format(change.changePoint)]]
        var columns = ["series", "now", "baseline", "factor", "first seen"]
        if let dayBefore {
            columns.append("a day earlier")
            rows[0].append(MetricSeries.format(dayBefore, unit: unit))
        }
        let severity: Severity = {
            if spec.code == .metricsTargetDown { return .high }
            if let threshold = spec.threshold, threshold > 0, change.now >= threshold * (spec.level ? 1.05 : 5) { return .high }
            if change.factor >= 10 || (spec.kind == .traffic && change.factor <= 0.1) { return .high }
            return .medium
        }()
        return FindingDraft(
            code: spec.code, severity: severity, target: subject, title: title,
            detail: "\(spec.name) \(change.rising ? "rose" : "fell") from a median of \(base) (the \(window.baseline / 60) min before) to \(now) (the last \(window.recent / 60) min).",
            evidence: [.table("signal", columns: columns, rows: rows), .text("query", spec.query)],
            remediation: remediation(spec),
            tags: spec.tags + (change.rising ? [] : ["drop"]),
            firstSeen: change.changePoint,
            series: MetricSeries(
                name: "\(spec.name) — \(subject)", unit: unit, points: MetricSeries.downsample(series.points),
                changePoint: change.changePoint, threshold: spec.threshold, baseline: change.baseline
            )
        )
    }

    static func remediation(_ spec: SignalSpec) -> String {
        switch spec.code {
        case .metricsErrorRatio: "Look at what changed when the errors began: deploys, dependencies (the findings ranked above), saturation."
        case .metricsLatency: "Find where the time goes: the slowest dependency (database locks, long queries), saturation, retries."
        case .metricsTraffic: "A traffic change this large is either the cause (a surge, a retry storm) or a symptom (clients that can no longer reach the service)."
        case .metricsRestarts: "Read the restarting containers' last logs and termination reasons (kubectl describe pod)."
        case .metricsTargetDown: "The exporter cannot reach what it watches: check that the service is up."
        default: "Free the resource (space, memory, connections) or add capacity; find what consumes it."
        }
    }
}
