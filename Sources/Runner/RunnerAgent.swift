import DiagnosisModel
import Foundation
import Probes
import Redaction
import RunnerProtocol
import Synchronization

/// The runner process: connect, hello, receive the job, run its probes concurrently with
/// per-probe timeouts, stream progress and redacted findings, send `done`, exit.
///
/// It exits promptly (killing its tool children) on socket EOF — the daemon died — on `cancel`,
/// and on SIGTERM.
public enum RunnerAgent {
    /// Runs the runner and returns its exit code.
    public static func main() async -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        // Lead a process group: the daemon kills the whole group (this runner and any tool it
        // started) when the runner ends abnormally, even by SIGKILL.
        _ = setpgid(0, 0)
        let environment = ProcessInfo.processInfo.environment
        guard let socketPath = environment[RunnerEnvironment.socket], let token = environment[RunnerEnvironment.token],
              let runnerID = environment[RunnerEnvironment.runnerID]
        else {
            FileHandle.standardError.write(Data("sre-diagnose-runner: started without \(RunnerEnvironment.socket) and \(RunnerEnvironment.token); it is launched by sre-diagnosed\n".utf8))
            return 64
        }
        // A warm runner is started before its job exists: no domain yet (the job names it).
        let domain = environment[RunnerEnvironment.domain].flatMap(Domain.init(rawValue:))
        let maxFrame = environment[RunnerEnvironment.maxFrameBytes].flatMap(Int.init) ?? defaultMaxFrameBytes
        let caPEM = environment[RunnerEnvironment.caPEM]
        let serverName = environment[RunnerEnvironment.serverName]
        // Tools must not see how this runner reached the daemon.
        for name in RunnerEnvironment.all { unsetenv(name) }
        installTerminationHandler()

        let connection: RunnerConnection
        do {
            connection = try RunnerConnection(endpoint: socketPath, caPEM: caPEM, serverName: serverName, maxFrameBytes: maxFrame)
            connection.startReading()
            try connection.send(.hello(Hello(runnerID: runnerID, token: token, domain: domain, pid: getpid(), version: ProductInfo.version)))
        } catch {
            FileHandle.standardError.write(Data("sre-diagnose-runner: \(error)\n".utf8))
            return 69
        }

        // A warm runner has time until its job arrives: pay the first-use costs now.
        if domain == nil { await Warmup.prepare() }

        var iterator = connection.incoming.makeAsyncIterator()
        let job: RunnerJob
        do {
            switch try await iterator.next() {
            case .job(let received)?:
                job = received
            case .error(let error)?:
                FileHandle.standardError.write(Data("sre-diagnose-runner: rejected by the daemon: \(error.code): \(error.message)\n".utf8))
                return 77
            case .cancel?, nil:
                // Cancelled, or the daemon closed the connection before any job: a warm runner
                // retired at shutdown. Nothing to say.
                return 0
            default:
                FileHandle.standardError.write(Data("sre-diagnose-runner: expected a job frame\n".utf8))
                return 76
            }
        } catch {
            // A warm runner whose connection the daemon dropped at shutdown has nothing to report.
            if domain != nil { FileHandle.standardError.write(Data("sre-diagnose-runner: \(error)\n".utf8)) }
            return 76
        }

        let execution = JobExecution(job: job, connection: connection)
        let work = Task { await execution.run() }
        // Watch the daemon while the job runs: cancel → stop the probes; EOF → exit now.
        let watcher = Task.detached {
            do {
                while let message = try await iterator.next() {
                    if case .cancel = message { work.cancel() }
                }
            } catch {}
            if !Task.isCancelled {
                // The daemon is gone (or sent garbage): nobody will read our results. Take the
                // whole process group down — tools and anything they started, then this runner.
                ToolRunner.killAll()
                PrivateFiles.runner.removeAll()
                kill(0, SIGKILL)
                exit(70)
            }
        }
        await work.value
        watcher.cancel()
        connection.close()
        PrivateFiles.runner.removeAll()
        return 0
    }

    /// SIGTERM/SIGINT: kill tool children, exit.
    private static func installTerminationHandler() {
        for signalNumber in [SIGTERM, SIGINT] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                ToolRunner.killAll()
                PrivateFiles.runner.removeAll()
                exit(128 + signalNumber)
            }
            source.resume()
            signalSources.append(source)
        }
    }

    /// Kept alive for the life of the process; written once at start-up, before any task.
    nonisolated(unsafe) private static var signalSources: [any DispatchSourceSignal] = []
}

/// Runs one job's probes and streams their results.
final class JobExecution: ProbeSink, Sendable {
    let job: RunnerJob
    let connection: RunnerConnection
    let redactor: Redactor
    private let counters = Mutex<(findings: Int, finished: Int, perProbe: [String: Int])>((0, 0, [:]))

    init(job: RunnerJob, connection: RunnerConnection) {
        self.job = job
        self.connection = connection
        self.redactor = Redactor(secrets: job.credentials.mapValues(\.secretValues))
    }

