@testable import Daemon
import DiagnosisModel
import Foundation
import Logging
import RunnerProtocol
import TestSupport
import Testing

/// The supervisor with real `sre-diagnose-runner` processes (and a misbehaving stand-in runner
/// speaking the real protocol) over a real Unix socket.
@Suite struct RunnerSupervisorTests {
    final class Harness: Sendable {
        let directory: TemporaryDirectory
        let supervisor: RunnerSupervisor
        /// Where this harness's runners connect; tells them apart from other tests' runners.
        let socketPath: String

        init(executable: String = TestEnvironment.binary("sre-diagnose-runner"), maxConcurrent: Int = 4, killGrace: Duration = .milliseconds(300), warm: Int = 0) async throws {
            directory = try TestEnvironment.makeTemporaryDirectory("sup")
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            socketPath = directory.file("run/runners/supervisor.sock")
            var settings = RunnerSupervisor.Settings(socketPath: socketPath, maxConcurrent: maxConcurrent, killGrace: killGrace, maxFrameBytes: 1 << 20)
            settings.warm = warm
            supervisor = RunnerSupervisor(
                settings: settings,
                launcher: LocalRunnerLauncher(executable: executable),
                logger: logger
            )
            try await supervisor.start()
        }

        /// A wrapper script running the fake runner in `mode`.
        static func fakeRunner(_ mode: String, in directory: TemporaryDirectory) throws -> String {
            try directory.write("fake-\(mode).sh", "#!/bin/sh\nexec /usr/bin/python3 \(TestEnvironment.fixture("fake_runner.py")) \(mode)\n", mode: 0o755)
        }

        func run(_ job: RunnerJob, onEvent: @escaping @Sendable (RunnerEvent) -> Void = { _ in }) async -> (RunnerResult, [RunnerEvent]) {
            let (stream, continuation) = AsyncStream<RunnerEvent>.makeStream()
            let collector = Task {
                var events: [RunnerEvent] = []
                for await event in stream {
                    onEvent(event)
                    events.append(event)
                }
                return events
            }
            let result = await supervisor.run(job, events: continuation)
            continuation.finish()
            return (result, await collector.value)
        }

        func finish() async {
            await supervisor.stop(reason: "test over")
            directory.remove()
        }
    }

    static func job(_ domain: Domain = .network, session: String = "session-1", deadline: Double = 20, probes: [ProbeRequest], credentials: [String: ResolvedCredential] = [:]) -> RunnerJob {
        RunnerJob(sessionID: session, domain: domain, probes: probes, credentials: credentials, deadline: Date().addingTimeInterval(deadline))
    }

    static func findings(_ events: [RunnerEvent]) -> [Finding] {
        events.compactMap { if case .finding(let finding) = $0 { finding } else { nil } }
    }

    static func pid(_ events: [RunnerEvent]) -> Int32? {
        events.lazy.compactMap { if case .started(_, let pid) = $0 { pid } else { nil } }.first
    }

    @Test func realRunnerRunsTCPProbesEndToEnd() async throws {
        let harness = try await Harness()
        defer { Task { await harness.finish() } }
        let open = try TestEnvironment.listeningSocket()
        defer { close(open.fd) }
        let closedPort = try TestEnvironment.freePort()
        let (result, events) = await harness.run(Self.job(probes: [
            ProbeRequest(id: "open", probe: "net.tcp_connect", target: "127.0.0.1:\(open.port)"),
            ProbeRequest(id: "closed", probe: "net.tcp_connect", target: "127.0.0.1:\(closedPort)"),
            ProbeRequest(id: "nxdomain", probe: "net.tcp_connect", target: "no-such-host.invalid:443"),
        ]))
        guard case .completed(let done) = result else { Issue.record("expected completion, got \(result)"); return }
        #expect(done.outcomes.map(\.status) == [.ok, .ok, .ok])
        let codes = Set(Self.findings(events).map(\.code))
        #expect(codes == ["net.ok", "net.tcp_refused", "net.dns_failure"])
        #expect(Self.findings(events).allSatisfy { $0.domain == .network && $0.probe == "net.tcp_connect" })
        let progress = events.compactMap { if case .progress(let update) = $0 { update } else { nil } }
        #expect(progress.filter { $0.state == .finished }.count == 3)
        #expect(progress.last?.fraction == 1)
        #expect(Self.pid(events) != nil)
    }

