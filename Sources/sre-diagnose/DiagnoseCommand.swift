import ArgumentParser
import DiagnoseClient
import DiagnosisModel
import Foundation

struct DiagnoseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diagnose",
        abstract: "Start a diagnosis and (on a terminal) follow it live to the report.",
        discussion: "Exit code 0 when the report has no high or critical finding, 2 when it has, 1 on error."
    )

    @Argument(help: "The problem, in words: \"Database connection failures in production\".")
    var problem: String

    @Option(name: .long, help: "Environment from the daemon's inventory (default: the daemon's default).")
    var env: String?

    @Option(name: .long, parsing: .singleValue, help: "Context as key=value (repeatable): --context service=api-gateway.")
    var context: [String] = []

    @Flag(inversion: .prefixedNo, help: "Follow the session live to the report (default: on when stdout is a terminal).")
    var follow: Bool?

    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        guard !problem.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw ValidationError("the problem is empty") }
        for pair in context where !pair.contains("=") || pair.hasPrefix("=") {
            throw ValidationError("--context takes key=value, got \(pair)")
        }
    }

    func run() throws {
        let client = try connection.client()
        var contextValues: [String: String] = [:]
        for pair in context {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            contextValues[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        var code: Int32 = 0
        try reportingErrors {
            // The request goes without the approver token, and there is no approval prompt here:
            // whoever asks never approves their own request (another approver decides, e.g.
            // with `sre-diagnose watch ID` or `sre-diagnose approve ID`).
            let accepted = try client.diagnose(DiagnoseRequest(problem: problem, environment: env, context: contextValues.isEmpty ? nil : contextValues))
            guard follow ?? Terminal.current().isTTY else {
                if connection.json {
                    try printJSON(accepted)
                } else {
                    output(accepted.sessionID)
                    printError("Diagnosis started. Follow it: sre-diagnose watch \(accepted.sessionID)")
                }
                return
            }
            code = try SessionFollower(client: client, sessionID: accepted.sessionID, json: connection.json, approverToken: nil, prompt: false).run()
        }
        if code != 0 { throw ExitCode(code) }
    }
}
