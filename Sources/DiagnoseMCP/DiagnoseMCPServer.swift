import DiagnoseClient
import DiagnosisModel
import Foundation
import MCP

/// `sre-diagnose mcp`: a stdio MCP server that lets an IDE agent start and read diagnoses.
///
/// There is deliberately no approve tool, and the server never loads an approver token: an agent
/// cannot approve its own credential request. When a diagnosis waits for approval, the tool
/// result says exactly what to ask the human to do.
public struct DiagnoseMCPServer: Sendable {
    let client: APIClient
    /// How long `diagnose` waits for the plan and the approval request (or the report).
    let planWait: Double

    public init(client: APIClient, planWait: Double = 20) {
        var client = client
        client.token = nil
        self.client = client
        self.planWait = planWait
    }

    /// Serves on standard input/output until the client disconnects. Nothing else may write to stdout.
    public func run() async throws {
        let server = Server(
            name: "sre-diagnose", version: ProductInfo.version,
            instructions: "Start infrastructure diagnoses with `diagnose`, then read them with `get_status` and `get_report`. Credential use needs a human's approval outside this server: relay the approval instructions to the user.",
            capabilities: .init(tools: .init(listChanged: false))
        )
        await server.withMethodHandler(ListTools.self) { _ in .init(tools: Self.tools) }
        await server.withMethodHandler(CallTool.self) { params in
            await self.call(params.name, params.arguments ?? [:])
        }
        try await server.start(transport: StdioTransport())
        await server.waitUntilCompleted()
    }

    // MARK: Tools

    static let sessionIDSchema: Value = .object(["type": "string", "description": "The session id diagnose returned."])

    public static let tools: [Tool] = [
        Tool(
            name: "diagnose",
            description: "Start diagnosing an infrastructure problem (database, cloud, Kubernetes, logs, network/host). Returns the session id, the plan, and — when credentials are needed — what the human must approve and how. You cannot approve credentials yourself.",
            inputSchema: .object([
                "type": "object",
                "properties": .object([
                    "problem": .object(["type": "string", "description": "The problem in words, e.g. \"Database connection failures in production\"."]),
                    "environment": .object(["type": "string", "description": "Environment name from list_environments (optional)."]),
                    "context": .object(["type": "object", "description": "Context such as {\"service\": \"api-gateway\"}.", "additionalProperties": .object(["type": "string"])]),
                ]),
                "required": .array(["problem"]),
            ]),
            annotations: .init(title: "Start a diagnosis", readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true)
        ),
        Tool(
            name: "get_status",
            description: "A diagnosis session's state, phase, progress, domains, findings so far and any pending approval.",
            inputSchema: .object(["type": "object", "properties": .object(["session_id": sessionIDSchema]), "required": .array(["session_id"])]),
            annotations: .init(title: "Session status", readOnlyHint: true, openWorldHint: false)
        ),
        Tool(
            name: "get_report",
            description: "The finished diagnosis report in Markdown: probable causes ranked with evidence, what was ruled out, limitations and next steps.",
            inputSchema: .object(["type": "object", "properties": .object(["session_id": sessionIDSchema]), "required": .array(["session_id"])]),
            annotations: .init(title: "Diagnosis report", readOnlyHint: true, openWorldHint: false)
        ),
        Tool(
            name: "list_sessions",
            description: "Recent diagnosis sessions, newest first.",
            inputSchema: .object([
                "type": "object",
                "properties": .object([
                    "status": .object(["type": "string", "enum": .array(SessionStatus.allCases.map { .string($0.rawValue) })]),
                    "limit": .object(["type": "integer", "minimum": 1, "maximum": 200]),
                ]),
            ]),
            annotations: .init(title: "List sessions", readOnlyHint: true, openWorldHint: false)
        ),
        Tool(
            name: "list_environments",
            description: "Environments the daemon can diagnose, with their domains, targets and the credential references they would need (never secrets).",
            inputSchema: .object(["type": "object", "properties": .object([:])]),
            annotations: .init(title: "List environments", readOnlyHint: true, openWorldHint: false)
        ),
    ]

