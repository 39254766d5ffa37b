import ArgumentParser
import DiagnoseClient
import DiagnosisModel
import Foundation

struct SessionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sessions", abstract: "List recent sessions, newest first.")

    @Option(name: .long, help: "Only sessions in this status (\(SessionStatus.allCases.map(\.rawValue).joined(separator: ", "))).")
    var status: String?

    @Option(name: .long, help: "How many (1–200).")
    var limit: Int = 20

    @Option(name: .long, help: "Continue from a previous page's next_cursor.")
    var cursor: String?

    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        if let status, SessionStatus(rawValue: status) == nil {
            throw ValidationError("--status must be one of \(SessionStatus.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard (1...200).contains(limit) else { throw ValidationError("--limit must be from 1 to 200") }
    }

    func run() throws {
        let client = try connection.client()
        try reportingErrors {
            let list = try client.sessions(status: status.flatMap(SessionStatus.init(rawValue:)), limit: limit, cursor: cursor)
            if connection.json { return try printJSON(list) }
            if list.sessions.isEmpty { output("no sessions") }
            for session in list.sessions {
                let state = session.status.rawValue.padding(toLength: 17, withPad: " ", startingAt: 0)
                output("\(session.sessionID)  \(JSONCoding.format(session.createdAt))  \(state) \(session.environment.padding(toLength: 10, withPad: " ", startingAt: 0)) \(session.problem.prefix(60))")
            }
            if let next = list.nextCursor { output("more: sre-diagnose sessions --cursor \(next)") }
        }
    }
}
