import DiagnosisModel
import Prometheus
import Synchronization

/// Prometheus metrics of the daemon (`GET /metrics`).
public final class DaemonMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let sessionsStarted: Counter
    private let sessionsFinished: Mutex<[SessionStatus: Counter]>
    private let probeDurations: Mutex<[String: DurationHistogram]>
    private let httpRequests: Mutex<[String: Counter]>
    private let sessionsByStatus: [SessionStatus: Gauge]
    private let runnersSpawned: Gauge
    private let runnersFailed: Gauge
    private let runnersRunning: Gauge
    private let runnersQueued: Gauge
    private let runnersWarm: Gauge
    private let runnersWarmServed: Gauge
    private let answerCacheBytes: Gauge
    private let answerCacheEntries: Gauge
    private let storeMemory: Gauge

    public init() {
        sessionsStarted = registry.makeCounter(descriptor: Self.name("sessions_started", "total", "Diagnosis sessions started."))
        sessionsFinished = Mutex([:])
        probeDurations = Mutex([:])
        httpRequests = Mutex([:])
        var gauges: [SessionStatus: Gauge] = [:]
        for status in SessionStatus.allCases {
            gauges[status] = registry.makeGauge(descriptor: Self.name("sessions", "", "Stored sessions by status."), labels: [("status", status.rawValue)])
        }
        sessionsByStatus = gauges
        runnersSpawned = registry.makeGauge(descriptor: Self.name("runner_spawns", "total", "Runner processes spawned since start."))
        runnersFailed = registry.makeGauge(descriptor: Self.name("runner_failures", "total", "Runner jobs that failed (crash, deadline, protocol error) since start."))
        runnersRunning = registry.makeGauge(descriptor: Self.name("runners_running", "", "Runner processes running now."))
        runnersQueued = registry.makeGauge(descriptor: Self.name("runners_queued", "", "Domains waiting for a runner slot."))
        runnersWarm = registry.makeGauge(descriptor: Self.name("runners_warm", "", "Warm runners started and waiting for a job (runners.warm)."))
        runnersWarmServed = registry.makeGauge(descriptor: Self.name("runner_warm_jobs", "total", "Jobs served by a warm runner since start."))
        answerCacheBytes = registry.makeGauge(descriptor: Self.name("answer_cache", "bytes", "Finished sessions' encoded answers kept in memory (bounded)."))
        answerCacheEntries = registry.makeGauge(descriptor: Self.name("answer_cache_entries", "", "Finished sessions' answers kept in memory (bounded)."))
        storeMemory = registry.makeGauge(descriptor: Self.name("store_memory", "bytes", "Memory the session store's engine holds in this process (SQLite page caches and statements); 0 on PostgreSQL, whose caches are the server's."))
    }

    private static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "sre", metricName: metric, unitName: unit, helpText: help)
    }

    func sessionFinished(_ status: SessionStatus) {
        let counter = sessionsFinished.withLock { counters in
            if let existing = counters[status] { return existing }
            let counter = registry.makeCounter(descriptor: Self.name("sessions_finished", "total", "Sessions that ended, by final status."), labels: [("status", status.rawValue)])
            counters[status] = counter
            return counter
        }
        counter.increment()
    }

    func recordProbes(_ outcomes: [ProbeOutcome], domain: Domain) {
        for outcome in outcomes {
            let histogram = probeDurations.withLock { histograms in
                if let existing = histograms[outcome.probe] { return existing }
                let histogram = registry.makeDurationHistogram(
                    descriptor: Self.name("probe_duration", "seconds", "Probe run time."),
                    labels: [("probe", outcome.probe), ("domain", domain.rawValue)],
                    buckets: [.milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10), .seconds(30), .seconds(60)]
                )
                histograms[outcome.probe] = histogram
                return histogram
            }
            histogram.record(.milliseconds(Int64(outcome.durationMs)))
        }
    }

    func recordRequest(route: String, method: String, status: Int) {
        let key = "\(method) \(route) \(status)"
        let counter = httpRequests.withLock { counters in
            if let existing = counters[key] { return existing }
            let counter = registry.makeCounter(
                descriptor: Self.name("http_requests", "total", "HTTP requests by route and status."),
                labels: [("route", route), ("method", method), ("status", String(status))]
            )
            counters[key] = counter
            return counter
        }
        counter.increment()
    }

    /// Refreshes the gauges read from elsewhere, then renders the exposition text.
    func render(
        sessionCounts: [SessionStatus: Int], runners: (spawned: Int, failed: Int), load: (running: Int, queued: Int), warm: (idle: Int, served: Int) = (0, 0),
        memory: MemoryUse = MemoryUse()
    ) -> String {
        answerCacheBytes.set(Double(memory.answerCache.bytes))
        answerCacheEntries.set(Double(memory.answerCache.entries))
        storeMemory.set(Double(memory.store ?? 0))
        runnersWarm.set(Double(warm.idle))
        runnersWarmServed.set(Double(warm.served))
        for status in SessionStatus.allCases { sessionsByStatus[status]?.set(Double(sessionCounts[status] ?? 0)) }
        runnersSpawned.set(Double(runners.spawned))
        runnersFailed.set(Double(runners.failed))
        runnersRunning.set(Double(load.running))
        runnersQueued.set(Double(load.queued))
        return registry.emitToString()
    }
}

/// The daemon's bounded in-memory caches, as `/metrics` shows them: a soak reads them to tell
/// caches filling up to their bounds from growth that has none.
struct MemoryUse: Sendable {
    var answerCache: (entries: Int, bytes: Int) = (0, 0)
    var store: Int?
}
