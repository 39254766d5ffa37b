import DiagnosisModel
import Foundation
import Hummingbird

/// `GET /approvals/standing`: the standing approvals, whether each is in force, and the alert
/// routes that may use it (references only — what a human approved ahead of time).
struct StandingApprovalsHarness {
    let standing: [StandingApproval]
    let routes: [DaemonConfig.Intake.Route]

    var endpoints: [APIEndpoint] {
        [APIEndpoint(.get, "/approvals/standing", list)]
    }

    @Sendable func list(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        _ = try HTTPInput.identity(context)
        let now = Date()
        let entries = standing.map { approval in
            StandingApprovalList.Entry(
                approval: approval, active: approval.isActive(at: now),
                routes: routes.filter { $0.standingApprovals.contains(approval.name) }.map(\.name)
            )
        }
        return try JSONResponse.make(StandingApprovalList(standing: entries))
    }
}