    func call(_ name: String, _ arguments: [String: Value]) async -> CallTool.Result {
        do {
            return try await Blocking.run { () throws -> CallTool.Result in
                switch name {
                case "diagnose": return try diagnose(arguments)
                case "get_status": return try status(try Self.sessionID(arguments))
                case "get_report": return try report(try Self.sessionID(arguments))
                case "list_sessions": return try sessions(arguments)
                case "list_environments": return try environments()
                default: return .init(content: [.text(text: "unknown tool \(name)", annotations: nil, _meta: nil)], isError: true)
                }
            }
        } catch {
            return .init(content: [.text(text: "sre-diagnose: \(error)", annotations: nil, _meta: nil)], isError: true)
        }
    }

    func diagnose(_ arguments: [String: Value]) throws -> CallTool.Result {
        guard let problem = arguments["problem"]?.stringValue, !problem.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw ClientError.invalidArgument("problem is required: describe what is wrong")
        }
        var context: [String: String]?
        if let object = arguments["context"]?.objectValue {
            context = object.compactMapValues { $0.stringValue ?? ($0.intValue.map(String.init)) }
        }
        let accepted = try client.diagnose(DiagnoseRequest(problem: problem, environment: arguments["environment"]?.stringValue, context: context))
        let id = accepted.sessionID

        // Wait for the plan and the approval request (or the end), so the answer says what happens next.
        var plan: DiagnosisPlan?
        var approval: ApprovalRequest?
        var report: DiagnosisReport?
        let deadline = Date().addingTimeInterval(planWait)
        let stream = try EventStream(client: client, sessionID: id, idleTimeout: max(1, planWait))
        while Date() < deadline, let event = try? stream.next() {
            switch event.body {
            case .plan(let value): plan = value
            case .approvalRequested(let value): approval = value
            case .report(let value): report = value
            default: break
            }
            if approval != nil || report != nil { break }
        }