    /// A supervisor whose launcher starts the misbehaving stand-in runner in `mode`.
    static func fakeSupervisor(_ mode: String, in directory: TemporaryDirectory, connectTimeout: Duration = .seconds(10)) async throws -> RunnerSupervisor {
        var settings = RunnerSupervisor.Settings(socketPath: directory.file("\(mode)/s.sock"), maxConcurrent: 2, killGrace: .milliseconds(300), maxFrameBytes: 1 << 20)
        settings.connectTimeout = connectTimeout
        let supervisor = RunnerSupervisor(settings: settings, launcher: LocalRunnerLauncher(executable: try Harness.fakeRunner(mode, in: directory)), logger: Logger(label: "test"))
        try await supervisor.start()
        return supervisor
    }

    /// Warm runners: started and authenticated before any job, each serves exactly one job (its
    /// pid is the job's runner, and it exits after), the pool refills once a runner has ended
    /// (not while the job that took a warm runner starts), a killed idle runner is replaced, and
    /// shutdown stops them.
    @Test func warmRunnersServeOneJobEachAndAreReplaced() async throws {
        let harness = try await Harness(maxConcurrent: 4, warm: 2)
        let open = try TestEnvironment.listeningSocket()
        defer { close(open.fd) }
        #expect(await TestEnvironment.waitUntilAsync { await harness.supervisor.warmCounts.idle == 2 && Self.runnerPIDs(of: harness).count == 2 })
        let warmPIDs = Self.runnerPIDs(of: harness)
        var served: [Int32] = []
        for session in ["s-1", "s-2", "s-3"] {
            if session == "s-3" {
                // Two jobs took the pool; it refills as their runners end, without a new job.
                #expect(await TestEnvironment.waitUntilAsync { await harness.supervisor.warmCounts.idle >= 1 })
            }
            let (result, events) = await harness.run(Self.job(session: session, probes: [ProbeRequest(id: "open", probe: "net.tcp_connect", target: "127.0.0.1:\(open.port)")]))
            guard case .completed = result else { Issue.record("\(session): \(result)"); continue }
            #expect(Self.findings(events).map(\.code) == ["net.ok"])
            if let pid = Self.pid(events) { served.append(pid) }
        }
        #expect(Set(served).count == 3, "a runner never serves two jobs: \(served)")
        #expect(warmPIDs.allSatisfy(served.contains), "the first jobs went to the warm runners \(warmPIDs), served by \(served)")
        #expect(await TestEnvironment.waitUntilAsync { served.allSatisfy { !TestEnvironment.processAlive($0) } }, "each exits after its job")
        #expect(await harness.supervisor.warmCounts.served == 3)
        // The pool refilled; a killed idle runner is replaced.
        #expect(await TestEnvironment.waitUntilAsync { await harness.supervisor.warmCounts.idle == 2 })
        let idle = Self.runnerPIDs(of: harness)
        let victim = try #require(idle.first)
        kill(victim, SIGKILL)
        #expect(await TestEnvironment.waitUntilAsync { let now = Self.runnerPIDs(of: harness); return now.count == 2 && !now.contains(victim) })
        await harness.finish()
        #expect(await TestEnvironment.waitUntilAsync { Self.runnerPIDs(of: harness).isEmpty }, "shutdown stops the warm runners")
    }

