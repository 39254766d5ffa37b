import ArgumentParser
import DiagnoseClient
import DiagnosisModel
import Foundation

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show a session's state, domains and findings.")

    @Argument(help: "Session id.")
    var sessionID: String

    @OptionGroup var connection: ConnectionOptions

    func run() throws {
        let client = try connection.client()
        try reportingErrors {
            let status = try client.status(sessionID)
            if connection.json { return try printJSON(status) }
            let terminal = Terminal.current()
            output("\(terminal.paint(status.sessionID, .bold))  \(status.status.rawValue) · \(status.phase.rawValue) \(terminal.bar(status.progress))")
            output("problem: \(status.problem)  (environment \(status.environment))")
            for domain in status.domains {
                var line = "  \(domain.domain.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0)) \(domain.state.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) \(domain.findings) finding(s)"
                if let reason = domain.reason { line += "  \(reason)" }
                output(line)
            }
            if let pending = status.pendingApproval {
                output("approval pending (request \(pending.requestID), expires \(JSONCoding.format(pending.expiresAt))):")
                for item in pending.items { output("  \(item.reference)  \(item.domain.rawValue) — \(item.purpose)") }
                output("approve with: sre-diagnose approve \(status.sessionID)")
            }
            for finding in status.findings.sorted(by: { $0.severity > $1.severity }) {
                output("\(terminal.severity(finding.severity)) \(finding.title)  [\(finding.code) · \(finding.id)]")
            }
            if status.reportAvailable { output("report: sre-diagnose report \(status.sessionID)") }
        }
    }
}
