import DiagnosisModel
import Foundation

/// `metrics.alerts`: firing and pending alerts, one finding per alert name and state.
public struct MetricsAlertsProbe: Probe {
    public static let name = "metrics.alerts"
    public init() {}

    public func run(_ context: ProbeContext) async throws {
        let api = try PrometheusAPI(context: context)
        let data: JSONValue
        do {
            data = try await api.get("/api/v1/alerts")
        } catch {
            await MetricsFailure.report(error, query: "/api/v1/alerts", context: context)
            return
        }
        let alerts = (data.objectValue?["alerts"]?.arrayValue ?? []).compactMap(ActiveAlert.init)
        let groups = Dictionary(grouping: alerts) { "\($0.name)|\($0.state)" }
        for (_, group) in groups.sorted(by: { $0.key < $1.key }) {
            await context.report(Self.finding(group))
        }
        if alerts.isEmpty {
            await context.report(FindingDraft(code: .metricsOK, severity: .ok, target: context.target, title: "No Prometheus alert is firing or pending"))
        }
    }

    static func finding(_ group: [ActiveAlert]) -> FindingDraft {
        let first = group.min { ($0.activeAt ?? .distantFuture) < ($1.activeAt ?? .distantFuture) } ?? group[0]
        let firing = first.state == "firing"
        let since = group.compactMap(\.activeAt).min()
        let subject = Self.subject(group)
        let count = group.count > 1 ? " (\(group.count) alerts)" : ""
        let severity = firing ? first.severity : min(first.severity, .low)
        let summary = first.annotations["summary"] ?? first.annotations["message"] ?? ""
        let description = first.annotations["description"] ?? ""
        let rows = group.prefix(20).map { alert in
            [alert.labelText, alert.state, alert.activeAt.map(JSONCoding.format) ?? "", alert.value ?? "", alert.annotations["summary"] ?? ""]
        }
        return FindingDraft(
            code: firing ? .metricsAlertFiring : .metricsAlertPending, severity: severity,
            target: subject.isEmpty ? first.name : "\(first.name) \(subject)",
            title: "Alert \(first.name) \(firing ? "firing" : "pending")\(subject.isEmpty ? "" : " for \(subject)")\(since.map { " since \(TimeText.clock($0))" } ?? "")\(count)",
            detail: [summary, description].filter { !$0.isEmpty }.joined(separator: " — "),
            evidence: [.table("alerts", columns: ["labels", "state", "first seen", "value", "summary"], rows: rows)],
            remediation: first.annotations["runbook_url"].map { "Runbook: \($0)" } ?? "Follow the alert's runbook; the findings ranked above it say what it points at.",
            tags: AlertTags.tags(name: first.name, text: ([summary, description] + first.labels.values).joined(separator: " ")),
            firstSeen: since
        )
    }

    /// What the alerts are about: the identifying labels they share (service, instance, …).
    static func subject(_ group: [ActiveAlert]) -> String {
        for key in ["service", "instance", "pod", "deployment", "job", "namespace"] {
            let values = Set(group.compactMap { $0.labels[key] })
            if !values.isEmpty { return values.sorted().prefix(3).joined(separator: ", ") }
        }
        return ""
    }
}

/// One entry of `/api/v1/alerts`.
struct ActiveAlert: Sendable {
    var name: String
    var state: String
    var labels: [String: String]
    var annotations: [String: String]
    var activeAt: Date?
    var value: String?

    init?(_ json: JSONValue) {
        guard let object = json.objectValue, let labels = object["labels"]?.objectValue?.compactMapValues(\.stringValue), let name = labels["alertname"] else { return nil }
        self.name = name
        self.labels = labels
        state = object["state"]?.stringValue ?? "firing"
        annotations = object["annotations"]?.objectValue?.compactMapValues(\.stringValue) ?? [:]
        activeAt = object["activeAt"]?.stringValue.flatMap(JSONCoding.parseDate)
        value = object["value"]?.stringValue
    }

    /// The alert's own severity label, in our scale.
    var severity: Severity {
        switch labels["severity"]?.lowercased() ?? "" {
        case "critical", "page", "fatal", "emergency", "p1": .critical
        case "error", "high", "major", "p2": .high
        case "warning", "warn", "medium", "minor", "p3": .medium
        case "info", "low", "notice", "p4", "p5": .low
        default: .medium
        }
    }

    var labelText: String {
        labels.filter { !["alertname", "severity"].contains($0.key) }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }
}

/// The failures an alert's name and text say it is about, as finding tags (the words SREs name
/// alerts with: `PostgresTooManyConnections`, `NodeFilesystemAlmostOutOfSpace`, `InstanceDown`).
enum AlertTags {
    static let rules: [(tag: String, all: [[String]])] = [
        ("too_many_clients", [["connection", "client"], ["too many", "toomany", "exhaust", "saturat", "max", "limit", "out of"]]),
        ("disk_full", [["disk", "filesystem", "volume", "storage", "inode"], ["full", "space", "fill", "usage", "almost", "out of"]]),
        ("oom", [[" oom", "out of memory", "memory limit"]]),
        ("connection_refused", [["down", "unreachable", "refused", "absent", "targetmissing"]]),
        ("tls", [["cert", "tls", "ssl", "x509"]]),
        ("locks", [["lock", "deadlock"]]),
        ("stale_reads", [["replication", "replica"], ["lag", "delay", "behind", "broken"]]),
        ("timeout", [["timeout", "timing out"]]),
    ]

    static func tags(name: String, text: String) -> [String] {
        let haystack = " \(words(name)) \(text.lowercased()) "
        return rules.filter { rule in rule.all.allSatisfy { options in options.contains { haystack.contains($0) } } }.map(\.tag)
    }