    /// `sre-diagnose-runner` processes that are children of this test process.
    /// The live runner processes of `harness` (tests in this suite run in parallel, so the
    /// runner's environment, which names the harness's socket, tells whose it is).
    static func runnerPIDs(of harness: Harness) -> [Int32] {
        let me = getpid()
        let marker = Data("\(RunnerEnvironment.socket)=\(harness.socketPath)\u{0}".utf8)
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
            guard stat.contains("(sre-diagnose-ru") else { return false }
            let fields = stat.split(separator: ")").last?.split(separator: " ") ?? []
            guard fields.count > 1, Int32(fields[1]) == me, fields[0] != "Z" else { return false }
            let environ = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/environ"))) ?? Data()
            return environ.range(of: marker) != nil
        }.sorted()
    }

    @Test func wrongTokenIsRejected() async throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("tok")
        defer { directory.remove() }
        let supervisor = try await Self.fakeSupervisor("wrong_token", in: directory)
        let (_, continuation) = AsyncStream<RunnerEvent>.makeStream()
        let result = await supervisor.run(Self.job(probes: [ProbeRequest(id: "a", probe: "net.tcp_connect", target: "127.0.0.1:1")]), events: continuation)
        guard case .failed(let reason, _) = result else { Issue.record("expected failure"); return }
        // The stand-in exits 5 after the daemon answered its hello with an error and hung up.
        #expect(reason.contains("exited with status 5"), "\(reason)")
        await supervisor.stop(reason: "done")
    }

    @Test func helloFromAnotherPidIsRejected() async throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("pid")
        defer { directory.remove() }
        let supervisor = try await Self.fakeSupervisor("other_pid", in: directory, connectTimeout: .seconds(2))
        let (_, continuation) = AsyncStream<RunnerEvent>.makeStream()
        let started = ContinuousClock.now
        let result = await supervisor.run(Self.job(deadline: 30, probes: [ProbeRequest(id: "a", probe: "net.tcp_connect", target: "127.0.0.1:1")]), events: continuation)
        guard case .failed(let reason, _) = result else { Issue.record("expected failure"); return }
        // The right token from the wrong pid is refused, so the spawned runner never connects.
        #expect(reason.contains("did not connect"), "\(reason)")
        #expect(ContinuousClock.now - started < .seconds(10))
        await supervisor.stop(reason: "done")
    }

    @Test func killedRunnerFailsOnlyItsDomain() async throws {
        let harness = try await Harness()
        defer { Task { await harness.finish() } }
        let open = try TestEnvironment.listeningSocket()
        defer { close(open.fd) }
        async let victim = harness.run(Self.job(.host, probes: [
            ProbeRequest(id: "sleep", probe: "command", target: "sleeper", params: ["command": "sleep", "args": ["31.7"]]),
        ])) { event in
            if case .started(_, let pid?) = event {
                Thread.detachNewThread {
                    Thread.sleep(forTimeInterval: 0.5)
                    kill(pid, SIGKILL)
                }
            }
        }
        async let healthy = harness.run(Self.job(.network, probes: [ProbeRequest(id: "ok", probe: "net.tcp_connect", target: "127.0.0.1:\(open.port)")]))
        let (victimResult, _) = await victim
        let (healthyResult, healthyEvents) = await healthy
        guard case .failed(let reason, _) = victimResult else { Issue.record("expected failure"); return }
        #expect(reason.contains("killed by signal 9"), "\(reason)")
        // The runner's tool died with it.
        #expect(TestEnvironment.waitUntil(timeout: 3) { !TestEnvironment.commandLines().contains { $0.contains("sleep\n31.7") } })
        guard case .completed = healthyResult else { Issue.record("healthy domain should complete: \(healthyResult)"); return }
        #expect(Self.findings(healthyEvents).map(\.code) == ["net.ok"])
    }

    @Test func hungRunnerIsKilledAtItsDeadline() async throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("hang")
        defer { directory.remove() }
        let supervisor = try await Self.fakeSupervisor("hang", in: directory)
        let (stream, continuation) = AsyncStream<RunnerEvent>.makeStream()
        let pidTask = Task { () -> Int32? in
            for await event in stream { if case .started(_, let pid) = event { return pid } }
            return nil
        }
        let started = ContinuousClock.now
        let result = await supervisor.run(Self.job(deadline: 1.5, probes: [ProbeRequest(id: "a", probe: "net.tcp_connect", target: "127.0.0.1:1")]), events: continuation)
        continuation.finish()
        let elapsed = ContinuousClock.now - started
        guard case .failed(let reason, _) = result else { Issue.record("expected failure"); return }
        #expect(reason.contains("deadline exceeded"), "\(reason)")
        #expect(reason.contains("signal 9"), "it ignores cancel and SIGTERM, so SIGKILL: \(reason)")
        #expect(elapsed < .seconds(6))
        let pid = try #require(await pidTask.value)
        #expect(!TestEnvironment.processAlive(pid))
        await supervisor.stop(reason: "done")
    }

    @Test(arguments: ["garbage", "oversize"])
    func badFramesCloseOnlyThatConnection(mode: String) async throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("bad")
        defer { directory.remove() }
        let supervisor = try await Self.fakeSupervisor(mode, in: directory)
        let (_, continuation) = AsyncStream<RunnerEvent>.makeStream()
        let result = await supervisor.run(Self.job(probes: [ProbeRequest(id: "a", probe: "net.tcp_connect", target: "127.0.0.1:1")]), events: continuation)
        guard case .failed(let reason, _) = result else { Issue.record("expected failure"); return }
        #expect(reason.contains("protocol error"), "\(reason)")
        #expect(reason.contains(mode == "garbage" ? "not a JSON object" : "exceeds"), "\(reason)")
        await supervisor.stop(reason: "done")

        // Nothing else is harmed: a real runner next to it completes.
        let harness = try await Harness()
        defer { Task { await harness.finish() } }
        let (ok, _) = await harness.run(Self.job(probes: [ProbeRequest(id: "a", probe: "net.tcp_connect", target: "127.0.0.1:1")]))
        guard case .completed = ok else { Issue.record("expected completion"); return }
    }

    @Test func fiftyRunnersThroughALimitOfFour() async throws {
        let harness = try await Harness(maxConcurrent: 4)
        defer { Task { await harness.finish() } }
        let open = try TestEnvironment.listeningSocket()
        defer { close(open.fd) }
        // The runner processes alive at once, sampled from /proc while the jobs run (counting
        // "started" events against finished tasks raced the slot hand-over).
        let peak = PeakCounter()
        let sampler = Task.detached {
            while !Task.isCancelled {
                peak.observe(Self.runnerPIDs(of: harness).count)
                try? await Task.sleep(for: .milliseconds(2))
            }
        }
        let results = await withTaskGroup(of: (RunnerResult, [RunnerEvent]).self) { group in
            for index in 0..<50 {
                group.addTask {
                    await harness.run(Self.job(.network, session: "s-\(index)", probes: [
                        ProbeRequest(id: "ok", probe: "net.tcp_connect", target: "127.0.0.1:\(open.port)"),
                    ]))
                }
            }
            var all: [(RunnerResult, [RunnerEvent])] = []
            for await item in group { all.append(item) }
            return all
        }
        sampler.cancel()
        #expect(results.count == 50)
        let failures = results.compactMap { if case .failed(let reason, _) = $0.0 { reason } else { nil } }
        #expect(failures.isEmpty, "\(failures)")
        #expect(results.allSatisfy { Self.findings($0.1).map(\.code) == ["net.ok"] })
        let queued = results.filter { $0.1.contains { if case .queued = $0 { true } else { false } } }.count
        #expect(queued > 0, "some runners must have waited for a slot")
        let counts = await harness.supervisor.counts
        #expect(counts.spawned == 50)
        // Results come back when a runner hangs up; its slot frees when the process has exited.
        #expect(await TestEnvironment.waitUntilAsync { let load = await harness.supervisor.load(); return load.running == 0 && load.queued == 0 })
        #expect(peak.maximum <= 4 && peak.maximum >= 2, "at most 4 runner processes at once (peak \(peak.maximum))")
    }

    @Test func credentialsReachOnlyTheProbeTool() async throws {
        let harness = try await Harness()
        defer { Task { await harness.finish() } }
        let canary = "canary-\(UUID().uuidString)"
        let reference = "op://vault/db/password"
        let pids = PidBox()
        let (result, events) = await harness.run(
            Self.job(.database, probes: [
                ProbeRequest(
                    id: "tool", probe: "command", target: "sleeper",
                    params: ["command": "sleep", "args": ["2"], "env": ["password": "TOOL_SECRET"]],
                    credential: reference
                ),
            ], credentials: [reference: ResolvedCredential(reference: reference, fields: ["password": canary])])
        ) { event in
            if case .started(_, let pid?) = event {
                Thread.detachNewThread {
                    Thread.sleep(forTimeInterval: 1.0)
                    pids.record(runner: pid, text: TestEnvironment.processEnvironmentAndCommandLine(pid), children: TestEnvironment.childProcesses(of: pid))
                }
            }
        }
        guard case .completed = result else { Issue.record("expected completion: \(result)"); return }
        let snapshot = try #require(pids.snapshot)
        #expect(!snapshot.text.isEmpty)
        #expect(!snapshot.text.contains(canary), "runner environ/cmdline must not hold the secret")
        // The tool itself is the one process that may hold it.
        #expect(snapshot.children.contains { $0.contains("TOOL_SECRET=\(canary)") }, "\(snapshot.children)")
        // Tools do not inherit the runner's spawn variables either.
        #expect(!snapshot.children.contains { $0.contains("SRE_RUNNER_TOKEN") })
        #expect(!Self.findings(events).contains { $0.detail.contains(canary) || $0.evidence.contains { $0.strings.contains { $0.contains(canary) } } })
    }
}

