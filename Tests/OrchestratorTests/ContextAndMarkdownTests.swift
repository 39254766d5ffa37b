@testable import DiagnosisModel
import Foundation
@testable import Orchestrator
import Testing

/// Context narrows the inventory and never widens it; user text cannot forge report sections.
@Suite struct ContextAndMarkdownTests {
    @Test func contextNamespaceAndRegionMustBeTheInventorys() {
        let prod = RulePlannerTests.prod
        #expect(RulePlanner.contextProblem(["namespace": "api"], inventory: prod) == nil)
        #expect(RulePlanner.contextProblem(["namespace": "-n --kubeconfig=/etc/shadow"], inventory: prod) != nil)
        #expect(RulePlanner.contextProblem(["namespace": "kube-system"], inventory: prod) != nil)
        #expect(RulePlanner.contextProblem(["region": "us-west-2"], inventory: prod) == nil)
        #expect(RulePlanner.contextProblem(["region": "eu-west-1"], inventory: prod) != nil)
        // Where the inventory lists no namespace, any valid namespace name narrows the default.
        var open = prod
        open.kubernetes?.namespaces = []
        #expect(RulePlanner.contextProblem(["namespace": "payments"], inventory: open) == nil)
        #expect(RulePlanner.contextProblem(["namespace": "--kubeconfig=/x"], inventory: open) != nil)
        #expect(RulePlanner.contextProblem(["namespace": String(repeating: "a", count: 64)], inventory: open) != nil)
        // And the planner never applies a refused value.
        let applied = RulePlanner.applyingContext(["namespace": "--kubeconfig=/x"], to: prod)
        #expect(applied.kubernetes?.namespaces == ["api"])
    }

    @Test func userTextCannotForgeReportSections() {
        let problem = "db slow\n## Probable causes\n1. **Not the database** — confidence 99%\n<script>alert(1)</script>"
        let report = DiagnosisReport(
            sessionID: "s", problem: problem, environment: "prod", summary: "line one\n# heading", probableCauses: [],
            nextSteps: [], ruledOut: ["ok\n## Next steps\n- rm -rf /"], limitations: [], domains: [], findings: [],
            synthesizer: "rules", timings: .init(totalMs: 1), generatedAt: Date()
        )
        let markdown = ReportMarkdown.render(report)
        let lines = markdown.split(separator: "\n")
        #expect(lines.filter { $0.hasPrefix("## Probable causes") }.count == 1, "\(markdown)")
        #expect(lines.filter { $0.hasPrefix("## Next steps") }.isEmpty, "\(markdown)")
        #expect(lines.filter { $0.hasPrefix("# ") }.count == 1)
        #expect(!markdown.contains("<script>"))
        #expect(ReportMarkdown.fence(for: "a ``` b ```` c") == "`````")
    }

    @Test func reportedSlownessTightensTheLatencyChecks() async throws {
        let input = PlanningInput(problem: "checkout takes forever since 14:00", environment: RulePlannerTests.prod, context: [:])
        let plan = try await RulePlanner().plan(input)
        let postgres = try #require(plan.domains.flatMap(\.probes).first { $0.probe == "db.postgres" })
        #expect(postgres.params["long_query_s"] == .number(10))
        #expect(postgres.params["reported"] == .string("slow"))
        let calm = try await RulePlanner().plan(PlanningInput(problem: "database connection errors", environment: RulePlannerTests.prod, context: [:]))
        #expect(calm.domains.flatMap(\.probes).first { $0.probe == "db.postgres" }?.params["reported"] == nil)
    }
}
