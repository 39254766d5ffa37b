import DiagnosisModel
import Orchestrator

extension SessionRun {
    /// Phase 1: which domains and probes, with the rules as the fallback of any planner.
    func planPhase() async throws -> DiagnosisPlan {
        try await log.emit(.status(.init(status: .analyzing, phase: .planning, progress: 0.05, message: "planning which domains to examine")))
        let input = await planningInput()
        let plan: DiagnosisPlan
        do {
            plan = try await dependencies.planner.plan(input)
        } catch {
            try await log.emit(.notice(.init(message: "the planner failed (\(error)); using the rule-based planner")))
            plan = try await dependencies.fallbackPlanner.plan(input)
        }
        session.plan = plan
        try await log.emit(.plan(plan))
        return plan
    }

    func planningInput() async -> PlanningInput {
        let record = await log.latest
        return PlanningInput(problem: record.problem, environment: inventory, context: record.context)
    }
}