final class PeakCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var current = 0
    private(set) var maximum = 0
    func enter() { lock.lock(); current += 1; maximum = max(maximum, current); lock.unlock() }
    func leave() { lock.lock(); current -= 1; lock.unlock() }
    func observe(_ value: Int) { lock.lock(); maximum = max(maximum, value); lock.unlock() }
}

final class PidBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value: (runner: Int32, text: String, children: [String])?
    func record(runner: Int32, text: String, children: [String]) { lock.lock(); value = (runner, text, children); lock.unlock() }
    var snapshot: (runner: Int32, text: String, children: [String])? { lock.lock(); defer { lock.unlock() }; return value }
}

extension RunnerSupervisorTests {
    /// A gigabyte log file does not make the runner use more than a few tens of MB: only the tail
    /// window is read. Measured as the runner process's peak resident memory (VmHWM).
    @Test func gigabyteLogFileKeepsTheRunnerSmall() async throws {
        let harness = try await Harness()
        defer { Task { await harness.finish() } }
        let path = harness.directory.file("huge.log")
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.truncate(atOffset: 1 << 30)
        try handle.seekToEnd()
        let now = JSONCoding.format(Date())
        var tail = ""
        for index in 0..<20_000 { tail += "\(now) ERROR request \(index) failed: upstream connection refused\n" }
        try handle.write(contentsOf: Data(tail.utf8))
        try handle.close()
        let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        #expect(size > 1 << 30)

        let peak = PeakMemory()
        let (result, events) = await harness.run(Self.job(.logs, probes: [
            ProbeRequest(id: "files", probe: "logs.files", target: path),
        ])) { event in
            if case .started(_, let pid?) = event { peak.watch(pid) }
        }
        guard case .completed = result else { Issue.record("expected completion: \(result)"); return }
        let signature = try #require(Self.findings(events).first { $0.code == "logs.error_signature" })
        #expect(signature.title.contains("upstream connection refused"))
        let peakMiB = Double(peak.maximumKiB) / 1024
        #expect(peak.maximumKiB > 0)
        #expect(peakMiB < 80, "runner peak RSS \(peakMiB) MiB")
        print("gigabyte log: runner peak RSS \(Int(peakMiB)) MiB")
    }
}

