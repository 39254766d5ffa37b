import ArgumentParser
import DiagnoseClient
import DiagnoseMCP
import Foundation

struct MCPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp",
        abstract: "Serve the Model Context Protocol on stdin/stdout for IDE agents (Cursor, Claude, …).",
        discussion: "Tools: diagnose, get_status, get_report, list_sessions, list_environments. There is no approve tool: a human approves credential use."
    )

    @Option(name: .long, help: "Daemon address (default: $SRE_DIAGNOSE_URL or http://127.0.0.1:32100; unix:/path for a socket).")
    var url: String?

    func run() async throws {
        let address: DaemonAddress
        do { address = try DaemonAddress.resolve(url) } catch { throw ValidationError(error.description) }
        // Never an approver token here, whatever the environment holds.
        try await DiagnoseMCPServer(client: APIClient(address: address, token: nil)).run()
    }
}
