import Hummingbird
import NIOCore
import SessionStore

/// `GET /metrics`: Prometheus text exposition.
struct MetricsHarness {
    let metrics: DaemonMetrics
    let store: any SessionStore
    let supervisor: RunnerSupervisor
    /// The session routes' cache of finished answers.
    let answers: ResponseCache

    var endpoints: [APIEndpoint] {
        [APIEndpoint(.get, "/metrics", public: true, scrape)]
    }

    @Sendable func scrape(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let text = metrics.render(
            sessionCounts: try await store.countsByStatus(),
            runners: await supervisor.counts,
            load: await supervisor.load(),
            warm: await supervisor.warmCounts,
            memory: MemoryUse(answerCache: answers.usage, store: store.memoryInUse)
        )
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
