import ArgumentParser
import DiagnoseClient
import DiagnosisModel
import Foundation

@main
struct SREDiagnose: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sre-diagnose",
        abstract: "Diagnose infrastructure incidents with sre-diagnosed.",
        discussion: "Connects to $SRE_DIAGNOSE_URL (default http://127.0.0.1:32100, or unix:/run/sre-diagnose/api.sock).",
        version: ProductInfo.version,
        subcommands: [HealthCommand.self]
    )
}

/// Options every command that talks to the daemon shares.
struct ConnectionOptions: ParsableArguments {
    @Option(name: .long, help: "Daemon address (default: $SRE_DIAGNOSE_URL or http://127.0.0.1:32100).")
    var url: String?

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    func client() throws -> APIClient {
        let text = url ?? ProcessInfo.processInfo.environment["SRE_DIAGNOSE_URL"] ?? DaemonAddress.defaultURL
        guard let address = DaemonAddress(text) else {
            throw ValidationError("\(text) is not http://HOST:PORT or unix:/path")
        }
        return APIClient(address: address)
    }
}
