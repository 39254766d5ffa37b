@testable import Daemon
import DiagnosisModel
import Foundation
import Logging
import Orchestrator
import Secrets
import SessionStore
import TestSupport
import Testing
import Yams

/// `openapi.yaml` documents exactly the routes the daemon serves.
@Suite struct OpenAPIDocumentTests {
    @Test func documentMatchesTheRouteTable() async throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("oas")
        defer { directory.remove() }
        let store = try SQLiteSessionStore(directory: directory.path)
        let logger = Logger(label: "test")
        let supervisor = RunnerSupervisor(settings: .init(socketPath: directory.file("s.sock"), maxConcurrent: 1, killGrace: .seconds(1), maxFrameBytes: 1 << 20), launcher: LocalRunnerLauncher(executable: "/bin/false"), logger: logger)
        let metrics = DaemonMetrics()
        let sessions = SessionService(
            settings: .init(environments: [:], approvalTimeout: .seconds(60), runnerDeadline: .seconds(60)), store: store,
            planner: RulePlanner(), synthesizer: RuleSynthesizer(), supervisor: supervisor,
            broker: SecretBroker(providers: [], policy: .init()), metrics: metrics, secretScrubber: SecretScrubber(), logger: logger
        )
        let text = try String(contentsOf: TestEnvironment.packageRoot.appendingPathComponent("Sources/Daemon/Resources/openapi.yaml"), encoding: .utf8)
        let endpoints = DaemonApplication.endpoints(.init(
            health: HealthService(activeSessions: { 0 }), sessions: sessions, store: store, supervisor: supervisor, metrics: metrics,
            environments: [:], resources: StaticResources(dashboard: "", openAPI: text), diagnoseRatePerMinute: 10, heartbeat: .seconds(1)
        ))
        let served = Set(endpoints.map { "\($0.method.rawValue) \($0.path.replacingOccurrences(of: ":id", with: "{id}"))" })

        let document = try #require(try Yams.load(yaml: text) as? [String: Any])
        #expect(document["openapi"] as? String == "3.1.0")
        let paths = try #require(document["paths"] as? [String: Any])
        var documented: Set<String> = []
        for (path, item) in paths {
            for method in (item as? [String: Any] ?? [:]).keys where ["get", "post", "put", "delete", "patch"].contains(method) {
                documented.insert("\(method.uppercased()) \(path)")
            }
        }
        #expect(served == documented, "served but undocumented: \(served.subtracting(documented)); documented but not served: \(documented.subtracting(served))")
    }
}
