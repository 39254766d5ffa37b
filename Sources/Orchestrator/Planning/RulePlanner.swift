import DiagnosisModel
import Foundation

/// The embedded planner: no LLM, deterministic. Playbooks whose phrases appear in the problem
/// (or whose context keys are given) choose the domains and probes; without a match, every
/// configured domain is examined.
public struct RulePlanner: Planner {
    let library: PlaybookLibrary
    /// Each playbook's phrases, normalized and padded once (" connection refused "), not per plan.
    private let needles: [[String]]

    public init(library: PlaybookLibrary = PlaybookLibrary(playbooks: [])) {
        self.library = library
        needles = library.playbooks.map { $0.match.phrases.map { " " + Self.normalize($0) + " " } }
    }

    struct Match {
        let playbook: Playbook
        let reasons: [String]
    }

    /// Playbooks that apply, best first.
    func matches(_ input: PlanningInput) -> [Match] {
        // An alert's name says what it is about: `PostgresTooManyConnections` reads as
        // "postgres too many connections".
        let alertWords = input.context["alertname"].map { " " + Self.normalize(Self.words(of: $0)) } ?? ""
        let text = " " + Self.normalize(input.problem) + alertWords + " "
        var result: [Match] = []
        for (playbook, needles) in zip(library.playbooks, needles) {
            var reasons: [String] = []
            for (phrase, needle) in zip(playbook.match.phrases, needles) where text.containsUTF8(needle) {
                reasons.append("\"\(phrase)\"")
            }
            for key in playbook.match.context ?? [] where input.context[key] != nil {
                reasons.append("context \(key)=\(input.context[key] ?? "")")
            }
            if !reasons.isEmpty { result.append(Match(playbook: playbook, reasons: reasons)) }
        }
        return result.sorted { $0.reasons.count > $1.reasons.count }
    }

    /// A CamelCase or snake_case identifier as words (`OOMKilled` → "OOM Killed").
    static func words(of identifier: String) -> String {
        let characters = Array(identifier)
        var result = ""
        for (index, character) in characters.enumerated() {
            let previous = index > 0 ? characters[index - 1] : " "
            let next = index + 1 < characters.count ? characters[index + 1] : " "
            if character.isUppercase, previous.isLowercase || previous.isNumber || (previous.isUppercase && next.isLowercase), result.last != " " {
                result.append(" ")
            }
            result.append(character == "_" || character == "-" ? " " : character)
        }
        return result
    }

    /// Lower case, punctuation to spaces (apostrophes kept), single spaces.
    static func normalize(_ text: String) -> String {
        let mapped = text.lowercased().map { character -> Character in
            character.isLetter || character.isNumber || character == "'" ? character : " "
        }
        return String(mapped).split(separator: " ").joined(separator: " ")
    }

    public func plan(_ input: PlanningInput) async throws -> DiagnosisPlan {
        ReportedSlowness.tighten(try planByPlaybooks(input), problem: input.problem)
    }