/// Samples a process's VmHWM until it exits.
final class PeakMemory: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    var maximumKiB: Int { lock.lock(); defer { lock.unlock() }; return value }

    func watch(_ pid: Int32) {
        Thread.detachNewThread {
            while let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8), !status.contains("State:\tZ") {
                for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
                    let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
                    self.lock.lock(); self.value = max(self.value, kib); self.lock.unlock()
                }
                Thread.sleep(forTimeInterval: 0.01)
            }
        }
    }
}

/// The local launcher (`posix_spawn`): what a runner inherits, and that nothing of a runner
/// outlives it.
@Suite struct LocalRunnerLauncherTests {
    final class Witness: Sendable {}

    /// A runner inherits nothing of the daemon but stderr: no other descriptor (a client's
    /// socket, the database), no variable beyond its own and the locale/path ones, no ignored or
    /// blocked signal; stdin and stdout are /dev/null; it leads its own process group from the
    /// first instruction, so the group kill after it ends cannot miss it.
    @Test func aRunnerStartsCleanInItsOwnProcessGroup() async throws {
        let directory = try TestEnvironment.makeTemporaryDirectory("launch")
        defer { directory.remove() }
        let report = directory.file("report.json")
        let script = try directory.write("inspect.py", """
            #!/usr/bin/python3
            import json, os, sys
            fds = {}
            for name in os.listdir("/proc/self/fd"):
                try:
                    fds[name] = os.readlink("/proc/self/fd/" + name)
                except OSError:
                    pass
            status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
            # As exec'd: Python may add LC_CTYPE to os.environ itself (PEP 538, under the C locale).
            env = sorted(entry.split(b"=", 1)[0].decode() for entry in open("/proc/self/environ", "rb").read().split(b"\\0") if entry)
            json.dump({"fds": fds, "env": env, "pgid": os.getpgid(0), "pid": os.getpid(), "argv": sys.argv[1:],
                       "blocked": int(status["SigBlk"].strip(), 16), "ignored": int(status["SigIgn"].strip(), 16)}, open("\(report)", "w"))
            """, mode: 0o755)
        // What the daemon might hold when it launches: a descriptor without CLOEXEC, an ignored signal.
        var leaked: [Int32] = [0, 0]
        #expect(pipe(&leaked) == 0)
        defer { close(leaked[0]); close(leaked[1]) }
        let previous = signal(SIGUSR2, SIG_IGN)
        defer { signal(SIGUSR2, previous) }

        let (exited, continuation) = AsyncStream<RunnerExit>.makeStream()
        let launched = try LocalRunnerLauncher(executable: script).launch(
            RunnerLaunchRequest(runnerID: "r1", token: "t", domain: .network, sessionID: "s", socketPath: "/nonexistent", maxFrameBytes: 1024),
            onExit: { continuation.yield($0); continuation.finish() })
        let pid = try #require(launched.expectedPeerPID)
        var iterator = exited.makeAsyncIterator()
        #expect(await iterator.next() == .exited(0))

        struct Report: Decodable { let fds: [String: String]; let env: [String]; let pgid: Int32; let pid: Int32; let argv: [String]; let blocked: UInt64; let ignored: UInt64 }
        let seen = try JSONDecoder().decode(Report.self, from: Data(contentsOf: URL(fileURLWithPath: report)))
        #expect(seen.pid == pid && seen.pgid == pid, "its own process group")
        #expect(seen.argv == ["--runner-id", "r1", "--domain", "network"])
        #expect(seen.fds["0"] == "/dev/null" && seen.fds["1"] == "/dev/null")
        // 0–2, and the directory listdir itself opened.
        #expect(seen.fds.count <= 4 && seen.fds[String(leaked[0])] == nil && seen.fds[String(leaked[1])] == nil, "inherited: \(seen.fds)")
        #expect(Set(seen.env).isSubset(of: Set(LocalRunnerLauncher.passthrough + RunnerEnvironment.all)), "environment: \(seen.env)")
        #expect(seen.env.contains(RunnerEnvironment.token))
        #expect(seen.blocked == 0)
        // Of the standard signals: Python itself ignores SIGPIPE and SIGXFSZ; nothing else may be
        // (32 and 33 are glibc's own, out of any program's reach).
        let python = UInt64(1) << (SIGPIPE - 1) | UInt64(1) << (SIGXFSZ - 1)
        #expect(seen.ignored & 0x7fff_ffff & ~python == 0, "ignored: \(String(seen.ignored, radix: 16))")
    }

