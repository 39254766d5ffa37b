import Daemon
import DiagnosisModel
import Foundation
import Logging
import Orchestrator
import Redaction
import SessionStore

// Benchmarks that print numbers (never timed tests). Run through scripts/bench.
//   sre-diagnose-bench runners [--runs N]

func percentile(_ values: [Double], _ p: Double) -> Double {
    guard !values.isEmpty else { return .nan }
    let sorted = values.sorted()
    let index = min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))
    return sorted[index]
}

func format(_ ms: Double) -> String { String(format: "%.1f ms", ms) }

/// Rss, Pss and Anonymous (KiB) from /proc/PID/smaps_rollup.
func memory(_ pid: Int32) -> [String: Int] {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/smaps_rollup", encoding: .utf8) else { return [:] }
    var values: [String: Int] = [:]
    for line in text.split(separator: "\n") {
        let parts = line.split(separator: " ", omittingEmptySubsequences: true)
        if parts.count >= 2, parts[0].hasSuffix(":"), let value = Int(parts[1]) { values[String(parts[0].dropLast())] = value }
    }
    return values
}

func mb(_ kib: Int?) -> String { kib.map { String(format: "%.1f MB", Double($0) / 1024) } ?? "?" }

func benchRunners(runs: Int) async throws {
    let directory = "/tmp/sre-bench-\(getpid())"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    var logger = Logger(label: "bench")
    logger.logLevel = .critical
    // SRE_BENCH_RUNNER: another runner build to compare (scripts/bench runners --static).
    let runner = ProcessInfo.processInfo.environment["SRE_BENCH_RUNNER"] ?? LocalRunnerLauncher.defaultExecutable()
    func supervisor(_ limit: Int) async throws -> RunnerSupervisor {
        let supervisor = RunnerSupervisor(
            settings: .init(socketPath: "\(directory)/\(limit).sock", maxConcurrent: limit, killGrace: .seconds(1), maxFrameBytes: 1 << 20),
            launcher: LocalRunnerLauncher(executable: runner), logger: logger
        )
        try await supervisor.start()
        return supervisor
    }
    func noop(_ index: Int) -> RunnerJob {
        RunnerJob(sessionID: "bench-\(index)", domain: .host, probes: [], deadline: Date().addingTimeInterval(30))
    }
    func once(_ supervisor: RunnerSupervisor, _ job: RunnerJob) async -> Double {
        let (stream, continuation) = AsyncStream<RunnerEvent>.makeStream()
        let drain = Task { for await _ in stream {} }
        let started = ContinuousClock.now
        let result = await supervisor.run(job, events: continuation)
        let elapsed = ContinuousClock.now - started
        continuation.finish()
        await drain.value
        if case .failed(let reason, _) = result { print("  run failed: \(reason)") }
        return elapsed.inSeconds * 1000
    }

    print("runner: \(runner)")
    let sequentialSupervisor = try await supervisor(1)
    for index in 0..<5 { _ = await once(sequentialSupervisor, noop(index)) }  // warm-up
    var sequential: [Double] = []
    for index in 0..<runs { sequential.append(await once(sequentialSupervisor, noop(index))) }
    print("spawn→hello→job→done, no-op job, sequential (\(runs) runs): p50 \(format(percentile(sequential, 0.5))), p95 \(format(percentile(sequential, 0.95)))")

    // Four clients, each running jobs back to back: four runners alive at any time.
    let concurrentSupervisor = try await supervisor(4)
    let concurrentStart = ContinuousClock.now
    let concurrent = await withTaskGroup(of: [Double].self) { group in
        for worker in 0..<4 {
            group.addTask {
                var values: [Double] = []
                for index in 0..<(runs / 4) { values.append(await once(concurrentSupervisor, noop(worker * 1000 + index))) }
                return values
            }
        }
        var all: [Double] = []
        for await values in group { all.append(contentsOf: values) }
        return all
    }
    let wall = ContinuousClock.now - concurrentStart
    let seconds = wall.inSeconds
    print("4-way concurrent (\(concurrent.count) runs): p50 \(format(percentile(concurrent, 0.5))), p95 \(format(percentile(concurrent, 0.95))), throughput \(String(format: "%.0f", Double(concurrent.count) / seconds)) runners/s")

    // Resident memory of a runner while it works (a TCP probe and a short tool run).
    let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    listen(listener, 64)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
    let port = Int(UInt16(bigEndian: address.sin_port))
    let (stream, continuation) = AsyncStream<RunnerEvent>.makeStream()
    let sampler = Task { () -> [String: Int] in
        for await event in stream {
            if case .started(_, let pid?) = event {
                try? await Task.sleep(for: .milliseconds(250))
                return memory(pid)
            }
        }
        return [:]
    }
    let job = RunnerJob(sessionID: "bench-rss", domain: .network, probes: [
        ProbeRequest(id: "tcp", probe: "net.tcp_connect", target: "127.0.0.1:\(port)"),
        ProbeRequest(id: "tool", probe: "command", target: "sleep", params: ["command": "sleep", "args": ["0.5"]]),
    ], deadline: Date().addingTimeInterval(30))
    _ = await concurrentSupervisor.run(job, events: continuation)
    continuation.finish()
    let sample = await sampler.value
    print("runner memory while working: RSS \(mb(sample["Rss"])) (of which anonymous \(mb(sample["Anonymous"])); the rest is shared library pages, shared with the daemon and other runners), PSS \(mb(sample["Pss"]))")
    close(listener)
    await sequentialSupervisor.stop(reason: "bench over")
    await concurrentSupervisor.stop(reason: "bench over")
}

