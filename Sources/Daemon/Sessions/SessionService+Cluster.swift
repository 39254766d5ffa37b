import DiagnosisModel
import Foundation
import Logging
import Systemd

/// The half of the session service that exists because several daemons share one store:
/// following a session another daemon runs, asking its owner to act, acting for others,
/// continuing a session whose owner stopped, and letting go of one.
extension SessionService {
    /// The events of a session another daemon runs, from the store as they are written: woken
    /// by the writer's notification, polling once a second should one be missed; it ends with
    /// the session's terminal event — also when the session changes owner meanwhile.
    func follow(id: String, after: Int, cluster: ClusterService) -> AsyncStream<SessionEvent> {
        let store = self.store
        let (stream, continuation) = AsyncStream<SessionEvent>.makeStream()
        let feeder = Task {
            var last = after
            while !Task.isCancelled {
                guard let events = try? await store.events(sessionID: id, after: last) else { break }
                for event in events {
                    continuation.yield(event)
                    last = event.sequence
                    if event.isTerminal {
                        continuation.finish()
                        return
                    }
                }
                if events.isEmpty { await cluster.waitForEvents(of: id, upTo: .seconds(1)) }
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in feeder.cancel() }
        return stream
    }

    /// Has the session's owner carry out `command`; its refusal becomes this daemon's.
    func ask(_ cluster: ClusterService, _ command: OwnerCommand, id: String) async throws -> OwnerAnswer {
        guard let answer = try await cluster.ask(command, sessionID: id) else {
            throw SessionError.conflict("the daemon running this session did not answer; if it stopped, another daemon takes the session over within \(cluster.lease) — try again then")
        }
        if let error = answer.sessionError { throw error }
        return answer
    }

    /// Carries out another daemon's request for a session this daemon runs.
    func carryOut(_ command: OwnerCommand, sessionID: String) async -> OwnerAnswer {
        guard live[sessionID] != nil else { return OwnerAnswer(error: .conflict("the session is not running on the daemon that got the request; try again")) }
        do {
            switch command {
            case .decide(let request, let approver):
                return OwnerAnswer(decision: try await decide(id: sessionID, request, by: approver.identity))
            case .cancel(let identity):
                return OwnerAnswer(record: try await cancel(id: sessionID, by: identity.identity))
            case .alerts(let update):
                return OwnerAnswer(appended: await appendAlerts(id: sessionID, update))
            }
        } catch let error as SessionError {
            return OwnerAnswer(error: error)
        } catch {
            return OwnerAnswer(error: .conflict("\(error)"))
        }
    }

    /// Continues a session another daemon ran and let go of (it died or shut down): from its
    /// log, as ``ResumePoint`` describes.
    func resume(_ record: SessionRecord) async {
        guard live[record.id] == nil else { return }
        do {
            guard let inventory = settings.environments[record.environment] else {
                throw SessionError.unknownEnvironment(record.environment, known: settings.environments.keys.sorted())
            }
            let point = ResumePoint(events: try await store.events(sessionID: record.id, after: 0))
            let requested = try await store.audit(sessionID: record.id).first { $0.action == .requested }
            let requester = Identity(
                name: record.requester, role: .requester, uid: requested?.uid,
                transport: requested?.transport.flatMap(Identity.Transport.init(rawValue:)) ?? .tcp,
                byToken: !(record.requester.hasPrefix("user:") || record.requester.hasPrefix("uid:") || record.requester == Identity.anonymousName)
            )
            let log = SessionLog(record: record, store: store, notifications: dependencies.notifications, findings: try await store.findings(sessionID: record.id))
            // The standing approvals it started with, as configured here (and only in its environment).
            let standing = settings.standingApprovals.filter { point.standingApprovals.contains($0.name) && $0.environment == record.environment }
            let session = LiveSession(id: record.id, log: log, requester: requester, standing: standing)
            live[record.id] = session
            try await log.append(.notice(.init(message: "continued by another daemon (\(cluster?.owner ?? "this one")): the daemon running it stopped; finished domains are kept, unfinished ones run again")))
            var run = SessionRun(dependencies: dependencies, gate: self, session: session, inventory: inventory, sessionID: record.id)
            run.resume = point
            session.task = Task {
                await run.execute()
                self.finished(record.id)
            }
        } catch {
            live.removeValue(forKey: record.id)
            logger.error("cannot continue session \(record.id): \(error)", metadata: [LogKey.sessionID: "\(record.id)"])
            if let cluster { await cluster.release(record.id) }
        }
    }

    /// Stops running a session here without ending it: another daemon continues it.
    func handOver(_ id: String) async {
        guard let session = live.removeValue(forKey: id) else { return }
        await handOver(session)
    }

    /// `flushing`: this daemon is stopping and still owns the session, so what it emitted is
    /// stored first; a lost lease writes nothing more.
    func handOver(_ session: LiveSession, flushing: Bool = false) async {
        await session.log.handOver(flushing: flushing)
        session.cancelReason = "handed over to another daemon"
        await supervisor.cancel(sessionID: session.id, reason: "handed over to another daemon")
        if let pending = session.pendingApproval {
            session.pendingApproval = nil
            pending.deliver(.unanswered(pending.request, .denied, comment: "handed over"))
        }
    }
}
