import ArgumentParser
import DiagnoseClient
import DiagnosisModel
import Foundation

struct ApproveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approve",
        abstract: "Approve (or deny) the credential references a session is waiting for.",
        discussion: "Needs an approver token ($SRE_DIAGNOSE_TOKEN or a 0600 token file). The decision is bound to the request shown."
    )

    @Argument(help: "Session id.")
    var sessionID: String

    @Flag(name: .long, help: "Deny every reference.")
    var deny = false

    @Option(name: .customLong("ref"), parsing: .singleValue, help: "Approve only this reference (repeatable); the rest are denied.")
    var references: [String] = []

    @Option(name: .long, help: "A comment for the audit trail.")
    var comment: String?

    @Option(name: .long, help: "Approver token file (default: $SRE_DIAGNOSE_TOKEN, $SRE_DIAGNOSE_TOKEN_FILE, ~/.config/sre-diagnose/token).")
    var tokenFile: String?

    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        if deny && !references.isEmpty { throw ValidationError("--deny and --ref do not go together") }
    }

    func run() throws {
        var client = try connection.client()
        try reportingErrors {
            guard let token = try ApproverToken.load(file: tokenFile) else {
                throw ClientError.invalidArgument("approving needs an approver token: set SRE_DIAGNOSE_TOKEN or write it to ~/.config/sre-diagnose/token (mode 0600)")
            }
            // Bind the decision to the request being looked at: a newer request makes it a 409.
            let status = try client.status(sessionID)
            guard let pending = status.pendingApproval else {
                throw ClientError.api(status: 409, code: "conflict", message: "no approval is pending for session \(sessionID) (it is \(status.status.rawValue))")
            }
            client.token = token
            let decision = try client.approve(sessionID, ApprovalDecisionRequest(
                approved: !deny, comment: comment, references: references.isEmpty ? nil : references, requestID: pending.requestID
            ))
            if connection.json { return try printJSON(decision) }
            output("\(decision.outcome.rawValue) by \(decision.approver ?? "?")")
            if !decision.approvedReferences.isEmpty { output("  approved: \(decision.approvedReferences.joined(separator: ", "))") }
            if !decision.deniedReferences.isEmpty { output("  not approved: \(decision.deniedReferences.joined(separator: ", "))") }
        }
    }
}