    private func planByPlaybooks(_ input: PlanningInput) throws -> DiagnosisPlan {
        let inventory = Self.applyingContext(input.context, to: input.environment)
        let available = InventoryProbes.all(in: inventory)
        let matched = matches(input)
        // Metrics words ("error rate", "since 14:00", "alert firing") say when and how bad, not
        // where the cause is: a match on them alone still sweeps.
        let onlyMetrics = !matched.isEmpty && matched.allSatisfy { Set($0.playbook.domains.keys) == [Domain.metrics.rawValue] }
        guard !matched.isEmpty, !onlyMetrics else {
            let why = onlyMetrics ? "only metrics words matched (playbook \(matched.map(\.playbook.name).joined(separator: ", ")))" : "no playbook matched the problem"
            let domains = Domain.allCases.compactMap { domain -> DomainPlan? in
                guard let probes = available[domain] else { return nil }
                return DomainPlan(domain: domain, probes: probes, rationale: "\(why): examining every configured \(domain.rawValue) target")
            }
            return DiagnosisPlan(
                domains: domains, rationale: "\(onlyMetrics ? "Only metrics words matched" : "No playbook matched"); sweeping every configured domain of \(inventory.name).",
                planner: "rules", playbooks: onlyMetrics ? matched.map(\.playbook.name) : []
            )
        }

        var domains: [DomainPlan] = []
        for domain in Domain.allCases {
            var probes: [ProbeRequest] = []
            var why: [String] = []
            for match in matched {
                // Command checks the playbook declares, for this domain.
                for check in (match.playbook.checks ?? []).compactMap(\.commandCheck) where check.domain == domain {
                    if !probes.contains(where: { $0.id == check.probeRequest.id }) { probes.append(check.probeRequest) }
                    why.append(match.playbook.name)
                }
                guard let selection = match.playbook.domains[domain.rawValue] else { continue }
                for candidate in available[domain] ?? [] where selection.probes.contains(candidate.probe) {
                    var probe = candidate
                    for (key, value) in selection.params ?? [:] where probe.params[key] == nil { probe.params[key] = value }
                    if !probes.contains(where: { $0.id == probe.id }) { probes.append(probe) }
                    if !why.contains(match.playbook.name) { why.append(match.playbook.name) }
                }
            }
            // The environment's own checks always run: someone configured them for this place.
            let environmentChecks = inventory.checks.filter { $0.domain == domain }.map(\.probeRequest)
            for check in environmentChecks where !probes.contains(where: { $0.id == check.id }) { probes.append(check) }
            guard !probes.isEmpty else { continue }
            let reasons = matched.filter { why.contains($0.playbook.name) }
                .map { "\($0.playbook.name) (\($0.reasons.prefix(3).joined(separator: ", ")))" }
            let rationale = reasons.isEmpty
                ? "the environment's configured checks for \(domain.rawValue)"
                : "playbook \(reasons.joined(separator: "; "))" + (environmentChecks.isEmpty ? "" : ", plus the environment's configured checks")
            domains.append(DomainPlan(domain: domain, probes: probes, rationale: rationale))
        }
        let names = matched.map(\.playbook.name)
        let skipped = Domain.allCases.filter { available[$0] != nil && !domains.map(\.domain).contains($0) }
        var rationale = "Matched playbook(s) \(names.joined(separator: ", ")) from the problem text"
        if !skipped.isEmpty { rationale += "; not examined as unrelated: \(skipped.map(\.rawValue).joined(separator: ", "))" }
        return DiagnosisPlan(domains: domains, rationale: rationale + ".", planner: "rules", playbooks: names)
    }

    /// Why `context` cannot narrow `inventory`, or nil when it can. Context only ever narrows
    /// what the inventory already allows: a namespace it lists (or, where it lists none, a valid
    /// namespace name), its own region. Anything else is refused rather than passed to a tool.
    public static func contextProblem(_ context: [String: String], inventory: EnvironmentInventory) -> String? {
        if let namespace = context["namespace"], inventory.kubernetes != nil {
            let listed = inventory.kubernetes?.namespaces ?? []
            if listed.isEmpty ? !isKubernetesName(namespace) : !listed.contains(namespace) {
                return listed.isEmpty
                    ? "context.namespace \"\(namespace.prefix(80))\" is not a Kubernetes namespace name (lower-case letters, digits and '-', at most 63)"
                    : "context.namespace \"\(namespace.prefix(80))\" is not one of this environment's namespaces: \(listed.joined(separator: ", "))"
            }
        }
        if let region = context["region"], let aws = inventory.aws, region != aws.region {
            return "context.region \"\(region.prefix(80))\" is not this environment's region (\(aws.region))"
        }
        return nil
    }

