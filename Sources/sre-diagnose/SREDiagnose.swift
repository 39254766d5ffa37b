import ArgumentParser
import DiagnoseClient
import DiagnosisModel
import Foundation

@main
struct SREDiagnose: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sre-diagnose",
        abstract: "Diagnose infrastructure incidents with sre-diagnosed.",
        discussion: """
            Connects to $SRE_DIAGNOSE_URL (default http://127.0.0.1:32100, or unix:/run/sre-diagnose/api.sock).
            Approving needs an approver token: $SRE_DIAGNOSE_TOKEN, or a token file only you can read
            (--token-file, $SRE_DIAGNOSE_TOKEN_FILE, ~/.config/sre-diagnose/token).
            Exit codes: 0 success (no high or critical finding), 2 high or critical findings, 1 error.
            """,
        version: ProductInfo.version,
        subcommands: [
            DiagnoseCommand.self, StatusCommand.self, ApproveCommand.self, SessionsCommand.self, ReportCommand.self,
            WatchCommand.self, AlertsCommand.self, HealthCommand.self, MCPCommand.self,
        ]
    )
}

/// Options every command that talks to the daemon shares.
struct ConnectionOptions: ParsableArguments {
    @Option(name: .long, help: "Daemon address (default: $SRE_DIAGNOSE_URL or http://127.0.0.1:32100; unix:/path for a socket).")
    var url: String?

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    func client() throws -> APIClient {
        do {
            return APIClient(address: try DaemonAddress.resolve(url))
        } catch {
            throw ValidationError(error.description)
        }
    }
}

/// Runs a command body: client errors become one clear line on stderr and exit code 1.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as ClientError {
        printError("sre-diagnose: \(error)")
        throw ExitCode(1)
    } catch let error as EncodingError {
        printError("sre-diagnose: \(error)")
        throw ExitCode(1)
    }
}

/// Prints a value as JSON (sorted keys, the API's date format).
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONCoding.encoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
    output(String(decoding: try encoder.encode(value), as: UTF8.self))
}
