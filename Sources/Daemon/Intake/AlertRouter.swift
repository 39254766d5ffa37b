import DiagnosisModel
import Foundation

/// Finds the route of an alert group and what its session is asked: environment, context from
/// the alert's labels, and a problem text from its name and summary.
struct AlertRouter: Sendable {
    struct Routed: Sendable, Equatable {
        var route: String
        var environment: String
        var problem: String
        var context: [String: String]
    }

    let routes: [DaemonConfig.Intake.Route]

    func route(_ payload: AlertmanagerPayload) -> Routed? {
        let labels = payload.routingLabels
        guard let route = routes.first(where: { Self.matches($0, labels) }) else { return nil }
        var context: [String: String] = [:]
        for label in route.contextLabels {
            if let value = labels[label], !value.isEmpty { context[label] = String(value.prefix(1000)) }
        }
        return Routed(route: route.name, environment: route.environment, problem: Self.problem(route.problem, payload, labels), context: context)
    }

    static func matches(_ route: DaemonConfig.Intake.Route, _ labels: [String: String]) -> Bool {
        for (label, value) in route.match where labels[label] != value { return false }
        for (label, pattern) in route.matchRegex {
            guard let value = labels[label], value.range(of: "^(?:\(pattern))$", options: .regularExpression) != nil else { return false }
        }
        return true
    }

    /// Fills `{alertname}`, `{summary}`, `{labels.X}` and `{annotations.X}`.
    static func problem(_ template: String, _ payload: AlertmanagerPayload, _ labels: [String: String]) -> String {
        let names = Array(Set(payload.alerts.compactMap { $0.labels["alertname"] })).sorted()
        let alertname = names.count <= 1 ? (names.first ?? "alert") : "\(names.count) alerts (\(names.prefix(3).joined(separator: ", ")))"
        let summary = payload.annotation("summary") ?? payload.annotation("description") ?? "firing"
        var text = template.replacingOccurrences(of: "{alertname}", with: alertname).replacingOccurrences(of: "{summary}", with: summary)
        for (key, value) in labels { text = text.replacingOccurrences(of: "{labels.\(key)}", with: value) }
        for alert in payload.alerts.prefix(1) {
            for (key, value) in alert.annotations ?? [:] { text = text.replacingOccurrences(of: "{annotations.\(key)}", with: value) }
        }
        // Placeholders nothing filled are left out rather than shown raw.
        text = text.replacingOccurrences(of: #"\{(labels|annotations)\.[A-Za-z0-9_]+\}"#, with: "", options: .regularExpression)
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return String((trimmed.isEmpty ? alertname : trimmed).prefix(4000))
    }
}
