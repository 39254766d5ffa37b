import ArgumentParser
import DiagnoseClient
import DiagnosisModel
import Foundation

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Print a finished session's report.",
        discussion: "Exit code 0 when the report has no high or critical finding, 2 when it has, 1 on error."
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case markdown, json }

    @Argument(help: "Session id.")
    var sessionID: String

    @Option(name: .long, help: "markdown (default) or json.")
    var format: Format = .markdown

    @OptionGroup var connection: ConnectionOptions

    func run() throws {
        let client = try connection.client()
        var code: Int32 = 0
        try reportingErrors {
            let report = try client.report(sessionID)
            if connection.json || format == .json {
                try printJSON(report)
            } else {
                output(try client.reportMarkdown(sessionID))
            }
            code = SessionFollower.exitCode(for: report.findings)
        }
        if code != 0 { throw ExitCode(code) }
    }
}
