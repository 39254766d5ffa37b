import DiagnosisModel

/// The embedded planner: no LLM, deterministic.
public struct RulePlanner: Planner {
    public init() {}

    public func plan(_ input: PlanningInput) async throws -> DiagnosisPlan {
        let available = InventoryProbes.all(in: input.environment)
        let domains = Domain.allCases.compactMap { domain -> DomainPlan? in
            guard let probes = available[domain] else { return nil }
            return DomainPlan(domain: domain, probes: probes, rationale: "broad sweep: examine every configured \(domain.rawValue) target")
        }
        return DiagnosisPlan(
            domains: domains,
            rationale: "No playbook matched; sweeping every configured domain of \(input.environment.name).",
            planner: "rules"
        )
    }
}