    /// A runner that cannot be started is an error at launch, not a silent exit later.
    @Test func aMissingExecutableFailsTheLaunch() {
        #expect(throws: LocalRunnerLauncher.LaunchError.self) {
            try LocalRunnerLauncher(executable: "/nonexistent/sre-diagnose-runner").launch(
                RunnerLaunchRequest(runnerID: "r1", token: "t", domain: nil, sessionID: nil, socketPath: "/nonexistent", maxFrameBytes: 1024),
                onExit: { _ in })
        }
    }

    @Test func processAndExitHandlerAreReleasedOnceTheRunnerExits() async throws {
        let launcher = LocalRunnerLauncher(executable: "/bin/true")
        var released: [@Sendable () -> Bool] = []
        for index in 0..<5 {
            let (exited, continuation) = AsyncStream<RunnerExit>.makeStream()
            do {
                let witness = Witness()
                weak let watched = witness
                _ = try launcher.launch(
                    RunnerLaunchRequest(runnerID: "r\(index)", token: "t", domain: nil, sessionID: nil, socketPath: "/nonexistent", maxFrameBytes: 1024),
                    onExit: { exit in
                        _ = witness
                        continuation.yield(exit)
                        continuation.finish()
                    })
                released.append { watched == nil }
            }
            var iterator = exited.makeAsyncIterator()
            #expect(await iterator.next() == .exited(0))
        }
        // The handler runs on the reaping thread; give it a moment to return and drop its captures.
        for _ in 0..<100 where !released.allSatisfy({ $0() }) { try await Task.sleep(for: .milliseconds(20)) }
        #expect(released.filter { $0() }.count == 5)
    }
}