    /// `service` picks that service's signals when it has any; the context fills the queries'
    /// placeholders (escaped as PromQL string content).
    static func applyingContext(_ context: [String: String], to prometheus: PrometheusSource) -> PrometheusSource {
        var prometheus = prometheus
        if let service = context["service"]?.lowercased() {
            let matching = prometheus.services.filter { $0.service.lowercased() == service }
            if !matching.isEmpty { prometheus.services = matching }
        }
        prometheus.services = prometheus.services.map { entry in
            var values = context.filter { ["namespace", "instance"].contains($0.key) }
            values["service"] = entry.service
            return ServiceSignals(service: entry.service, signals: entry.signals.map { $0.filled(values) })
        }
        return prometheus
    }

    /// RFC 1123 label, as Kubernetes requires of namespace names.
    static func isKubernetesName(_ name: String) -> Bool {
        guard (1...63).contains(name.count), let first = name.first, let last = name.last, first != "-", last != "-" else { return false }
        return name.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "-" }
    }

    /// Context narrows the inventory: `service` picks matching log units and files,
    /// `namespace` the Kubernetes namespaces, `region` the AWS region (only as
    /// ``contextProblem(_:inventory:)`` allows).
    static func applyingContext(_ context: [String: String], to inventory: EnvironmentInventory) -> EnvironmentInventory {
        var inventory = inventory
        if let service = context["service"]?.lowercased(), var logs = inventory.logs {
            let units = logs.journaldUnits.filter { $0.lowercased().contains(service) }
            if !units.isEmpty { logs.journaldUnits = units }
            let files = logs.files.filter { $0.lowercased().contains(service) }
            if !files.isEmpty { logs.files = files }
            inventory.logs = logs
        }
        if var metrics = inventory.metrics {
            metrics.prometheus = applyingContext(context, to: metrics.prometheus)
            inventory.metrics = metrics
        }
        // An instance the inventory knows (an alert's `instance` label) narrows to it.
        if let instance = context["instance"]?.lowercased(), !instance.isEmpty {
            let host = instance.split(separator: ":").first.map(String.init) ?? instance
            let databases = inventory.databases.filter { "\($0.host):\($0.port)".lowercased() == instance || $0.host.lowercased() == host }
            if !databases.isEmpty { inventory.databases = databases }
            if var network = inventory.network {
                let endpoints = network.endpoints.filter { $0.lowercased().contains(instance) }
                if !endpoints.isEmpty { network.endpoints = endpoints }
                inventory.network = network
            }
        }
        if contextProblem(context, inventory: inventory) != nil { return inventory }
        if let namespace = context["namespace"], var kubernetes = inventory.kubernetes {
            kubernetes.namespaces = [namespace]
            inventory.kubernetes = kubernetes
        }
        if let region = context["region"], var aws = inventory.aws {
            aws.region = region
            inventory.aws = aws
        }
        return inventory
    }
}

/// When the user says it is slow ("takes forever", "stuck", "timing out"), the latency checks
/// use tighter thresholds and say so in their findings: a 90-second query is news to someone
/// whose page takes forever, even if it would be routine for a batch job.
public enum ReportedSlowness {
    static let words = ["slow", "takes forever", "taking forever", "stuck", "hang", "hanging", "timing out", "times out", "timeout", "latency", "sluggish", "lag"]

    /// Tighter defaults for the probes' latency thresholds (never looser than what a playbook or
    /// the model set).
    static let thresholds: [String: [String: Double]] = [
        "db.postgres": ["long_query_s": 10, "idle_in_transaction_s": 30],
        "net.http": ["slow_ms": 1000],
    ]

    public static func isReported(in problem: String) -> Bool {
        let text = problem.lowercased()
        return words.contains { text.contains($0) }
    }

    public static func tighten(_ plan: DiagnosisPlan, problem: String) -> DiagnosisPlan {
        guard isReported(in: problem) else { return plan }
        var plan = plan
        for domain in plan.domains.indices {
            for index in plan.domains[domain].probes.indices {
                var probe = plan.domains[domain].probes[index]
                guard let tightened = thresholds[probe.probe] else { continue }
                for (key, value) in tightened where probe.params[key] == nil { probe.params[key] = .number(value) }
                probe.params["reported"] = .string("slow")
                plan.domains[domain].probes[index] = probe
            }
        }
        return plan
    }
}