        var lines = ["Started diagnosis \(id) of \"\(problem)\"."]
        if let plan {
            lines.append("")
            lines.append("Plan (\(plan.planner)): \(plan.rationale)")
            for domain in plan.domains {
                lines.append("- \(domain.domain.rawValue): \(domain.probes.map { "\($0.probe) → \($0.target)" }.joined(separator: ", ")) — \(domain.rationale)")
            }
        }
        if let approval {
            lines.append("")
            lines.append("APPROVAL NEEDED. The checks below need credentials, and only a human approver can allow them — you cannot. Tell the user:")
            lines.append("")
            lines.append("  The diagnosis needs your approval to use these credential references (the secrets themselves are never shown to me):")
            for item in approval.items {
                lines.append("  - \(item.reference) — \(item.domain.rawValue) (\(item.probes.joined(separator: ", "))): \(item.purpose)")
            }
            lines.append("  Approve in a terminal:  sre-diagnose approve \(id)")
            lines.append("  Approve a subset:       sre-diagnose approve \(id) --ref \(approval.items.first?.reference ?? "REF")")
            lines.append("  Deny:                   sre-diagnose approve \(id) --deny")
            lines.append("  Or in the dashboard:    \(client.address.dashboardURL(session: id))")
            lines.append("  The request expires at \(JSONCoding.format(approval.expiresAt)).")
            lines.append("")
            lines.append("Then poll get_status with session_id \(id) and read get_report when it is completed.")
        } else if let report {
            lines.append("")
            lines.append("Finished: \(report.summary)")
            lines.append("Read the full report with get_report (session_id \(id)).")
        } else {
            lines.append("")
            lines.append("Running. Poll get_status with session_id \(id); read get_report when it is completed.")
        }
        struct Structured: Encodable {
            let session_id: String
            let plan: DiagnosisPlan?
            let pending_approval: ApprovalRequest?
            let approve_command: String?
            let dashboard_url: String
        }
        return try result(lines.joined(separator: "\n"), Structured(
            session_id: id, plan: plan, pending_approval: approval,
            approve_command: approval.map { _ in "sre-diagnose approve \(id)" }, dashboard_url: client.address.dashboardURL(session: id)
        ))
    }

    func status(_ id: String) throws -> CallTool.Result {
        let status = try client.status(id)
        var lines = ["Session \(status.sessionID): \(status.status.rawValue), phase \(status.phase.rawValue), \(Int(status.progress * 100))% — \(status.problem)"]
        for domain in status.domains {
            lines.append("- \(domain.domain.rawValue): \(domain.state.rawValue), \(domain.findings) finding(s)\(domain.reason.map { " — \($0)" } ?? "")")
        }
        for finding in status.findings.sorted(by: { $0.severity > $1.severity }).prefix(20) {
            lines.append("- [\(finding.severity.rawValue)] \(finding.title) (\(finding.code))")
        }
        if let pending = status.pendingApproval {
            lines.append("Waiting for a human to approve: \(pending.references.joined(separator: ", ")). Ask the user to run: sre-diagnose approve \(status.sessionID)  (or open \(client.address.dashboardURL(session: status.sessionID)))")
        }
        if status.reportAvailable { lines.append("The report is ready: call get_report.") }
        return try result(lines.joined(separator: "\n"), status)
    }

    func report(_ id: String) throws -> CallTool.Result {
        let status = try client.status(id)
        guard status.reportAvailable else {
            return .init(content: [.text(text: "The report for \(id) is not ready yet: the session is \(status.status.rawValue) (\(status.phase.rawValue), \(Int(status.progress * 100))%). Call get_status again shortly.", annotations: nil, _meta: nil)])
        }
        return .init(content: [.text(text: try client.reportMarkdown(id), annotations: nil, _meta: nil)])
    }

    func sessions(_ arguments: [String: Value]) throws -> CallTool.Result {
        var status: SessionStatus?
        if let text = arguments["status"]?.stringValue {
            guard let parsed = SessionStatus(rawValue: text) else { throw ClientError.invalidArgument("status must be one of \(SessionStatus.allCases.map(\.rawValue).joined(separator: ", "))") }
            status = parsed
        }
        let limit = min(200, max(1, arguments["limit"]?.intValue ?? 20))
        let list = try client.sessions(status: status, limit: limit)
        let lines = list.sessions.map { "- \($0.sessionID) \($0.status.rawValue) \($0.environment): \($0.problem) (\(JSONCoding.format($0.createdAt)))" }
        return try result(lines.isEmpty ? "No sessions." : lines.joined(separator: "\n"), list)
    }

    func environments() throws -> CallTool.Result {
        let data = try client.environments()
        let value: Value? = (try? JSONDecoder().decode(Value.self, from: data)) ?? .null
        return .init(content: [.text(text: String(decoding: data, as: UTF8.self), annotations: nil, _meta: nil)], structuredContent: value)
    }

    // MARK: Helpers

    static func sessionID(_ arguments: [String: Value]) throws -> String {
        guard let id = arguments["session_id"]?.stringValue else { throw ClientError.invalidArgument("session_id is required") }
        return id
    }

    /// Text for the model plus the same data as structured content (the API's JSON shape).
    func result(_ text: String, _ structured: some Encodable) throws -> CallTool.Result {
        let data = try JSONCoding.encoder().encode(structured)
        let value: Value? = try JSONDecoder().decode(Value.self, from: data)
        return .init(content: [.text(text: text, annotations: nil, _meta: nil)], structuredContent: value)
    }
}

/// Runs blocking socket work off Swift's cooperative thread pool.
enum Blocking {
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try body() })
            }
        }
    }
}
