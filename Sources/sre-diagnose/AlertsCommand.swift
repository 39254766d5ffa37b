import ArgumentParser
import DiagnoseClient
import DiagnosisModel
import Foundation

struct AlertsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alerts",
        abstract: "List recent alert notifications and what became of each (started, added, resolved, attached, unrouted, failed)."
    )

    @Option(name: .long, help: "How many (1–1000).")
    var limit: Int = 20

    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        guard (1...1000).contains(limit) else { throw ValidationError("--limit must be from 1 to 1000") }
    }

    func run() throws {
        let client = try connection.client()
        try reportingErrors {
            let list = try client.alerts(limit: limit)
            if connection.json { return try printJSON(list) }
            if list.records.isEmpty { output("no alert notifications received") }
            for record in list.records {
                let names = Array(Set(record.alerts.map(\.alertname))).sorted().joined(separator: ",")
                let outcome = record.outcome.map { "\($0.kind.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) \($0.sessionID ?? "-")" } ?? "pending"
                output("\(JSONCoding.format(record.receivedAt))  \(record.status.padding(toLength: 8, withPad: " ", startingAt: 0)) \(outcome)  \(names.prefix(50))  \(record.outcome?.detail.prefix(80) ?? "")")
            }
        }
    }
}
