import DiagnosisModel
import Foundation
import SessionStore

/// Turns a session event into the notifications it causes, one per interested sink, with their
/// bodies built now: from the event as stored — already redacted — so no secret can reach a
/// message, and so a retry sends exactly what was first meant.
struct NotificationComposer: Sendable {
    struct Sink: Sendable {
        var name: String
        var kind: DaemonConfig.Notifications.Sink.Kind
        var events: Set<NotificationKind>
    }

    let sinks: [Sink]
    /// The dashboard's base URL for links.
    let publicURL: String

    init(_ config: DaemonConfig.Notifications, defaultURL: String) {
        sinks = config.sinks.map { Sink(name: $0.name, kind: $0.kind, events: $0.events) }
        publicURL = config.publicURL ?? defaultURL
    }

    var isEmpty: Bool { sinks.isEmpty }

    /// What the event is about, if it is worth telling anyone.
    static func kind(of body: SessionEvent.Body) -> NotificationKind? {
        switch body {
        case .approvalRequested: .approvalRequested
        case .report: .completed
        case .status(let change) where change.status == .failed || change.status == .expired: .failed
        default: nil
        }
    }

    func entries(for event: SessionEvent, record: SessionRecord) -> [OutboxEntry] {
        guard let kind = Self.kind(of: event.body) else { return [] }
        return sinks.filter { $0.events.contains(kind) }.compactMap { sink in
            let deliveryID = "\(record.id)-\(event.sequence)-\(sink.name)"
            let message = NotificationMessage(kind: kind, deliveryID: deliveryID, event: event, record: record, publicURL: publicURL)
            let body = sink.kind == .slack ? message.slackBody() : message.webhookBody()
            guard let data = try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys, .withoutEscapingSlashes]) else { return nil }
            return OutboxEntry(deliveryID: deliveryID, sink: sink.name, kind: kind.rawValue, sessionID: record.id, body: String(decoding: data, as: UTF8.self), createdAt: event.at)
        }
    }
}

/// The words of one notification, for a webhook (JSON) or Slack (Block Kit).
struct NotificationMessage {
    let kind: NotificationKind
    let deliveryID: String
    let event: SessionEvent
    let record: SessionRecord
    let publicURL: String

    var link: String { "\(publicURL)/#session=\(record.id)" }
    var approveCommand: String { "sre-diagnose approve \(record.id)" }

    var headline: String {
        switch (kind, event.body) {
        case (.approvalRequested, _): "Approval needed: \(record.environment) — \(record.problem.prefix(120))"
        case (.completed, .report(let report)):
            report.probableCauses.first.map { "Diagnosis done: \($0.title)" } ?? "Diagnosis done: no problem found (\(record.environment))"
        default: "Diagnosis \(status): \(record.environment) — \(record.problem.prefix(120))"
        }
    }

    var status: String {
        if case .status(let change) = event.body { return change.status.rawValue }
        return kind == .completed ? "completed" : record.status.rawValue
    }

    func webhookBody() -> [String: Any] {
        var body: [String: Any] = [
            "delivery_id": deliveryID, "event": kind.rawValue, "session_id": record.id, "environment": record.environment,
            "problem": record.problem, "context": record.context, "requester": record.requester, "dashboard_url": link,
            "title": headline, "at": JSONCoding.format(event.at),
        ]
        switch event.body {
        case .approvalRequested(let request):
            body["approval"] = [
                "request_id": request.requestID, "expires_at": JSONCoding.format(request.expiresAt), "approve_command": approveCommand,
                "references": request.items.map { ["reference": $0.reference, "domain": $0.domain.rawValue, "probes": $0.probes, "purpose": $0.purpose] },
            ]
        case .report(let report):
            body["report"] = [
                "summary": report.summary,
                "top_causes": report.probableCauses.prefix(3).map { cause -> [String: Any] in
                    var entry: [String: Any] = ["title": cause.title, "confidence": cause.confidence, "codes": cause.codes]
                    if let firstSeen = cause.firstSeen { entry["first_seen"] = JSONCoding.format(firstSeen) }
                    return entry
                },
                "next_steps": Array(report.nextSteps.prefix(3)),
            ]
        case .status(let change):
            body["status"] = change.status.rawValue
            body["message"] = change.message ?? ""
        default:
            break
        }
        return body
    }

    /// Slack's incoming-webhook message: a header, the facts, a button to the dashboard, and for
    /// approval requests the references and the command to approve.
    func slackBody() -> [String: Any] {
        var blocks: [[String: Any]] = [
            ["type": "header", "text": ["type": "plain_text", "text": String(headline.prefix(150)), "emoji": false]],
        ]
        var facts = "*Environment:* \(Self.escape(record.environment))\n*Problem:* \(Self.escape(String(record.problem.prefix(500))))"
        if !record.context.isEmpty {
            facts += "\n*Context:* " + record.context.sorted { $0.key < $1.key }.map { "\(Self.escape($0.key))=\(Self.escape($0.value))" }.joined(separator: ", ")
        }
        blocks.append(section(facts))
        switch event.body {
        case .approvalRequested(let request):
            let references = request.items.map { "• `\(Self.escape($0.reference))` — \(Self.escape($0.domain.rawValue)): \(Self.escape($0.purpose))" }.joined(separator: "\n")
            blocks.append(section("*Credentials requested* (expires \(JSONCoding.format(request.expiresAt))):\n\(references)"))
            blocks.append(section("Approve from a terminal: `\(approveCommand)`"))
        case .report(let report):
            var text = Self.escape(report.summary)
            for (index, cause) in report.probableCauses.prefix(3).enumerated() {
                text += "\n\(index + 1). *\(Self.escape(cause.title))* — \(Int((cause.confidence * 100).rounded())) %"
            }
            blocks.append(section(text))
        case .status(let change):
            blocks.append(section("*Status:* \(change.status.rawValue)" + (change.message.map { " — \(Self.escape($0))" } ?? "")))
        default:
            break
        }
        blocks.append(["type": "actions", "elements": [[
            "type": "button", "text": ["type": "plain_text", "text": kind == .approvalRequested ? "Review and approve" : "Open the report"],
            "url": link, "action_id": "open_session",
        ]]])
        blocks.append(["type": "context", "elements": [["type": "mrkdwn", "text": "sre-diagnose · session \(record.id) · requested by \(Self.escape(record.requester))"]]])
        return ["text": headline, "blocks": blocks]
    }

    func section(_ text: String) -> [String: Any] {
        ["type": "section", "text": ["type": "mrkdwn", "text": String(text.prefix(2900))]]
    }

    /// Slack's mrkdwn control characters.
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
