@testable import Daemon
import DiagnosisModel
import Foundation
import RunnerProtocol
import Testing

/// The runner exchange and the token rule without processes or sockets: each path of a
/// runner's life is a sequence of signals and the actions they produce.
@Suite struct RunnerExchangeTests {
    static let done = Done(outcomes: [], durationMs: 12)
    static let finding = Finding(
        id: "f1", domain: .network, probe: "net.tcp",
        draft: FindingDraft(code: .netTCPRefused, severity: .high, target: "127.0.0.1:1", title: "refused"), observedAt: Date(timeIntervalSince1970: 0)
    )

    func exchange() -> RunnerExchange { RunnerExchange(connectTimeout: .seconds(10)) }

    @Test func helloJobProgressFindingDone() {
        var exchange = exchange()
        #expect(exchange.receive(.connected) == [])
        let progress = ProgressUpdate(probe: "net.tcp#1", state: .started, fraction: 0.5)
        #expect(exchange.receive(.message(.progress(progress))) == [.forward(.progress(progress))])
        #expect(exchange.receive(.message(.finding(Self.finding))) == [.forward(.finding(Self.finding))])
        #expect(exchange.receive(.message(.heartbeat)) == [])
        #expect(exchange.receive(.message(.done(Self.done))) == [])
        #expect(exchange.receive(.connectionClosed(nil)) == [.killAfterGrace, .resolve], "finished and hung up: the result is final; make sure it exits")
        guard case .completed(let early) = exchange.result else { Issue.record("\(exchange.result)"); return }
        #expect(early == Self.done, "the session goes on before the process has exited")
        #expect(!exchange.isFinished, "the slot is held until the process exits")
        #expect(exchange.receive(.exited(.exited(0))) == [.finish])
        #expect(exchange.isFinished)
        guard case .completed(let result) = exchange.result else { Issue.record("\(exchange.result)"); return }
        #expect(result == Self.done)
        #expect(exchange.receive(.deadline) == [], "nothing after the end")
    }

    @Test func exitWithTheConnectionOpenWaitsForTheLastFrames() {
        var exchange = exchange()
        _ = exchange.receive(.connected)
        #expect(exchange.receive(.exited(.exited(0))) == [.awaitLastFrames])
        #expect(exchange.receive(.message(.done(Self.done))) == [])
        #expect(exchange.receive(.connectionClosed(nil)) == [.killAfterGrace, .resolve, .finish])
        guard case .completed = exchange.result else { Issue.record("\(exchange.result)"); return }
    }

    @Test func crashBeforeFinishing() {
        var exchange = exchange()
        _ = exchange.receive(.connected)
        _ = exchange.receive(.message(.finding(Self.finding)))
        #expect(exchange.receive(.exited(.signaled(SIGSEGV))) == [.awaitLastFrames])
        #expect(exchange.receive(.connectionClosed(nil)) == [.terminate(cancelReason: nil), .finish])
        guard case .failed(let reason, let partial) = exchange.result else { Issue.record("\(exchange.result)"); return }
        #expect(reason == "the runner closed its connection before finishing; the runner killed by signal 11 (SIGSEGV)")
        #expect(partial == nil)
    }

    @Test func exitWithoutEverConnecting() {
        var exchange = exchange()
        #expect(exchange.receive(.exited(.exited(5))) == [.finish])
        guard case .failed(let reason, _) = exchange.result else { Issue.record("\(exchange.result)"); return }
        #expect(reason == "the runner exited with status 5 before finishing")
    }

    @Test func helloTimeout() {
        var exchange = exchange()
        #expect(exchange.receive(.helloTimeout) == [.terminate(cancelReason: nil)])
        #expect(exchange.receive(.exited(.signaled(SIGTERM))) == [.finish])
        guard case .failed(let reason, _) = exchange.result else { Issue.record("\(exchange.result)"); return }
        #expect(reason.hasPrefix("the runner did not connect within 10"))
        // Once connected, the timer is harmless.
        var connected = self.exchange()
        _ = connected.receive(.connected)
        #expect(connected.receive(.helloTimeout) == [])
    }

    @Test func deadlineCancelsThenKillsOnce() {
        var exchange = exchange()
        _ = exchange.receive(.connected)
        #expect(exchange.receive(.deadline) == [.terminate(cancelReason: "deadline exceeded (runner killed)")])
        #expect(exchange.receive(.cancel("user")) == [], "one escalation at a time; the first reason stays")
        #expect(exchange.receive(.connectionClosed(nil)) == [])
        #expect(exchange.receive(.exited(.signaled(SIGKILL))) == [.finish])
        guard case .failed(let reason, _) = exchange.result else { Issue.record("\(exchange.result)"); return }
        #expect(reason == "deadline exceeded (runner killed); the runner killed by signal 9 (SIGKILL)")
    }

    @Test func cancelAfterDoneChangesNothing() {
        var exchange = exchange()
        _ = exchange.receive(.connected)
        _ = exchange.receive(.message(.done(Self.done)))
        #expect(exchange.receive(.cancel("session cancelled")) == [])
        #expect(exchange.receive(.deadline) == [])
    }

    @Test func protocolViolations() {
        var malformed = exchange()
        _ = malformed.receive(.connected)
        #expect(malformed.receive(.connectionClosed(.protocolError("frame is not a JSON object"))) == [.terminate(cancelReason: nil)])
        _ = malformed.receive(.exited(.exited(1)))
        guard case .failed(let reason, _) = malformed.result else { Issue.record("\(malformed.result)"); return }
        #expect(reason.hasPrefix("protocol error: frame is not a JSON object"))

        var unexpected = exchange()
        _ = unexpected.receive(.connected)
        #expect(unexpected.receive(.message(.cancel(Cancel(reason: "x")))) == [.terminate(cancelReason: nil)])
        #expect(unexpected.failure == .unexpectedFrame("cancel"))

        var reported = exchange()
        _ = reported.receive(.connected)
        _ = reported.receive(.message(.error(ProtocolErrorBody(code: "probe_crash", message: "boom"))))
        #expect(reported.failure == .runnerError(code: "probe_crash", message: "boom"))

        var unknown = exchange()
        #expect(unknown.receive(.message(.unknown(type: "telemetry"))) == [.ignoreUnknownFrame("telemetry")])
        #expect(unknown.failure == nil)
    }

    @Test func tokensAreOneTimeAndBoundToTheSpawnedPid() {
        var tokens = RunnerTokens()
        tokens.register("t1")
        tokens.expect(pid: 4242, for: "t1")
        #expect(tokens.claim("nope", peerPID: 4242) == .unknownToken)
        #expect(tokens.claim("t1", peerPID: 999) == .wrongPeer(expected: 4242, got: 999))
        #expect(tokens.claim("t1", peerPID: 4242) == nil)
        #expect(tokens.claim("t1", peerPID: 4242) == .alreadyUsed)
        tokens.remove("t1")
        #expect(tokens.claim("t1", peerPID: 4242) == .unknownToken)
        // A launcher that cannot know the pid (a remote runner) relies on the token alone.
        tokens.register("t2")
        #expect(tokens.claim("t2", peerPID: nil) == nil)
    }
}
