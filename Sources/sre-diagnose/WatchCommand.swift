import ArgumentParser
import DiagnoseClient
import DiagnosisModel
import Foundation

struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Follow a session's events live to its report; resumes after a dropped connection. With an approver token on a terminal, decide a pending approval at the prompt.",
        discussion: "Exit code 0 when the report has no high or critical finding, 2 when it has, 1 on error."
    )

    @Argument(help: "Session id.")
    var sessionID: String

    @Option(name: .long, help: "Start after this event sequence number (default: from the beginning).")
    var after: Int?

    @Option(name: .long, help: "Approver token file for the interactive approval prompt (default: SRE_DIAGNOSE_TOKEN, SRE_DIAGNOSE_TOKEN_FILE, ~/.config/sre-diagnose/token).")
    var tokenFile: String?

    @OptionGroup var connection: ConnectionOptions

    func run() throws {
        let client = try connection.client()
        var code: Int32 = 0
        try reportingErrors {
            // An approver watching someone else's session decides at the prompt.
            // An explicit --token-file must be usable; a default one only if it is there.
            let token = tokenFile != nil ? try ApproverToken.load(file: tokenFile) : ((try? ApproverToken.load()) ?? nil)
            code = try SessionFollower(client: client, sessionID: sessionID, json: connection.json, approverToken: token, prompt: true, after: after).run()
        }
        if code != 0 { throw ExitCode(code) }
    }
}