/// What one event costs the SQLite store: `append` (event + session state, one transaction) as a
/// session does it, one after another.
func benchStore(runs: Int) async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sre-bench-store-\(getpid())").path
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let store = try SQLiteSessionStore(directory: directory)
    var record = SessionRecord(id: "bench", problem: "p", environment: "prod", context: [:], requester: "alice", createdAt: Date(), updatedAt: Date(), lastSequence: 1)
    try await store.create(record, firstEvent: SessionEvent(sessionID: "bench", sequence: 1, at: Date(), body: .created(.init(problem: "p", environment: "prod", context: [:], requester: "alice"))))
    var timings: [Double] = []
    for index in 0..<runs {
        record.lastSequence += 1
        let event = SessionEvent(
            sessionID: "bench", sequence: record.lastSequence, at: Date(),
            body: .probeProgress(.init(domain: .database, probe: "db.postgres#\(index)", state: "started", fraction: 0.5))
        )
        let start = ContinuousClock.now
        try await store.append(event, record: record)
        timings.append((ContinuousClock.now - start).milliseconds)
    }
    print("store: one event appended (its own transaction), \(runs) in a row: p50 \(format(percentile(timings, 0.5))), p95 \(format(percentile(timings, 0.95))), max \(format(timings.max() ?? 0))")
}

/// The redactor on the session's critical path: built when credentials resolve (daemon) and when
/// a job arrives (runner), applied to every string of every event on both sides.
func benchRedaction(runs: Int) {
    func microseconds(_ duration: Duration) -> Double { Double(duration.components.seconds) * 1e6 + Double(duration.components.attoseconds) / 1e12 }
    let secrets = ["env://DB_LOGIN": ["app", "s3cret-Passw0rd/with+chars"], "op://vault/item": ["AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"]]
    var builds: [Double] = []
    var redactor = Redactor()
    for _ in 0..<runs {
        let started = ContinuousClock.now
        redactor = Redactor(secrets: secrets)
        builds.append(microseconds(ContinuousClock.now - started))
    }
    // A finding's strings: title, detail, evidence lines, a target — none holds a secret.
    let texts = [
        "PostgreSQL orders-db: 95 of 100 connections in use (95 %)",
        "connections by state: active 12, idle 40, idle in transaction 43; oldest idle in transaction 612 s (application api-gateway, pid 4711)",
        "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction' AND xact_start < now() - interval '5 minutes'",
        "127.0.0.1:5432", "db.connections_saturated", "Raise max_connections or find the client that holds idle transactions open",
        "api-gateway pid 4711 user app since 2026-11-30T03:12:44Z", "pool size 50, waiting clients 17", "orders", "high",
    ]
    var applies: [Double] = []
    var sink = 0
    for _ in 0..<runs {
        let started = ContinuousClock.now
        for text in texts { sink &+= redactor.redact(text).utf8.count }
        applies.append(microseconds(ContinuousClock.now - started))
    }
    builds.sort()
    applies.sort()
    func format(_ us: Double) -> String { String(format: "%.0f µs", us) }
    print("redaction: build from 2 credentials (4 values) p50 \(format(percentile(builds, 0.5))); 10 strings of a finding p50 \(format(percentile(applies, 0.5))), p95 \(format(percentile(applies, 0.95))) (\(sink % 2))")
}

/// The rule planner on the session's critical path (built-in playbooks, one database).
func benchPlanner(runs: Int) async throws {
    let planner = RulePlanner(library: try PlaybookLibrary.load(directories: []))
    let inventory = EnvironmentInventory(name: "prod", databases: [DatabaseTarget(name: "orders-db", host: "127.0.0.1", port: 5432, database: "orders", credential: "env://DB_LOGIN")])
    let input = PlanningInput(problem: "Database connection failures in production", environment: inventory, context: ["service": "api-gateway"])
    var timings: [Double] = []
    for _ in 0..<runs {
        let started = ContinuousClock.now
        _ = try await planner.plan(input)
        let elapsed = ContinuousClock.now - started
        timings.append(Double(elapsed.components.seconds) * 1e6 + Double(elapsed.components.attoseconds) / 1e12)
    }
    timings.sort()
    print(String(format: "planner: rules, built-in playbooks, one database: p50 %.0f µs, p95 %.0f µs", percentile(timings, 0.5), percentile(timings, 0.95)))
}

let arguments = CommandLine.arguments.dropFirst()
let runs = arguments.firstIndex(of: "--runs").flatMap { arguments.index(after: $0) < arguments.endIndex ? Int(arguments[arguments.index(after: $0)]) : nil } ?? 100
switch arguments.first {
case "runners":
    try await benchRunners(runs: runs)
case "store":
    try await benchStore(runs: runs)
case "redaction":
    benchRedaction(runs: runs)
case "planner":
    try await benchPlanner(runs: runs)
default:
    FileHandle.standardError.write(Data("usage: sre-diagnose-bench runners|store|redaction|planner [--runs N]\n".utf8))
    exit(64)
}
