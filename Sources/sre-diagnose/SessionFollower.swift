import ArgumentParser
import DiagnoseClient
import DiagnosisModel
import Foundation

/// Follows a session to its report (`diagnose --follow`, `watch`): live view or JSON lines,
/// the interactive approval prompt when allowed, then the report and the exit code.
struct SessionFollower {
    let client: APIClient
    let sessionID: String
    let json: Bool
    /// Approver token for the interactive prompt; nil means "tell the user how to get it approved".
    let approverToken: String?
    let prompt: Bool
    /// Start after this event sequence number (nil: from the first event).
    var after: Int? = nil

    /// Exit code when the session ends: 0 no high/critical finding, 2 when there are, 1 when the
    /// session failed.
    func run() throws -> Int32 {
        let terminal = Terminal.current()
        let view = LiveView(terminal: terminal)
        var watcher = SessionWatcher(client: client, sessionID: sessionID)
        watcher.onReconnect = { message in printError("sre-diagnose: \(message)") }
        var report: DiagnosisReport?
        let encoder = JSONCoding.encoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        try watcher.run(after: after) { event in
            if json {
                output(String(decoding: try encoder.encode(event), as: UTF8.self))
            } else {
                view.handle(event)
            }
            switch event.body {
            case .approvalRequested(let request):
                if !json { approve(request, view: view) }
            case .report(let final):
                report = final
            default:
                break
            }
            return true
        }
        let status = try client.status(sessionID)
        guard let report else {
            printError("sre-diagnose: session \(sessionID) ended \(status.status.rawValue) without a report")
            return 1
        }
        if !json {
            output("")
            output(ReportMarkdown.render(report))
        }
        if status.status == .failed { return 1 }
        return Self.exitCode(for: report.findings)
    }

    static func exitCode(for findings: [Finding]) -> Int32 {
        findings.contains { $0.severity >= .high } ? 2 : 0
    }

    /// The interactive prompt: approve all, a subset, or deny — only with an approver token and
    /// a person at the terminal. Otherwise say who can approve and how.
    private func approve(_ request: ApprovalRequest, view: LiveView) {
        guard prompt, let approverToken, Terminal.canPrompt else {
            view.emit("Waiting for an approver: sre-diagnose approve \(sessionID)   (or open \(client.address.dashboardURL(session: sessionID)) ; the requester never approves their own request)")
            return
        }
        view.clearBlock()
        output("Approve? [a]ll, [s]ubset, [d]eny, [w]ait for someone else: ", terminator: "")
        guard let answer = readLine()?.trimmingCharacters(in: .whitespaces).lowercased() else { return }
        var decision: ApprovalDecisionRequest
        switch answer.first {
        case "a", "y":
            decision = ApprovalDecisionRequest(approved: true, requestID: request.requestID)
        case "s":
            var chosen: [String] = []
            for item in request.items {
                output("  use \(item.reference) for \(item.domain.rawValue)? [y/N]: ", terminator: "")
                if readLine()?.trimmingCharacters(in: .whitespaces).lowercased().hasPrefix("y") == true { chosen.append(item.reference) }
            }
            decision = chosen.isEmpty
                ? ApprovalDecisionRequest(approved: false, requestID: request.requestID)
                : ApprovalDecisionRequest(approved: true, references: chosen, requestID: request.requestID)
        case "d", "n":
            decision = ApprovalDecisionRequest(approved: false, requestID: request.requestID)
        default:
            view.emit("Not decided here; waiting (sre-diagnose approve \(sessionID)).")
            return
        }
        output("Comment (optional): ", terminator: "")
        if let comment = readLine()?.trimmingCharacters(in: .whitespaces), !comment.isEmpty { decision.comment = comment }
        var approver = client
        approver.token = approverToken
        do {
            _ = try approver.approve(sessionID, decision)
        } catch {
            view.emit("Could not record the decision: \(error)")
        }
    }
}
