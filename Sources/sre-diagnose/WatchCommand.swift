import ArgumentParser
import DiagnoseClient
import DiagnosisModel
import Foundation

struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Follow a session's events live to its report; resumes after a dropped connection.",
        discussion: "Exit code 0 when the report has no high or critical finding, 2 when it has, 1 on error."
    )

    @Argument(help: "Session id.")
    var sessionID: String

    @Option(name: .long, help: "Start after this event sequence number (default: from the beginning).")
    var after: Int?

    @OptionGroup var connection: ConnectionOptions

    func run() throws {
        let client = try connection.client()
        var code: Int32 = 0
        try reportingErrors {
            code = try SessionFollower(client: client, sessionID: sessionID, json: connection.json, approverToken: nil, prompt: false, after: after).run()
        }
        if code != 0 { throw ExitCode(code) }
    }
}
