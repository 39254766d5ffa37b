import DiagnosisModel

/// What a planner gets: the problem, where, and what can be examined there.
public struct PlanningInput: Sendable {
    public var problem: String
    public var environment: EnvironmentInventory
    public var context: [String: String]

    public init(problem: String, environment: EnvironmentInventory, context: [String: String]) {
        self.problem = problem
        self.environment = environment
        self.context = context
    }
}

/// Decides which domains and probes to run (docs/DESIGN.md §7). The embedded default is rule-based; an
/// LLM planner falls back to it.
public protocol Planner: Sendable {
    func plan(_ input: PlanningInput) async throws -> DiagnosisPlan
}

/// A planner that may ask for one more round of probes after seeing the first results.
public protocol FollowUpPlanner: Planner {
    /// Extra probes from the inventory (none to stop). Findings are already redacted.
    func followUp(_ input: PlanningInput, plan: DiagnosisPlan, findings: [Finding]) async throws -> [ProbeRequest]
}
