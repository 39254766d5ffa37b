import DiagnosisModel
import Foundation
import Logging
import ServiceLifecycle
import SessionStore
import Systemd

/// This daemon's part in a cluster of daemons sharing one PostgreSQL store (`storage.backend:
/// postgres`): it holds and renews the leases of the sessions it runs, takes over the sessions
/// whose owner stopped renewing (it died), carries out commands other daemons post for its
/// sessions, and wakes this daemon's readers when another daemon writes.
///
/// Wake-ups come by `LISTEN/NOTIFY`; each loop also polls, so a missed or delayed notification
/// costs latency, never correctness.
public actor ClusterService: Service {
    let coordination: any SessionCoordination
    /// This daemon's name in leases: host, pid and a random part (a restarted daemon is a new owner).
    let owner: String
    let lease: Duration
    let logger: Logger
    private var sessions: SessionService?
    private var eventWaiters = Waiters<String>()
    private var answerWaiters = Waiters<Int64>()

    init(coordination: any SessionCoordination, lease: Duration, logger: Logger) {
        self.coordination = coordination
        self.lease = lease
        self.logger = logger
        let host = ProcessInfo.processInfo.hostName
        owner = "\(host)/\(getpid())/\(UUID().uuidString.prefix(8).lowercased())"
    }

    func attach(_ sessions: SessionService) { self.sessions = sessions }

    // MARK: Leases

    func acquire(_ sessionID: String) async throws -> Bool {
        try await coordination.acquireLease(sessionID: sessionID, owner: owner, duration: lease)
    }

    func release(_ sessionID: String) async {
        do {
            try await coordination.releaseLease(sessionID: sessionID, owner: owner)
        } catch {
            logger.warning("cannot release the lease of session \(sessionID): \(error); it lapses in \(lease)")
        }
    }

    /// The alert intake's drain: a lease of its own, so one daemon drains at a time and a daemon
    /// that dies mid-drain blocks nobody for longer than the lease.
    static let intakeDrainLease = "intake-drain"

    func acquireIntakeDrain() async -> Bool {
        (try? await coordination.acquireLease(sessionID: Self.intakeDrainLease, owner: owner, duration: max(lease, .seconds(30)))) ?? false
    }

    func releaseIntakeDrain() async { await release(Self.intakeDrainLease) }

    // MARK: Commands for another daemon's session

    /// Posts `command` for the session's owner and waits for the answer; nil when none came
    /// within `timeout` (no daemon holds the session, or its owner is busy dying).
    func ask(_ command: OwnerCommand, sessionID: String, timeout: Duration = .seconds(10)) async throws -> OwnerAnswer? {
        let id = try await coordination.submit(try command.stored(for: sessionID))
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let text = try await coordination.answer(of: id) {
                return try JSONCoding.decoder().decode(OwnerAnswer.self, from: Data(text.utf8))
            }
            await waitForAnswer(to: id, upTo: .milliseconds(500))
        }
        // Withdrawn, so an owner that comes later does not act on a request its caller was told
        // failed; if the owner answered in the meantime, that answer stands.
        try await coordination.answer(id, with: OwnerAnswer(error: .conflict("withdrawn: no answer in time")).text)
        let text = try await coordination.answer(of: id)
        let answer = try text.map { try JSONCoding.decoder().decode(OwnerAnswer.self, from: Data($0.utf8)) }
        return answer?.error?.message == "withdrawn: no answer in time" ? nil : answer
    }

    // MARK: Waiting for news

    /// Returns when the session has new events somewhere, or after `timeout`.
    func waitForEvents(of sessionID: String, upTo timeout: Duration) async {
        let token = UUID()
        await withCheckedContinuation { continuation in
            eventWaiters.add(continuation, for: sessionID, token: token)
            Task {
                try? await Task.sleep(for: timeout)
                self.eventWaitTimedOut(sessionID, token: token)
            }
        }
    }

    private func eventWaitTimedOut(_ sessionID: String, token: UUID) { eventWaiters.resume(sessionID, token: token) }

    /// Returns when the command has an answer, or after `timeout`.
    private func waitForAnswer(to commandID: Int64, upTo timeout: Duration) async {
        let token = UUID()
        await withCheckedContinuation { continuation in
            answerWaiters.add(continuation, for: commandID, token: token)
            Task {
                try? await Task.sleep(for: timeout)
                self.answerWaitTimedOut(commandID, token: token)
            }
        }
    }

    private func answerWaitTimedOut(_ commandID: Int64, token: UUID) { answerWaiters.resume(commandID, token: token) }

    private func wake(_ wakeUp: CoordinationWakeUp) async {
        switch wakeUp {
        case .events(let sessionID): eventWaiters.resumeAll(sessionID)
        case .answer(let id): answerWaiters.resumeAll(id)
        case .command(let sessionID):
            if let sessions, await sessions.isLive(sessionID) { await carryOutCommands(for: [sessionID]) }
        }
    }

    // MARK: Running

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.listenLoop() }
            group.addTask { await self.leaseLoop() }
            group.addTask { await self.sweepLoop() }
            try? await gracefulShutdown()
            group.cancelAll()
        }
    }

    /// Wake-ups, reconnecting after a failure.
    private func listenLoop() async {
        while !Task.isCancelled {
            do {
                try await coordination.listen { wakeUp in Task { await self.wake(wakeUp) } }
            } catch {
                if Task.isCancelled { return }
                logger.warning("cluster notifications interrupted: \(error); listening again (polling meanwhile)")
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// Renews this daemon's leases a few times per lease period; a session whose lease another
    /// daemon took (this one was cut off for longer than the lease) stops running here.
    private func leaseLoop() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: lease / 3)
            guard let sessions else { continue }
            let live = await sessions.liveSessionIDs()
            do {
                for lost in try await coordination.renewLeases(owner: owner, sessionIDs: live, duration: lease) {
                    logger.error("lost the lease of session \(lost) to another daemon; stopping it here", metadata: [LogKey.sessionID: "\(lost)"])
                    await sessions.handOver(lost)
                }
            } catch {
                logger.warning("cannot renew session leases: \(error)")
            }
        }
    }

    /// Takes over sessions nobody holds, and carries out commands for this daemon's sessions
    /// (also when a notification was missed).
    private func sweepLoop() async {
        while !Task.isCancelled {
            await takeOverOrphans()
            if let sessions { await carryOutCommands(for: await sessions.liveSessionIDs()) }
            try? await Task.sleep(for: min(lease / 2, .seconds(1)))
        }
    }

    private func takeOverOrphans() async {
        guard let sessions else { return }
        do {
            for record in try await coordination.orphanedSessions() where !(await sessions.isLive(record.id)) {
                guard try await acquire(record.id) else { continue }
                logger.notice("taking over session \(record.id) (\(record.status.rawValue)): its daemon stopped renewing its lease", metadata: [LogKey.sessionID: "\(record.id)"])
                await sessions.resume(record)
            }
        } catch {
            logger.warning("cannot look for sessions to take over: \(error)")
        }
    }

    private var carrying: Set<Int64> = []

    private func carryOutCommands(for sessionIDs: [String]) async {
        guard let sessions, !sessionIDs.isEmpty else { return }
        do {
            for command in try await coordination.openCommands(sessionIDs: sessionIDs) where !carrying.contains(command.id) {
                carrying.insert(command.id)
                let answer: OwnerAnswer
                do {
                    answer = await sessions.carryOut(try OwnerCommand(command), sessionID: command.sessionID)
                } catch {
                    answer = OwnerAnswer(error: .invalid("unreadable command: \(error)"))
                }
                try await coordination.answer(command.id, with: answer.text)
                carrying.remove(command.id)
            }
        } catch {
            logger.warning("cannot carry out commands from other daemons: \(error)")
        }
    }
}

/// Readers waiting for news about a key, each resumed exactly once: by the news or its timeout.
struct Waiters<Key: Hashable> {
    private var waiting: [Key: [UUID: CheckedContinuation<Void, Never>]] = [:]

    mutating func add(_ continuation: CheckedContinuation<Void, Never>, for key: Key, token: UUID) {
        waiting[key, default: [:]][token] = continuation
    }

    mutating func resume(_ key: Key, token: UUID) {
        waiting[key]?.removeValue(forKey: token)?.resume()
        if waiting[key]?.isEmpty == true { waiting.removeValue(forKey: key) }
    }

    mutating func resumeAll(_ key: Key) {
        for continuation in waiting.removeValue(forKey: key)?.values ?? [:].values { continuation.resume() }
    }
}
