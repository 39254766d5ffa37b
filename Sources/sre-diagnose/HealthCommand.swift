import ArgumentParser
import DiagnoseClient
import DiagnosisModel
import Foundation

struct HealthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "health", abstract: "Check that the daemon answers.")

    @OptionGroup var connection: ConnectionOptions

    func run() throws {
        let client = try connection.client()
        try reportingErrors {
            let response = try client.send("GET", "/health")
            let health = try APIClient.decode(HealthStatus.self, from: response)
            if connection.json {
                output(String(decoding: response.body, as: UTF8.self))
            } else {
                output("sre-diagnosed \(health.version) at \(client.address): \(health.status), up \(Int(health.uptimeSeconds))s, \(health.activeSessions) active session(s)")
            }
        }
    }
}