    func run() async {
        let started = ContinuousClock.now
        let jobDeadline = started + .seconds(max(0.1, job.deadline.timeIntervalSinceNow))
        let tools = ToolRunner()
        let outcomes = await withTaskGroup(of: ProbeOutcome.self) { group in
            for request in job.probes {
                group.addTask { await self.runProbe(request, tools: tools, jobDeadline: jobDeadline) }
            }
            var outcomes: [ProbeOutcome] = []
            for await outcome in group { outcomes.append(outcome) }
            return outcomes
        }
        let ordered = job.probes.compactMap { request in outcomes.first { $0.id == request.id } }
        send(.done(Done(outcomes: ordered, durationMs: (ContinuousClock.now - started).milliseconds)))
    }

    private func runProbe(_ request: ProbeRequest, tools: ToolRunner, jobDeadline: ContinuousClock.Instant) async -> ProbeOutcome {
        let started = ContinuousClock.now
        send(.progress(ProgressUpdate(probe: request.id, state: .started, fraction: fraction())))
        func finish(_ status: ProbeOutcome.Status, _ error: String? = nil) -> ProbeOutcome {
            // Count and send under one lock, so the fractions the daemon sees only grow.
            counters.withLock { counts in
                counts.finished += 1
                send(.progress(ProgressUpdate(probe: request.id, state: .finished, fraction: Double(counts.finished) / Double(max(job.probes.count, 1)))))
            }
            let findings = counters.withLock { $0.perProbe[request.id] ?? 0 }
            return ProbeOutcome(
                id: request.id, probe: request.probe, status: status,
                durationMs: (ContinuousClock.now - started).milliseconds,
                error: error.map(redactor.redact), findings: findings
            )
        }

        guard let probe = ProbeRegistry.builtIn[request.probe] else {
            return finish(.skipped, "unknown probe \(request.probe)")
        }
        var credential: ResolvedCredential?
        if let reference = request.credential {
            guard let resolved = job.credentials[reference] else {
                return finish(.skipped, "credential \(reference) was not approved")
            }
            credential = resolved
        }
        let defaultTimeout = ProbeCatalog.info(request.probe)?.defaultTimeoutSeconds ?? 30
        let timeout = Duration.milliseconds(Int64((request.timeoutSeconds ?? defaultTimeout) * 1000))
        let deadline = min(started + timeout, jobDeadline)
        let context = ProbeContext(request: request, credential: credential, tools: tools, deadline: deadline, sink: self)

        enum Ending: Sendable { case finished, failed(String), timedOut }
        let ending: Ending = await withTaskGroup(of: Ending?.self) { group in
            group.addTask {
                do {
                    try await probe.run(context)
                    return .finished
                } catch is CancellationError {
                    return nil
                } catch {
                    return .failed("\(error)")
                }
            }
            group.addTask {
                try? await Task.sleep(until: deadline)
                return Task.isCancelled ? nil : .timedOut
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? .failed("cancelled")
        }
        if Task.isCancelled { return finish(.cancelled, "job cancelled") }
        switch ending {
        case .finished: return finish(.ok)
        case .failed(let reason): return finish(.failed, reason)
        case .timedOut: return finish(.timedOut, "no result within \((deadline - started).milliseconds) ms")
        }
    }

    private func fraction() -> Double {
        counters.withLock { Double($0.finished) / Double(max(job.probes.count, 1)) }
    }

    // MARK: ProbeSink

    func report(_ draft: FindingDraft, from request: ProbeRequest) async {
        let number = counters.withLock { counts -> Int in
            counts.findings += 1
            counts.perProbe[request.id, default: 0] += 1
            return counts.findings
        }
        let finding = Finding(
            id: "\(job.domain.rawValue)-\(number)", domain: job.domain, probe: request.probe,
            draft: draft, observedAt: Date()
        ).mapStrings(redactor.redact)
        send(.finding(FindingLimits.fit(finding, maxFrameBytes: connection.maxFrameBytes)))
    }

    func log(_ level: LogLevel, _ message: String, from request: ProbeRequest) async {
        send(.log(LogLine(level: LogLine.Level(rawValue: level.rawValue) ?? .info, message: redactor.redact("\(request.id): \(message)"), probe: request.id)))
    }

    private func send(_ message: RunnerMessage) {
        do {
            try connection.send(message)
        } catch {
            // The daemon is gone; the watcher exits the process.
        }
    }
}

/// Keeps a finding within one frame: evidence tables and long texts are cut, with a note.
enum FindingLimits {
    static func fit(_ finding: Finding, maxFrameBytes: Int) -> Finding {
        var finding = finding
        let budget = max(1024, maxFrameBytes / 2)
        func size() -> Int { (try? MessageCodec.encode(.finding(finding)).count) ?? Int.max }
        guard size() > budget else { return finding }
        finding.evidence = finding.evidence.map { evidence in
            var evidence = evidence
            if let rows = evidence.rows, rows.count > 50 {
                evidence.rows = Array(rows.prefix(50)) + [["… \(rows.count - 50) more rows"]]
            }
            if let text = evidence.text, text.utf8.count > 8192 {
                evidence.text = String(text.prefix(8192)) + "\n… (truncated)"
            }
            return evidence
        }
        if size() > budget {
            finding.evidence = [.text("evidence", "evidence too large for one frame; dropped")]
            finding.detail = String(finding.detail.prefix(4096))
        }
        return finding
    }
}