    /// `PostgresTooManyConnections` → "postgres too many connections", `OOMKilled` → "oom killed",
    /// `node_disk_full` → "node disk full".
    static func words(_ name: String) -> String {
        let characters = Array(name)
        var result = ""
        for (index, character) in characters.enumerated() {
            let previous = index > 0 ? characters[index - 1] : " "
            let next = index + 1 < characters.count ? characters[index + 1] : " "
            let startsWord = character.isUppercase && (previous.isLowercase || previous.isNumber || (previous.isUppercase && next.isLowercase))
            if startsWord, result.last != " " { result.append(" ") }
            result.append(character == "_" || character == "-" ? " " : character)
        }
        return result.lowercased()
    }
}

/// `metrics.targets`: scrape targets that are down, with the last error and since when.
public struct MetricsTargetsProbe: Probe {
    public static let name = "metrics.targets"
    public init() {}

    public func run(_ context: ProbeContext) async throws {
        let api = try PrometheusAPI(context: context)
        let data: JSONValue
        do {
            data = try await api.get("/api/v1/targets", [("state", "active")])
        } catch {
            await MetricsFailure.report(error, query: "/api/v1/targets", context: context)
            return
        }
        let targets = data.objectValue?["activeTargets"]?.arrayValue ?? []
        let down = targets.compactMap(\.objectValue).filter { $0["health"]?.stringValue == "down" }
        for target in down.prefix(20) {
            let labels = target["labels"]?.objectValue?.compactMapValues(\.stringValue) ?? [:]
            let job = labels["job"] ?? "?"
            let instance = labels["instance"] ?? target["scrapeUrl"]?.stringValue ?? "?"
            let error = target["lastError"]?.stringValue ?? ""
            let lastScrape = target["lastScrape"]?.stringValue.flatMap(JSONCoding.parseDate)
            let since = await Self.downSince(api, job: job, instance: instance)
            await context.report(FindingDraft(
                code: .metricsTargetDown, severity: .high, target: instance,
                title: "Scrape target \(instance) (job \(job)) is down\(since.map { " since \(TimeText.clock($0))" } ?? "")",
                detail: error.isEmpty ? "Prometheus cannot scrape it." : "Last scrape error: \(error)",
                evidence: [.table("target", columns: ["job", "instance", "last error", "last scrape", "first seen"], rows: [[
                    job, instance, error, lastScrape.map(JSONCoding.format) ?? "", since.map(JSONCoding.format) ?? "",
                ]])],
                remediation: "Check that \(instance) is running and listening, and that Prometheus can reach it.",
                tags: Self.tags(error),
                firstSeen: since
            ))
        }
        if down.count > 20 {
            await context.report(FindingDraft(code: .metricsTargetDown, severity: .high, target: context.target, title: "\(down.count - 20) more scrape targets are down", detail: "Only the first 20 are listed one by one."))
        }
        if down.isEmpty {
            await context.report(FindingDraft(code: .metricsOK, severity: .ok, target: context.target, title: "All \(targets.count) scrape targets are up"))
        }
    }

    /// When `up` last turned 0 for the target, from the last hour of samples.
    static func downSince(_ api: PrometheusAPI, job: String, instance: String) async -> Date? {
        let end = Date()
        let quote = SignalQuery.escapeLabelValue
        guard let series = try? await api.queryRange("up{job=\"\(quote(job))\",instance=\"\(quote(instance))\"}", start: end.addingTimeInterval(-3600), end: end, step: 15).first,
              !series.points.isEmpty else { return nil }
        return ChangeDetector.runStart(series.points, onNewSide: { $0 < 0.5 }).time
    }

    static func tags(_ error: String) -> [String] {
        let lower = error.lowercased()
        if lower.contains("connection refused") { return ["connection_refused"] }
        if lower.contains("deadline exceeded") || lower.contains("timeout") || lower.contains("i/o timeout") { return ["timeout"] }
        if lower.contains("no such host") { return ["dns"] }
        if lower.contains("x509") || lower.contains("tls") { return ["tls"] }
        return []
    }
}

/// How a failed call to the metrics backend is reported: never a crash, never a silent skip.
enum MetricsFailure {
    static func report(_ failure: PrometheusAPI.Failure, query: String, context: ProbeContext) async {
        switch failure {
        case .unreachable, .unauthorized:
            await context.report(FindingDraft(
                code: .metricsUnreachable, severity: .high, target: context.string("url") ?? context.target,
                title: "The metrics backend \(context.string("url") ?? "") could not be queried",
                detail: failure.message,
                evidence: [.text("request", query)],
                remediation: failure.isAuth ? "Check the metrics credential (it was refused)." : "Check that Prometheus is up and reachable from the daemon's host."
            ))
        case .query, .tooLarge, .malformed:
            await context.report(FindingDraft(
                code: .metricsQueryFailed, severity: .medium, target: context.target,
                title: "A metrics query failed: \(failure.message.prefix(160))",
                detail: "Prometheus answered: \(failure.message)",
                evidence: [.text("query", query)],
                remediation: "Fix the query in metrics.prometheus.services, or narrow it (fewer series, a shorter range)."
            ))
        }
    }
}

extension PrometheusAPI.Failure {
    var isAuth: Bool {
        if case .unauthorized = self { return true }
        return false
    }
    var stopsEverything: Bool {
        switch self {
        case .unreachable, .unauthorized: true
        default: false
        }
    }
}

/// Times as people read them in a finding title: `14:02 UTC`.
enum TimeText {
    static func clock(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        let parts = calendar.dateComponents([.hour, .minute], from: date)
        return String(format: "%02d:%02d UTC", parts.hour ?? 0, parts.minute ?? 0)
    }
}
