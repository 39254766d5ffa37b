import DiagnosisModel
import Foundation

/// Alertmanager's webhook body (version 4); Grafana's alerting webhook sends the same fields
/// (version 1) plus its own, which are ignored.
struct AlertmanagerPayload: Decodable, Sendable {
    struct Alert: Decodable, Sendable {
        var status: String
        var labels: [String: String]
        var annotations: [String: String]?
        var startsAt: String?
        var endsAt: String?
        var generatorURL: String?
        var fingerprint: String?
    }

    var version: String
    var groupKey: String
    var status: String
    var receiver: String
    var groupLabels: [String: String]?
    var commonLabels: [String: String]?
    var commonAnnotations: [String: String]?
    var externalURL: String?
    var alerts: [Alert]

    static let versions: Set<String> = ["4", "1"]
    static let maxAlerts = 1000

    /// Why the payload cannot be taken, or nil.
    var problem: String? {
        guard Self.versions.contains(version) else { return "unsupported webhook version \"\(version.prefix(20))\" (Alertmanager sends 4, Grafana 1)" }
        guard ["firing", "resolved"].contains(status) else { return "status must be firing or resolved" }
        guard !groupKey.isEmpty, groupKey.count <= 2048 else { return "groupKey must be 1 to 2048 characters" }
        guard !alerts.isEmpty else { return "alerts is empty" }
        guard alerts.count <= Self.maxAlerts else { return "more than \(Self.maxAlerts) alerts in one notification" }
        for (index, alert) in alerts.enumerated() {
            guard alert.labels["alertname"] != nil else { return "alerts[\(index)] has no alertname label" }
            guard alert.labels.count <= 100, alert.labels.allSatisfy({ $0.key.count <= 200 && $0.value.count <= 2000 }) else { return "alerts[\(index)] has too many or too long labels" }
        }
        return nil
    }

    /// The labels a route matches on: the group's common labels, completed by the first alert's.
    var routingLabels: [String: String] {
        var labels = alerts.first?.labels ?? [:]
        for (key, value) in groupLabels ?? [:] { labels[key] = value }
        for (key, value) in commonLabels ?? [:] { labels[key] = value }
        return labels
    }

    var summaries: [AlertSummary] {
        alerts.map { alert in
            AlertSummary(
                alertname: alert.labels["alertname"] ?? "?", status: alert.status, labels: alert.labels,
                summary: alert.annotations?["summary"] ?? alert.annotations?["message"],
                startsAt: alert.startsAt.flatMap(JSONCoding.parseDate),
                // Alertmanager sends the zero time for alerts that have not ended.
                endsAt: alert.endsAt.flatMap(JSONCoding.parseDate).flatMap { $0.timeIntervalSince1970 > 0 ? $0 : nil },
                fingerprint: alert.fingerprint, generatorURL: alert.generatorURL
            )
        }
    }

    /// The annotation shared by the group, or the first alert's.
    func annotation(_ name: String) -> String? {
        commonAnnotations?[name] ?? alerts.first?.annotations?[name]
    }
}
