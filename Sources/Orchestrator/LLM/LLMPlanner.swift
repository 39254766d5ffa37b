import DiagnosisModel
import Foundation

/// Plans with an LLM: the probe catalogue (restricted to what the inventory has) is offered as
/// tools, the model calls the ones worth running. The model names probes and targets; the
/// inventory supplies hosts, ports and credential references, so the model can neither invent a
/// target nor pick a credential. Anything unusable falls back to the rules.
public struct LLMPlanner: FollowUpPlanner {
    let client: ChatCompletionsClient
    let fallback: RulePlanner

    public init(client: ChatCompletionsClient, fallback: RulePlanner) {
        self.client = client
        self.fallback = fallback
    }

    /// Whether the model may set `parameter` of `probe` (thresholds and selections, as the
    /// catalogue declares them); connection details are the inventory's.
    static func isTunable(_ parameter: String, of probe: String) -> Bool {
        ProbeCatalog.info(probe)?.parameters.contains { $0.name == parameter && $0.tunable } ?? false
    }

    static func toolName(_ probe: String) -> String { probe.replacingOccurrences(of: ".", with: "_") }

    /// One tool per probe the inventory can run, its targets as an enum.
    static func tools(for available: [Domain: [ProbeRequest]]) -> [[String: Any]] {
        var byProbe: [String: [String]] = [:]
        for requests in available.values {
            for request in requests where request.probe != "command" { byProbe[request.probe, default: []].append(request.target) }
        }
        return byProbe.keys.sorted().compactMap { name in
            guard let info = ProbeCatalog.info(name) else { return nil }
            var properties: [String: Any] = ["target": ["type": "string", "enum": byProbe[name] ?? [], "description": info.target]]
            for parameter in info.parameters where parameter.tunable {
                properties[parameter.name] = ["type": parameter.type == "array" ? "array" : parameter.type, "description": parameter.summary]
                    .merging(parameter.type == "array" ? ["items": ["type": "string"]] : [:]) { a, _ in a }
            }
            return ["type": "function", "function": [
                "name": toolName(name), "description": "[\(info.domain.rawValue)] \(info.summary)",
                "parameters": ["type": "object", "properties": properties, "required": ["target"]],
            ]]
        }
    }

    /// What the model is told about the environment: names and kinds, no credentials.
    static func describe(_ inventory: EnvironmentInventory) -> String {
        var lines = ["Environment \(inventory.name):"]
        for database in inventory.databases { lines.append("- database \(database.name) (\(database.engine.rawValue) at \(database.host):\(database.port)/\(database.database))") }
        if let aws = inventory.aws { lines.append("- AWS region \(aws.region)\(aws.logGroups.isEmpty ? "" : ", log groups \(aws.logGroups.joined(separator: ", "))")") }
        if let kubernetes = inventory.kubernetes { lines.append("- Kubernetes namespaces \(kubernetes.namespaces.joined(separator: ", "))") }
        if let metrics = inventory.metrics {
            let services = metrics.prometheus.services.map(\.service)
            lines.append("- Prometheus metrics and alerts" + (services.isEmpty ? "" : " (signals of \(services.joined(separator: ", ")))"))
        }
        if let logs = inventory.logs { lines.append("- logs: units \(logs.journaldUnits.joined(separator: ", ")); files \(logs.files.joined(separator: ", "))") }
        if let network = inventory.network { lines.append("- endpoints \(network.endpoints.joined(separator: ", "))") }
        if inventory.host != nil { lines.append("- this host (disk, memory, load, OOM kills)") }
        return lines.joined(separator: "\n")
    }

