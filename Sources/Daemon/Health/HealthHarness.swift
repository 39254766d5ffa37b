import Hummingbird

/// `GET /health`.
struct HealthHarness {
    let service: HealthService

    var endpoints: [APIEndpoint] {
        [APIEndpoint(.get, "/health", public: true) { _, _ in try JSONResponse.make(await service.status()) }]
    }
}