    public func plan(_ input: PlanningInput) async throws -> DiagnosisPlan {
        let inventory = RulePlanner.applyingContext(input.context, to: input.environment)
        let available = InventoryProbes.all(in: inventory)
        let context = input.context.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
        let reply = try await client.complete(messages: [
            ["role": "system", "content": "You are an experienced SRE planning a first round of read-only diagnostic probes for an incident. Call one tool per probe worth running, choosing targets from the enums only. Prefer probes that can confirm or rule out likely causes of the described problem; skip unrelated ones. Reply briefly with your reasoning as text."],
            ["role": "user", "content": "Problem: \(input.problem)\nContext: \(context.isEmpty ? "none" : context)\n\(Self.describe(inventory))"],
        ], tools: Self.tools(for: available))
        let probes = Self.requests(from: reply.toolCalls, available: available)
        guard !probes.accepted.isEmpty else {
            throw ChatCompletionsClient.Failure("the model chose no usable probe\(probes.rejected.isEmpty ? "" : " (\(probes.rejected.joined(separator: "; ")))")")
        }
        let domains = Domain.allCases.compactMap { domain -> DomainPlan? in
            let chosen = probes.accepted.filter { request in available[domain]?.contains { $0.id == request.id } == true }
            // The environment's own checks always run, as with the rules.
            let checks = (available[domain] ?? []).filter { $0.probe == "command" }
            guard !chosen.isEmpty || !checks.isEmpty else { return nil }
            return DomainPlan(domain: domain, probes: chosen + checks, rationale: "chosen by the model")
        }
        var rationale = (reply.content ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        if rationale.isEmpty { rationale = "The model chose \(probes.accepted.count) probe(s)." }
        if !probes.rejected.isEmpty { rationale += " Ignored: \(probes.rejected.joined(separator: "; "))." }
        return DiagnosisPlan(domains: domains, rationale: String(rationale.prefix(2000)), planner: "llm")
    }

    /// Maps tool calls to inventory probe requests; returns what was refused and why.
    static func requests(from calls: [ChatCompletionsClient.ToolCall], available: [Domain: [ProbeRequest]]) -> (accepted: [ProbeRequest], rejected: [String]) {
        var accepted: [ProbeRequest] = []
        var rejected: [String] = []
        let all = available.values.flatMap { $0 }
        for call in calls {
            guard let object = try? JSONSerialization.jsonObject(with: Data(call.arguments.utf8)) as? [String: Any] else {
                rejected.append("\(call.name): arguments are not a JSON object")
                continue
            }
            let target = object["target"] as? String ?? ""
            guard let match = all.first(where: { toolName($0.probe) == call.name && $0.target == target }) else {
                rejected.append("\(call.name) on \"\(target)\" is not in the inventory")
                continue
            }
            var request = match
            for (key, value) in object where isTunable(key, of: match.probe) {
                if let data = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed]),
                   let json = try? JSONDecoder().decode(JSONValue.self, from: data) {
                    request.params[key] = json
                }
            }
            if !accepted.contains(where: { $0.id == request.id }) { accepted.append(request) }
        }
        return (accepted, rejected)
    }

    /// One follow-up round after the first results: more probes from the same catalogue, or none.
    public func followUp(_ input: PlanningInput, plan: DiagnosisPlan, findings: [Finding]) async throws -> [ProbeRequest] {
        let inventory = RulePlanner.applyingContext(input.context, to: input.environment)
        let available = InventoryProbes.all(in: inventory)
        let ran = Set(plan.domains.flatMap(\.probes).map(\.id))
        let remaining = available.mapValues { $0.filter { !ran.contains($0.id) } }.filter { !$0.value.isEmpty }
        guard !remaining.isEmpty else { return [] }
        let summary = findings.map { "- [\($0.severity.rawValue)] \($0.code) \($0.target): \($0.title)" }.joined(separator: "\n")
        let reply = try await client.complete(messages: [
            ["role": "system", "content": "You are an SRE reviewing the first results of a diagnosis. If another probe would confirm or rule out a cause, call it (at most 5); otherwise call nothing."],
            ["role": "user", "content": "Problem: \(input.problem)\nFirst-round findings (secrets redacted):\n\(summary.isEmpty ? "none" : summary)\n\(Self.describe(inventory))"],
        ], tools: Self.tools(for: remaining))
        return Array(Self.requests(from: reply.toolCalls, available: remaining).accepted.prefix(5))
    }
}
